"""Alembic environment: the URL comes from the caller (`reelforge db upgrade`), not a file."""

from __future__ import annotations

from alembic import context

from reelforge.db.models import Base
from reelforge.db.session import make_engine

config = context.config
url = config.get_main_option("sqlalchemy.url")
if not url:
    raise RuntimeError("no database URL given to the migrations")

engine = make_engine(url)
with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
