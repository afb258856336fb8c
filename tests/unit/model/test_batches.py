"""Batch rows read the same way for the API and the CLI: lines, columns, overrides, scripts."""

from __future__ import annotations

import uuid

import pytest

from reelforge.errors import InvalidInput, NotFound
from reelforge.model.batches import csv_cell, parse_row, read_csv, read_json, video_name
from reelforge.model.templates import BUILTIN_TEMPLATES, Template


def builtin(name: str) -> Template:
    if name not in BUILTIN_TEMPLATES:
        raise NotFound("template not found")
    return BUILTIN_TEMPLATES[name]


def test_csv_lines_count_the_header_blank_rows_and_quoted_newlines() -> None:
    rows = read_csv('Prompt,Title\none,A\n\n"two\nlines",B\nthree,C\n')
    assert [(row.line, row.fields["title"]) for row in rows] == [(2, "A"), (4, "B"), (6, "C")]


def test_unknown_columns_and_no_text_column_are_refused_for_the_whole_file() -> None:
    with pytest.raises(InvalidInput, match="unknown column 'colour'"):
        read_csv("prompt,colour\nx,red\n")
    with pytest.raises(InvalidInput, match="prompt or a script column"):
        read_json([{"title": "x"}])


def test_a_row_with_more_values_than_columns_is_a_bad_row() -> None:
    [row] = read_csv("prompt,title\nx,y,z\n")
    with pytest.raises(InvalidInput, match="more values"):
        parse_row(row, None, builtin)


def test_the_rows_settings_win_over_its_template() -> None:
    [row] = read_json(
        [{"prompt": "Bees.", "template": "listicle", "aspect": "16:9", "duration": 20}]
    )
    request = parse_row(row, "explainer", builtin)
    assert request.settings.template_id == "listicle"
    assert request.settings.aspect.value == "16:9"  # listicle is 9:16
    assert request.settings.target_duration_s == 20
    assert request.settings.visual_style == BUILTIN_TEMPLATES["listicle"].style.visual_style


def test_a_script_is_one_scene_per_paragraph_with_its_visuals_in_order() -> None:
    image = uuid.uuid4()
    [row] = read_json([{"script": "One.\n\nTwo\nlines.", "visuals": str(image), "title": "T"}])
    request = parse_row(row, None, builtin)
    assert request.storyboard is not None and request.prompt is None
    assert [s.narration for s in request.storyboard.scenes] == ["One.", "Two lines."]
    assert request.storyboard.scenes[0].visual.asset_id == image
    assert request.text == "One.\n\nTwo lines."


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"prompt": "a", "script": "b"}, "either a prompt or a script"),
        ({"prompt": " "}, "either a prompt or a script"),
        ({"prompt": "a", "resolution": "4k"}, "resolution"),
        ({"prompt": "a", "template": "nope"}, "template 'nope'"),
        ({"prompt": "a", "visuals": str(uuid.uuid4())}, "give a script"),
        ({"script": "a", "visuals": "not-an-id"}, "not an asset id"),
        ({"script": "a", "visuals": f"{uuid.uuid4()} {uuid.uuid4()}"}, "2 assets for 1 scenes"),
        ({"prompt": "a", "music": "x"}, "music.asset_id"),
        ({"prompt": "a", "title": "t" * 201}, "title"),
    ],
)
def test_bad_rows_say_why(fields: dict[str, str], reason: str) -> None:
    [row] = read_json([fields])
    with pytest.raises(InvalidInput, match=reason):
        parse_row(row, None, builtin)


def test_video_names_sort_as_the_upload_and_are_safe() -> None:
    assert video_name(7, "Top 5: bees/wasps?") == "007-top-5--bees-wasps.mp4"
    assert video_name(12, "") == "012-video.mp4"


def test_a_file_that_is_not_csv_names_its_line() -> None:
    with pytest.raises(InvalidInput, match="line 2: not CSV"):
        read_csv('prompt\n"a"b\n')
    with pytest.raises(InvalidInput, match="no header row"):
        read_csv("")
    assert read_json([]) == []


def test_results_cells_never_run_as_spreadsheet_formulas() -> None:
    assert csv_cell('=HYPERLINK("x")') == '\'=HYPERLINK("x")'
    assert csv_cell("@sum") == "'@sum" and csv_cell("-1+2") == "'-1+2"
    assert csv_cell("Top 5 bees") == "Top 5 bees"
