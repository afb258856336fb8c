"""Platform commands: `reelforge serve` and `reelforge user create|set-plan|make-admin`."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from reelforge.cli import context
from reelforge.cli.console import out
from reelforge.errors import NotFound
from reelforge.model.plans import Plan


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.add_typer(user_app, name="user")


user_app = typer.Typer(
    help="Accounts (for operators; people sign up in the app).", no_args_is_help=True
)


def serve(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
    workers: Annotated[
        int,
        typer.Option(
            min=0, help="Render workers in this process (0: run `reelforge worker` elsewhere)."
        ),
    ] = 1,
    migrate: Annotated[bool, typer.Option(help="Upgrade the database schema first.")] = True,
    processes: Annotated[
        int,
        typer.Option(
            min=1, help="API processes (one per core; each also runs --workers render workers)."
        ),
    ] = 1,
) -> None:
    """Serve the platform API (and, by default, render in the same process)."""
    import uvicorn

    from reelforge.api.app import SERVE_WORKERS_ENV
    from reelforge.db.migrate import upgrade
    from reelforge.platform.services import load_secret_key, prepare_data_dir
    from reelforge.web import app_to_serve

    platform = context.platform()
    prepare_data_dir(platform.settings)
    if migrate:
        upgrade(platform.settings.db_url)
    load_secret_key(platform.settings)  # made once here, before any API process reads it
    out.print(
        f"reelforge is serving at [bold]http://{host}:{port}[/] — open it in a browser "
        f"(API docs: http://{host}:{port}/api/docs) — Ctrl-C stops it",
        highlight=False,
    )
    if processes == 1:
        app = app_to_serve(platform, workers=workers)
        uvicorn.run(app, host=host, port=port, log_level="warning", proxy_headers=False)
        return
    if platform.settings.redis_url is None:
        out.print(
            "note: without REELFORGE_REDIS_URL each process counts rate limits on its own",
            highlight=False,
        )
    os.environ[SERVE_WORKERS_ENV] = str(workers)  # read by each process's app factory
    uvicorn.run(
        "reelforge.web:app_from_environment", factory=True, workers=processes, host=host,
        port=port, log_level="warning", proxy_headers=False,
    )  # fmt: skip


@user_app.command("create")
def create_user(
    email: str,
    password: Annotated[
        str,
        typer.Option(
            prompt=True, hide_input=True, confirmation_prompt=True, help="Asked if not given."
        ),
    ],
    name: Annotated[str, typer.Option(help="Display name.")] = "",
    plan: Annotated[Plan, typer.Option(help="Plan.")] = Plan.FREE,
    admin: Annotated[bool, typer.Option("--admin", help="Make an administrator.")] = False,
) -> None:
    """Create an account (the password must pass the same policy as sign-up)."""
    from reelforge.db.crud import audit, users
    from reelforge.security import passwords

    platform = context.platform()
    email = users.normalize_email(email)
    passwords.check_password_policy(password, email=email)
    with platform.writer_sessions.begin() as session:
        user = users.create(
            session,
            email=email,
            password_hash=passwords.hash_password(password),
            name=name,
            plan=plan,
            is_admin=admin,
        )
        audit.record(
            session, "admin.user.create", actor_id=None, target=email, detail={"via": "cli"}
        )
        user_id = user.id
    out.print(f"created {email} ({plan}{', admin' if admin else ''}): {user_id}", highlight=False)


def _update(email: str, *, plan: Plan | None = None, is_admin: bool | None = None) -> None:
    from reelforge.db.crud import audit, users

    platform = context.platform()
    with platform.writer_sessions.begin() as session:
        user = users.get_by_email(session, users.normalize_email(email))
        if user is None:
            raise NotFound(f"no account with email {email}", stage="input")
        if plan is not None:
            user.plan = plan
        if is_admin is not None:
            user.is_admin = is_admin
        detail = {"plan": plan, "is_admin": is_admin, "via": "cli"}
        audit.record(session, "admin.user.update", actor_id=None, target=user.email, detail=detail)
    out.print(f"updated {email}", highlight=False)


@user_app.command("set-plan")
def set_plan(email: str, plan: Plan) -> None:
    """Change an account's plan (free, basic, pro, enterprise)."""
    _update(email, plan=plan)


@user_app.command("make-admin")
def make_admin(
    email: str,
    revoke: Annotated[bool, typer.Option("--revoke", help="Remove admin rights.")] = False,
) -> None:
    """Give an account administrator rights (or take them away)."""
    _update(email, is_admin=not revoke)
