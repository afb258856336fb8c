"""My profile, plan limits and usage; the secrets I store (my own provider API keys)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, status
from sqlalchemy.orm import Session

from reelforge.api import schemas
from reelforge.api.deps import ClientIp, CurrentUser, DbSession, Now, PlatformDep
from reelforge.db.crud import audit, quota, renders, secrets, users
from reelforge.db.models import User
from reelforge.model.plans import PLAN_LIMITS, Plan
from reelforge.platform.services import Platform

router = APIRouter(prefix="/users", tags=["users"])
SecretName = Annotated[str, Path(pattern=r"^[a-z0-9_]{1,60}$")]


def me_out(platform: Platform, session: Session, user: User, at: datetime) -> schemas.MeOut:
    usage = users.usage(session, user.id, at)
    cost = renders.cost_since(session, user.id, users.month_start(at))
    plan = Plan(user.plan)
    limits = PLAN_LIMITS[plan]
    return schemas.MeOut(
        **schemas.UserOut.model_validate(user).model_dump(),
        limits=schemas.LimitsOut(
            concurrent_renders=platform.jobs.policy.concurrency[plan],
            max_duration_s=limits.max_duration_s,
            max_resolution=limits.max_resolution,
            monthly_minutes=limits.monthly_minutes,
            max_waiting=limits.max_waiting,
            storage_bytes=limits.storage_bytes,
            max_upload_bytes=limits.max_upload_bytes,
            max_asset_duration_s=limits.max_asset_duration_s,
            max_batch_rows=limits.max_batch_rows,
        ),
        usage=schemas.UsageOut(
            minutes_this_month=round(usage.minutes_this_month, 2),
            running=usage.running,
            waiting=usage.waiting,
            cost_usd_this_month=round(cost, 4),
            storage_bytes=quota.used_bytes(session, user.id),
        ),
    )


@router.get("/me")
def read_me(user: CurrentUser, session: DbSession, platform: PlatformDep, at: Now) -> schemas.MeOut:
    return me_out(platform, session, user, at)


@router.patch("/me")
def update_me(
    body: schemas.UserPatch, user: CurrentUser, session: DbSession, platform: PlatformDep, at: Now
) -> schemas.MeOut:
    if body.name is not None:
        user.name = body.name.strip()
    return me_out(platform, session, user, at)


@router.get("/me/secrets")
def list_secrets(user: CurrentUser, session: DbSession) -> list[schemas.SecretOut]:
    """Names and dates only: a stored secret is never sent back."""
    return [schemas.SecretOut.model_validate(row) for row in secrets.names(session, user.id)]


@router.put("/me/secrets/{name}")
def put_secret(
    name: SecretName, body: schemas.SecretIn, user: CurrentUser, session: DbSession,
    platform: PlatformDep, ip: ClientIp,
) -> schemas.SecretOut:  # fmt: skip
    ciphertext = platform.secret_box.encrypt(body.value, context=secrets.context(user.id, name))
    audit.record(session, "secret.put", actor_id=user.id, target=name, ip=ip)
    return schemas.SecretOut.model_validate(secrets.put(session, user.id, name, ciphertext))


@router.delete("/me/secrets/{name}", status_code=status.HTTP_204_NO_CONTENT)
def delete_secret(name: SecretName, user: CurrentUser, session: DbSession, ip: ClientIp) -> None:
    secrets.delete(session, user.id, name)
    audit.record(session, "secret.delete", actor_id=user.id, target=name, ip=ip)
