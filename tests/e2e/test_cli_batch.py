"""`reelforge batch` as a user runs it: bad rows stop it before any render, one line each;
good rows become one probed MP4 each and a results CSV."""

from __future__ import annotations

import csv
from pathlib import Path

import av
import pytest

from .test_cli import reelforge


def test_bad_rows_exit_2_with_one_line_each_and_nothing_rendered(tmp_path: Path) -> None:
    rows = tmp_path / "rows.csv"
    rows.write_text(
        "title,prompt,aspect\n"
        "Tides,Tides rise twice a day.,9:16\n"
        "Empty,,9:16\n"
        'Bees,"Bees dance\nto point at flowers.",1:1\n'
        "Wide,The moon pulls the oceans.,diagonal\n",
        encoding="utf-8",
    )
    done = reelforge("batch", str(rows), "--template", "listicle", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert errors == [
        "error: line 3: give either a prompt or a script",
        "error: line 6: aspect: Input should be '16:9', '9:16' or '1:1'",
    ]  # the quoted prompt spans lines 4-5: the next row is on line 6
    assert not (tmp_path / "out").exists()


def test_an_unknown_template_is_refused_at_once(tmp_path: Path) -> None:
    rows = tmp_path / "rows.json"
    rows.write_text('[{"prompt": "Tides rise."}]', encoding="utf-8")
    done = reelforge("batch", str(rows), "--template", "nope", cwd=tmp_path)
    assert done.returncode == 2 and "template 'nope'" in done.stderr


@pytest.mark.slow
def test_each_row_renders_to_its_own_mp4_with_a_results_csv(tmp_path: Path) -> None:
    rows = tmp_path / "rows.json"
    rows.write_text(
        '[{"title": "Tides", "prompt": "Tides rise twice a day.", "duration": 10},'
        ' {"title": "Bees", "script": "Bees dance.\\n\\nThey point at flowers.", "aspect": "1:1"}]',
        encoding="utf-8",
    )
    done = reelforge("batch", str(rows), "--output-dir", "videos", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    results = list(csv.DictReader((tmp_path / "videos" / "results.csv").open(encoding="utf-8")))
    assert [(r["line"], r["status"], r["file"]) for r in results] == [
        ("1", "succeeded", "001-tides.mp4"), ("2", "succeeded", "002-bees.mp4"),
    ]  # fmt: skip
    with av.open(str(tmp_path / "videos" / "002-bees.mp4")) as container:
        video = container.streams.video[0]
        assert video.codec_context.width == video.codec_context.height  # 1:1
