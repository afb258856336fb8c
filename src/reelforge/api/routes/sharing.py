"""Sharing: a project's members (the owner invites, changes roles, revokes), the invitee's
invitations, and public links that play a finished render without signing in."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Path, status

from reelforge.api import schemas
from reelforge.api.deps import CurrentUser, DbSession, Now, PlatformDep, limit_public
from reelforge.api.routes.renders import render_links
from reelforge.db.crud import product_events, projects, sharing
from reelforge.db.crud.product_events import Fact
from reelforge.db.models import ProjectMember, Role, ShareLink

router = APIRouter(tags=["sharing"])
PUBLIC_URL_TTL_S = 900
"""How long the signed file URLs a public link hands out stay valid: after a revoke, a
page already open plays on at most this long (signed-in downloads use the longer
`download_url_ttl_s`)."""


def member_out(member: ProjectMember) -> schemas.MemberOut:
    return schemas.MemberOut(
        id=member.id, user_id=member.user_id, email=member.user.email, name=member.user.name,
        role=member.role, status="accepted" if member.accepted_at else "invited",
        invited_at=member.invited_at,
    )  # fmt: skip


@router.get("/projects/{project_id}/members")
def list_members(
    project_id: uuid.UUID, user: CurrentUser, session: DbSession
) -> list[schemas.MemberOut]:
    """Who the project is shared with (invited or accepted); any member may look."""
    projects.accessible(session, user.id, project_id, need=Role.VIEWER)
    return [member_out(member) for member in sharing.members(session, project_id)]


@router.post("/projects/{project_id}/members", status_code=status.HTTP_201_CREATED)
def invite_member(
    project_id: uuid.UUID, body: schemas.InviteIn, user: CurrentUser, session: DbSession, at: Now
) -> schemas.MemberOut:
    """Invites a registered user by email; the project shows up for them once they accept."""
    project = projects.accessible(session, user.id, project_id, need=Role.OWNER).project
    member = sharing.invite(session, project, user, body.email, body.role, at)
    product_events.record(session, Fact.PROJECT_SHARED, user.id, subject_id=project.id)
    return member_out(member)


@router.patch("/projects/{project_id}/members/{member_id}")
def change_member_role(
    project_id: uuid.UUID, member_id: uuid.UUID, body: schemas.MemberPatch,
    user: CurrentUser, session: DbSession,
) -> schemas.MemberOut:  # fmt: skip
    projects.accessible(session, user.id, project_id, need=Role.OWNER)
    return member_out(sharing.change_role(session, project_id, member_id, body.role, user.id))


@router.delete("/projects/{project_id}/members/{member_id}", status_code=204)
def revoke_member(
    project_id: uuid.UUID, member_id: uuid.UUID, user: CurrentUser, session: DbSession
) -> None:
    """Effective at once: their next request gets a 404, and their open live streams get
    an `access_revoked` event and none of the project's events after it."""
    projects.accessible(session, user.id, project_id, need=Role.OWNER)
    sharing.revoke(session, project_id, member_id, user.id)


@router.get("/invitations")
def list_invitations(user: CurrentUser, session: DbSession) -> list[schemas.InvitationOut]:
    """Projects others invited me to, waiting for my answer."""
    return [
        schemas.InvitationOut(
            id=invite.id,
            project_id=invite.project_id,
            project_name=invite.project.name,
            invited_by=invite.project.owner.name or invite.project.owner.email,
            role=invite.role,
            invited_at=invite.invited_at,
        )
        for invite in sharing.invitations(session, user.id)
    ]


@router.post("/invitations/{invitation_id}/accept")
def accept_invitation(
    invitation_id: uuid.UUID, user: CurrentUser, session: DbSession, at: Now
) -> schemas.MemberOut:
    member = sharing.respond(session, user.id, invitation_id, accept=True, at=at)
    return member_out(member)


@router.post("/invitations/{invitation_id}/decline", status_code=204)
def decline_invitation(
    invitation_id: uuid.UUID, user: CurrentUser, session: DbSession, at: Now
) -> None:
    sharing.respond(session, user.id, invitation_id, accept=False, at=at)


# -- public links --------------------------------------------------------------------------


def link_out(link: ShareLink) -> schemas.LinkOut:
    return schemas.LinkOut.model_validate(link)


@router.get("/projects/{project_id}/links")
def list_links(
    project_id: uuid.UUID, user: CurrentUser, session: DbSession
) -> list[schemas.LinkOut]:
    projects.accessible(session, user.id, project_id, need=Role.OWNER)
    return [link_out(link) for link in sharing.links(session, project_id)]


@router.post("/projects/{project_id}/links", status_code=status.HTTP_201_CREATED)
def create_link(
    project_id: uuid.UUID, body: schemas.LinkIn, user: CurrentUser, session: DbSession, at: Now
) -> schemas.LinkCreated:
    """A read-only public link to one of the project's finished renders; the token is
    shown only in this answer."""
    project = projects.accessible(session, user.id, project_id, need=Role.OWNER).project
    expires_at = at + timedelta(seconds=body.expires_in_s) if body.expires_in_s else None
    created = sharing.create_link(session, project, body.render_id, user.id, expires_at)
    product_events.record(session, Fact.PROJECT_SHARED, user.id, subject_id=project.id)
    return schemas.LinkCreated(
        **link_out(created.link).model_dump(), token=created.token, url=f"/s/{created.token}"
    )


@router.delete("/projects/{project_id}/links/{link_id}", status_code=204)
def revoke_link(
    project_id: uuid.UUID, link_id: uuid.UUID, user: CurrentUser, session: DbSession, at: Now
) -> None:
    projects.accessible(session, user.id, project_id, need=Role.OWNER)
    sharing.revoke_link(session, project_id, link_id, user.id, at)


@router.get(
    "/public/{token}",
    dependencies=[Depends(limit_public)],
    responses={429: {"description": "Too many requests from this address"}},
)
def shared_render(
    token: Annotated[str, Path(max_length=100)], session: DbSession, platform: PlatformDep, at: Now
) -> schemas.SharedRenderOut:
    """No sign-in: what a public link plays. Unknown, revoked and expired links are all a
    404. The file URLs are signed for `PUBLIC_URL_TTL_S`, so a revoke ends playback soon."""
    job = sharing.shared_render(session, token, at)
    ttl_s = min(PUBLIC_URL_TTL_S, platform.settings.api.download_url_ttl_s)
    title = str((job.payload.get("storyboard") or {}).get("title") or "")
    return schemas.SharedRenderOut(
        title=title or "A reelforge video",
        duration_s=(job.result or {}).get("duration_s"),
        finished_at=job.finished_at,
        links=render_links(job.id, platform.url_signer, ttl_s),
    )
