"""A user's rating of a finished render: one per user and render, changed in place.

Whoever may watch the render may rate it (its owner, members of its project): the caller
checked that with `renders.accessible`."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from reelforge.db.crud import product_events
from reelforge.db.crud.product_events import Fact
from reelforge.db.models import JobState, Rating, RenderJob, utcnow
from reelforge.errors import Conflict, NotFound


def of(session: Session, render_id: uuid.UUID, user_id: uuid.UUID) -> Rating:
    """Raises:
    NotFound: the user has not rated this render."""
    rating = session.scalar(
        select(Rating).where(Rating.render_id == render_id, Rating.user_id == user_id)
    )
    if rating is None:
        raise NotFound("you have not rated this render", stage="input")
    return rating


def put(
    session: Session, job: RenderJob, user_id: uuid.UUID, *, stars: int, comment: str
) -> Rating:
    """Rate the render or change the rating; each time is a `rating_left` fact.

    Raises:
        Conflict: the render has not succeeded (there is no video to judge).
    """
    if job.state != JobState.SUCCEEDED:
        raise Conflict(f"only a finished video can be rated (this render is {job.state})")
    try:
        rating = of(session, job.id, user_id)
        rating.stars, rating.comment, rating.updated_at = stars, comment, utcnow()
    except NotFound:
        rating = Rating(render_id=job.id, user_id=user_id, stars=stars, comment=comment)
        session.add(rating)
    session.flush()
    product_events.record(session, Fact.RATING_LEFT, user_id, subject_id=job.id, value=stars)
    return rating
