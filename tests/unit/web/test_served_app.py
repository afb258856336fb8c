"""The app `reelforge serve` runs keeps what it built at start-up out of the cycle
collector's full passes, which stopped every thread for a fraction of a second."""

from __future__ import annotations

import gc
from pathlib import Path

from reelforge.platform.services import Platform
from reelforge.settings import Settings
from reelforge.web import app_to_serve


def test_the_served_app_leaves_its_start_up_objects_out_of_full_collections(
    tmp_path: Path,
) -> None:
    platform = Platform(Settings(data_dir=tmp_path / "data", secret_key="test-secret-" + "k" * 40))
    gc.unfreeze()
    try:
        app = app_to_serve(platform, workers=0)
        assert gc.get_freeze_count() > 0
        assert app.url_path_for("list_projects") == "/api/v1/projects"  # the whole app
    finally:
        gc.unfreeze()
        platform.engine.dispose()
