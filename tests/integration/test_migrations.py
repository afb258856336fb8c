"""The Alembic migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, column, create_engine, table, text
from sqlalchemy.orm import Session

from reelforge.db.migrate import alembic_config, upgrade
from reelforge.db.models import Base, Project, User
from reelforge.db.session import make_engine
from reelforge.model.storyboard import Storyboard, VideoSettings
from tests.integration.conftest import PG_SERVER


def test_migrations_match_the_models(engine: Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


COLUMNS_0002 = (
    "id", "owner_id", "name", "prompt", "settings", "storyboard", "created_at", "updated_at",
)  # fmt: skip
PROJECTS_0002 = table(
    "projects", *(column(name, Project.__table__.c[name].type) for name in COLUMNS_0002)
)
"""The projects table as revision 0002 left it: later columns (0006's storyboard version)
are not there yet, so the model's table cannot insert into it."""


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'legacy.db'}"
        return
    name = f"reelforge_legacy_{uuid.uuid4().hex[:10]}"
    admin = create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield f"{PG_SERVER}/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


def test_strings_stored_before_the_bounds_are_clipped_so_projects_read_back(
    empty_url: str,
) -> None:
    upgrade(empty_url, "0002")
    huge = "x" * 20_000
    legacy_settings = {"voice": huge, "language": huge, "template_id": huge, "seed": 3}
    legacy_board = {
        "title": huge,
        "settings": legacy_settings,
        "scenes": [
            {"narration": "Kept as it was.", "headline": huge, "keywords": [huge] * 50,
             "visual": {"kind": "generated", "prompt": huge, "query": huge}},
        ],
    }  # fmt: skip
    engine = make_engine(empty_url)
    user_id, project_id = uuid.uuid4(), uuid.uuid4()
    with engine.begin() as conn:
        conn.execute(
            User.__table__.insert().values(
                id=user_id, email="old@example.org", password_hash="x", name="", plan="free",
                is_admin=False, created_at=datetime.now(UTC),
            )
        )  # fmt: skip
        conn.execute(
            PROJECTS_0002.insert().values(
                id=project_id, owner_id=user_id, name="Old", prompt="", settings=legacy_settings,
                storyboard=legacy_board, created_at=datetime.now(UTC),
                updated_at=datetime.now(UTC),
            )
        )  # fmt: skip
    upgrade(empty_url)
    with Session(engine) as session:
        project = session.get_one(Project, project_id)
        settings = VideoSettings.model_validate(project.settings)
        assert project.storyboard is not None
        board = Storyboard.model_validate(project.storyboard)
    engine.dispose()
    assert (len(settings.voice), len(settings.language), settings.seed) == (200, 35, 3)
    assert board.scenes[0].narration == "Kept as it was."
    assert len(board.scenes[0].keywords) == 20 and len(board.title) == 200


def test_templates_migrate_up_over_existing_projects_and_back_down(empty_url: str) -> None:
    upgrade(empty_url, "0003")
    engine = make_engine(empty_url)
    user_id, project_id = uuid.uuid4(), uuid.uuid4()

    def stored(value: uuid.UUID) -> str:  # raw SQL: the model's columns are newer than 0003
        return value.hex if empty_url.startswith("sqlite") else str(value)

    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO users (id, email, password_hash, name, plan, is_admin, created_at) "
                "VALUES (:id, 'old@example.org', 'x', '', 'free', false, :at)"
            ),
            {"id": stored(user_id), "at": datetime.now(UTC)},
        )
        conn.execute(
            text(
                "INSERT INTO projects (id, owner_id, name, prompt, settings, template_id,"
                " created_at, updated_at) VALUES (:id, :owner, 'Old', '', '{}', 'news', :at, :at)"
            ),
            {"id": stored(project_id), "owner": stored(user_id), "at": datetime.now(UTC)},
        )
    upgrade(empty_url)
    with Session(engine) as session:
        project = session.get_one(Project, project_id)
        assert (project.template_id, project.template_version) == ("news", None)
    engine.dispose()
    command.downgrade(alembic_config(empty_url), "0003")
    upgrade(empty_url)


def test_sharing_revision_keeps_projects_editable_and_downgrades(empty_url: str) -> None:
    """0006 on a database with projects: each starts at storyboard version 0, and the
    downgrade removes the sharing tables again."""
    from alembic import command
    from sqlalchemy import inspect

    from reelforge.db.migrate import alembic_config

    upgrade(empty_url, "0003")
    engine = make_engine(empty_url)
    user_id, project_id = uuid.uuid4(), uuid.uuid4()
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            User.__table__.insert().values(
                id=user_id, email="old@example.org", password_hash="x", name="", plan="free",
                is_admin=False, created_at=now,
            )
        )  # fmt: skip
        conn.execute(
            PROJECTS_0002.insert().values(
                id=project_id, owner_id=user_id, name="Old", prompt="p", settings={},
                storyboard=None, created_at=now, updated_at=now,
            )
        )  # fmt: skip
    upgrade(empty_url)
    with Session(engine) as session:
        assert session.get_one(Project, project_id).storyboard_version == 0
    command.downgrade(alembic_config(empty_url), "0003")
    tables = set(inspect(engine).get_table_names())
    assert not tables & {"project_members", "share_links", "project_activity", "comments"}
    assert "projects" in tables
    engine.dispose()
