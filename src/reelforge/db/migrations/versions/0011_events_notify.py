"""events_notify: on PostgreSQL, every transaction that appends events sends a NOTIFY on
`reelforge_events` (delivered when it commits), so API processes listen instead of polling

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 14:00:00

A trigger, not a `pg_notify` beside each writer: events are appended by the ORM (sharing),
by Core statements (the job manager) and inside data-modifying CTEs (the PostgreSQL claim
and finish), and a writer that forgot to notify would only show as streams lagging by the
fallback poll. One statement-level trigger covers them all, fires once per statement (not
per row), and stays silent for a statement that inserted nothing (a claim that found no
job); PostgreSQL folds identical notifications of one transaction into one. The payload is
empty: who is woken is decided by `crud.events.users_with_events_after`, as before.
SQLite has no NOTIFY: nothing to do there (one process, it polls).
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    # The channel is `reelforge.db.crud.events.NOTIFY_CHANNEL` (spelled out: migrations
    # are frozen).
    op.execute(
        """
        CREATE FUNCTION reelforge_events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF EXISTS (SELECT 1 FROM appended) THEN
                PERFORM pg_notify('reelforge_events', '');
            END IF;
            RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER events_notify AFTER INSERT ON events
        REFERENCING NEW TABLE AS appended
        FOR EACH STATEMENT EXECUTE FUNCTION reelforge_events_notify()
        """
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER events_notify ON events")
    op.execute("DROP FUNCTION reelforge_events_notify()")
