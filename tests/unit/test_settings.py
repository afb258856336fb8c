from __future__ import annotations

import pytest

from reelforge.model.plans import Plan
from reelforge.platform.services import policy_for
from reelforge.settings import Settings


def test_defaults_put_the_database_in_the_data_dir(tmp_path: object) -> None:
    settings = Settings(data_dir=tmp_path)
    assert settings.db_url == f"sqlite:///{tmp_path}/reelforge.db"


def test_queue_knobs_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REELFORGE_QUEUE__CONCURRENCY_FREE", "3")
    monkeypatch.setenv("REELFORGE_QUEUE__AGEING_S", "30")
    policy = policy_for(Settings())
    assert policy.concurrency[Plan.FREE] == 3 and policy.concurrency[Plan.PRO] == 4
    assert policy.ageing_s == 30


def test_masked_settings_hide_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(
        database_url="postgresql+psycopg://app:hunter2@db/reelforge",
        admin_webhook_url="https://hooks.example/T0K3N",
    )
    shown = str(settings.masked())
    assert "hunter2" not in shown and "T0K3N" not in shown


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://hooks.example/x", "hooks.example"])
def test_the_admin_webhook_must_be_http(url: str) -> None:
    """urllib would open a `file:` URL: a typo must fail at start-up, not leak a file."""
    with pytest.raises(ValueError, match="must be an http:// or https:// URL"):
        Settings(admin_webhook_url=url)
