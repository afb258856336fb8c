"""The layout a newcomer relies on: nothing loose at the top of the package, a command line
that answers `--help` without loading the heavy libraries, and the public library names."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import reelforge

PACKAGE = Path(reelforge.__file__).parent
TOP_LEVEL_MODULES = {"__init__.py", "__main__.py", "settings.py", "errors.py", "logs.py"}
HEAVY = (
    "fastapi", "sqlalchemy", "boto3", "numpy", "av", "piper", "pydantic_settings", "cv2", "mcp",
)  # fmt: skip


def test_only_the_five_shared_modules_are_loose_at_the_top() -> None:
    loose = {path.name for path in PACKAGE.glob("*.py")}
    assert loose == TOP_LEVEL_MODULES


@pytest.mark.parametrize(
    "args", [["--help"], ["render", "--help"], ["user", "--help"], ["mcp", "--help"]]
)
def test_help_loads_no_heavy_library(args: list[str]) -> None:
    probe = (
        "import json, sys\n"
        f"sys.argv = ['reelforge', *{args!r}]\n"
        "from reelforge.cli import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert "Usage" in done.stdout
    assert json.loads(done.stdout.splitlines()[-1]) == []


def test_public_library_names_load_on_first_use() -> None:
    from reelforge import Providers, RenderResult, Scene, Storyboard, VideoSettings, render

    board = Storyboard(scenes=(Scene(narration="One line."),), settings=VideoSettings())
    assert board.scenes[0].narration == "One line."
    assert callable(render)
    assert {RenderResult.__name__, Providers.__name__} == {"RenderResult", "Providers"}
    assert set(reelforge.__all__) <= set(dir(reelforge))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        reelforge.nope  # noqa: B018
