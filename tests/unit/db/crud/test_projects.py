"""The storyboard ETag: what `If-Match` values name which version."""

from __future__ import annotations

import pytest

from reelforge.db.crud.projects import storyboard_etag, version_in
from reelforge.db.models import Project


def test_the_etag_names_the_version_and_reads_back() -> None:
    etag = storyboard_etag(Project(storyboard_version=7))
    assert etag == '"sb-7"'
    assert version_in(etag) == {7}


@pytest.mark.parametrize(
    ("header", "versions"),
    [
        ('"sb-3", "sb-4"', {3, 4}),
        ('W/"sb-3"', {3}),
        ('"sb-²"', set()),  # a digit to str.isdigit, not to int()
        ('"0123abc"', set()),  # someone else's tag (the old content hash)
        ("", set()),
    ],
)
def test_if_match_lists_weak_tags_and_ignores_foreign_ones(header: str, versions: set[int]) -> None:
    assert version_in(header) == versions
