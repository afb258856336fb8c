"""The data folder and the SQLite database are private to the user running reelforge."""

from __future__ import annotations

import stat
from pathlib import Path

from sqlalchemy import text

from reelforge.platform.services import Platform, load_secret_key, prepare_data_dir
from reelforge.settings import Settings


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_new_data_folder_and_database_are_0700_and_0600(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", secret_key=None)
    platform = Platform(settings)
    with platform.engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
    load_secret_key(settings)
    assert mode(tmp_path / "data") == 0o700
    assert mode(tmp_path / "data" / "reelforge.db") == 0o600
    assert mode(tmp_path / "data" / "secret.key") == 0o600
    platform.engine.dispose()


def test_an_existing_world_readable_folder_and_database_are_narrowed(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    data.chmod(0o755)
    (data / "reelforge.db").touch()
    (data / "reelforge.db").chmod(0o644)
    prepare_data_dir(Settings(data_dir=data))
    assert (mode(data), mode(data / "reelforge.db")) == (0o700, 0o600)


def test_a_database_url_elsewhere_is_private_too(tmp_path: Path) -> None:
    database = tmp_path / "elsewhere" / "app.db"
    prepare_data_dir(Settings(data_dir=tmp_path / "data", database_url=f"sqlite:///{database}"))
    assert mode(database) == 0o600
