"""All configuration, from `REELFORGE_*` environment variables (nested groups with `__`).

Read once by the faces (CLI, later the API and workers) and passed down as
plain values: the engine and providers never import this module.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import make_url


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "reelforge"


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "reelforge"


class ProviderSettings(BaseModel):
    voices_dir: Path | None = None
    """Extra Piper voices (`NAME.onnx` + `NAME.onnx.json`) beside the bundled `joe`."""
    llm_base_url: str | None = None
    llm_api_key: SecretStr | None = None
    llm_model: str | None = None


class QueueSettings(BaseModel):
    """Scheduling knobs (docs/queue.md): ageing period and concurrent renders per plan."""

    ageing_s: float = Field(default=60.0, gt=0)
    concurrency_free: int = Field(default=1, ge=1)
    concurrency_basic: int = Field(default=2, ge=1)
    concurrency_pro: int = Field(default=4, ge=1)
    concurrency_enterprise: int = Field(default=8, ge=1)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="REELFORGE_", env_nested_delimiter="__", extra="ignore"
    )

    cache_dir: Path = _default_cache_dir()
    """Content-addressed artifacts (stills, voice clips, segments): safe to delete."""
    data_dir: Path = _default_data_dir()
    """Finished renders (and the SQLite database, on the embedded default)."""
    database_url: str | None = None
    """SQLAlchemy URL; default `sqlite:///<data_dir>/reelforge.db`. For scale-out use
    `postgresql+psycopg://user:pass@host/db`."""
    log_level: str = "WARNING"
    admin_webhook_url: SecretStr | None = None
    """POSTed a JSON alert on every system error (a render failing on our side)."""
    providers: ProviderSettings = ProviderSettings()
    queue: QueueSettings = QueueSettings()

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'reelforge.db'}"

    def masked(self) -> dict[str, Any]:
        """Settings as a dict safe to log: secrets and URL passwords shown as `**********`."""
        shown = self.model_dump(mode="json")
        if self.database_url:
            shown["database_url"] = make_url(self.database_url).render_as_string()
        return shown


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
