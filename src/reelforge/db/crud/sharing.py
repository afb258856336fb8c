"""Sharing a project: members (invited, then accepted or declined), their roles, and public
read-only links to finished renders.

A member's access is read from `project_members` on every request and every live-event
read, so removing the row takes effect at once, open WebSockets included."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from reelforge.db.crud import activity, users
from reelforge.db.models import (
    Event,
    JobState,
    Project,
    ProjectMember,
    RenderJob,
    Role,
    ShareLink,
    User,
)
from reelforge.errors import Conflict, InvalidInput, NotFound
from reelforge.security.tokens import new_opaque_token, token_digest

SHARE_TOKEN_PREFIX = "rfs_"
INVITED = "invited"
"""The live event an invitee's open streams get, so their dashboard shows it at once."""
ACCESS_REVOKED = "access_revoked"
"""The live event a removed member's open streams get, naming the project."""


def _member(session: Session, project_id: uuid.UUID, member_id: uuid.UUID) -> ProjectMember:
    member = session.get(ProjectMember, member_id)
    if member is None or member.project_id != project_id:
        raise NotFound("member not found", stage="input")
    return member


def invite(
    session: Session, project: Project, inviter: User, email: str, role: Role, at: datetime
) -> ProjectMember:
    """Invites a registered user; they see the project once they accept.

    Raises:
        InvalidInput: no account has this email, it is the owner's, or the role is `owner`.
        Conflict: already invited or a member (change the role instead).
    """
    if role == Role.OWNER:
        raise InvalidInput("a project has one owner: invite as viewer or editor", field="role")
    invitee = users.get_by_login(session, email)
    if invitee is None:
        raise InvalidInput("no account uses this email: they must register first", field="email")
    if invitee.id == project.owner_id:
        raise InvalidInput("this is the project's owner", field="email")
    existing = session.scalar(
        select(ProjectMember).where(
            ProjectMember.project_id == project.id, ProjectMember.user_id == invitee.id
        )
    )
    if existing is not None:
        raise Conflict(f"{invitee.email} is already invited to this project: change the role")
    member = ProjectMember(
        project_id=project.id, user_id=invitee.id, role=role, invited_by=inviter.id, invited_at=at
    )
    session.add(member)
    data = {"project_id": str(project.id), "project_name": project.name, "role": str(role)}
    session.add(Event(user_id=invitee.id, type=INVITED, data=data))
    session.flush()
    activity.record(session, project.id, inviter.id, "shared", email=invitee.email, role=role)
    return member


def members(session: Session, project_id: uuid.UUID) -> list[ProjectMember]:
    return list(
        session.scalars(
            select(ProjectMember)
            .where(ProjectMember.project_id == project_id)
            .order_by(ProjectMember.invited_at, ProjectMember.id)
        )
    )


def invitations(session: Session, user_id: uuid.UUID) -> list[ProjectMember]:
    """The user's invitations still waiting for an answer."""
    return list(
        session.scalars(
            select(ProjectMember)
            .where(ProjectMember.user_id == user_id, ProjectMember.accepted_at.is_(None))
            .order_by(ProjectMember.invited_at.desc())
        )
    )


def respond(
    session: Session, user_id: uuid.UUID, invitation_id: uuid.UUID, *, accept: bool, at: datetime
) -> ProjectMember:
    """Accepts (the project appears on the user's dashboard) or declines (the row goes).

    Raises:
        NotFound: no such invitation for this user, or it was already answered.
    """
    member = session.get(ProjectMember, invitation_id)
    if member is None or member.user_id != user_id or member.accepted_at is not None:
        raise NotFound("invitation not found", stage="input")
    if accept:
        member.accepted_at = at
    else:
        session.delete(member)
    session.flush()
    action = "joined" if accept else "declined"
    activity.record(session, member.project_id, user_id, action, role=member.role)
    return member


def change_role(
    session: Session, project_id: uuid.UUID, member_id: uuid.UUID, role: Role, by: uuid.UUID
) -> ProjectMember:
    if role == Role.OWNER:
        raise InvalidInput("a project has one owner: choose viewer or editor", field="role")
    member = _member(session, project_id, member_id)
    member.role = role
    session.flush()
    activity.record(session, project_id, by, "role_changed", email=member.user.email, role=role)
    return member


def revoke(session: Session, project_id: uuid.UUID, member_id: uuid.UUID, by: uuid.UUID) -> None:
    """Removes the member (or a pending invitation). Their next request gets a 404, and
    their open live streams stop getting the project's events and get `access_revoked`."""
    member = _member(session, project_id, member_id)
    email = member.user.email
    session.add(
        Event(user_id=member.user_id, type=ACCESS_REVOKED, data={"project_id": str(project_id)})
    )
    session.delete(member)
    session.flush()
    activity.record(session, project_id, by, "revoked", email=email)


# -- public links --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CreatedLink:
    link: ShareLink
    token: str
    """Shown once: only its digest is stored."""


def create_link(
    session: Session,
    project: Project,
    render_id: uuid.UUID,
    by: uuid.UUID,
    expires_at: datetime | None,
) -> CreatedLink:
    """A public link to one of the project's finished renders.

    Raises:
        NotFound: the render is not the project's. Conflict: it has not succeeded.
    """
    job = session.get(RenderJob, render_id)
    if job is None or job.project_id != project.id or job.kind != "render":
        raise NotFound("render not found in this project", stage="input")
    if job.state != JobState.SUCCEEDED:
        raise Conflict(f"only a finished render can be shared publicly (this one is {job.state})")
    opaque = new_opaque_token(SHARE_TOKEN_PREFIX)
    link = ShareLink(
        digest=opaque.digest, project_id=project.id, render_id=job.id, created_by=by,
        expires_at=expires_at,
    )  # fmt: skip
    session.add(link)
    session.flush()
    activity.record(session, project.id, by, "link_created", render_id=str(job.id))
    return CreatedLink(link, opaque.token)


def links(session: Session, project_id: uuid.UUID) -> list[ShareLink]:
    return list(
        session.scalars(
            select(ShareLink)
            .where(ShareLink.project_id == project_id)
            .order_by(ShareLink.created_at.desc(), ShareLink.id)
        )
    )


def revoke_link(
    session: Session, project_id: uuid.UUID, link_id: uuid.UUID, by: uuid.UUID, at: datetime
) -> None:
    link = session.get(ShareLink, link_id)
    if link is None or link.project_id != project_id:
        raise NotFound("link not found", stage="input")
    if link.revoked_at is None:
        link.revoked_at = at
        activity.record(session, project_id, by, "link_revoked", render_id=str(link.render_id))


def shared_render(session: Session, token: str, at: datetime) -> RenderJob:
    """The render a public link shows, while it is live.

    Raises:
        NotFound: unknown, revoked or expired (the same answer for each: nothing to probe).
    """
    link = session.scalar(select(ShareLink).where(ShareLink.digest == token_digest(token)))
    gone = link is None or link.revoked_at is not None
    if gone or (link.expires_at is not None and link.expires_at <= at):  # type: ignore[union-attr]
        raise NotFound("this link does not exist, was revoked or has expired", stage="input")
    job = session.get(RenderJob, link.render_id)  # type: ignore[union-attr]
    if job is None or job.state != JobState.SUCCEEDED:
        raise NotFound("this link does not exist, was revoked or has expired", stage="input")
    return job
