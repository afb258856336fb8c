"""Roles on a shared project: each includes the ones below it."""

from __future__ import annotations

import pytest

from reelforge.db.models import Role


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        (Role.VIEWER, {Role.VIEWER}),
        (Role.EDITOR, {Role.VIEWER, Role.EDITOR}),
        (Role.OWNER, {Role.VIEWER, Role.EDITOR, Role.OWNER}),
    ],
)
def test_a_role_includes_exactly_the_ones_below_it(role: Role, allowed: set[Role]) -> None:
    assert {need for need in Role if role.includes(need)} == allowed
