"""All configuration, from `REELFORGE_*` environment variables (nested groups with `__`).

Read once by the faces (CLI, later the API and workers) and passed down as
plain values: the engine and providers never import this module.
"""

from __future__ import annotations

import ipaddress
import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import make_url

MIN_SECRET_KEY_BYTES = 32


def _default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "reelforge"


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "reelforge"


DEFAULT_PRICES: dict[str, dict[str, float]] = {
    "openai-chat": {"input_tokens": 0.15, "output_tokens": 0.60},
    "openai-images": {"images": 0.04},
    "openai-tts": {"characters": 15.0},
    "elevenlabs": {"characters": 180.0},
    "pexels": {},
    "pixabay": {},
}
"""USD: per 1 000 000 tokens or characters, per image or request (`Prices` in
providers/usage.py). Override with `REELFORGE_PROVIDERS__PRICES` (JSON)."""


class ProviderSettings(BaseModel):
    """Remote AI providers (docs/providers.md). Everything is off until configured:
    the offline defaults need no key and no network."""

    voices_dir: Path | None = None
    """Extra Piper voices (`NAME.onnx` + `NAME.onnx.json`) beside the bundled `joe`."""
    llm_base_url: str | None = None
    """An OpenAI-compatible Chat Completions server: OpenAI, Ollama, vLLM, LocalAI,
    llama.cpp server (e.g. `http://127.0.0.1:11434/v1`)."""
    llm_api_key: SecretStr | None = None
    llm_model: str | None = None
    llm_model_path: Path | None = None
    """A local GGUF model run in-process by llama-cpp-python (`reelforge[local-llm]`)."""
    openai_base_url: str = "https://api.openai.com/v1"
    """For the OpenAI Images and speech APIs (or a compatible server)."""
    openai_api_key: SecretStr | None = None
    image_model: str = "gpt-image-1"
    tts_model: str = "gpt-4o-mini-tts"
    pexels_api_key: SecretStr | None = None
    pexels_base_url: str = "https://api.pexels.com"
    pixabay_api_key: SecretStr | None = None
    pixabay_base_url: str = "https://pixabay.com/api"
    elevenlabs_api_key: SecretStr | None = None
    elevenlabs_base_url: str = "https://api.elevenlabs.io"
    visual_chain: list[str] = [
        "pexels-video",
        "pixabay-video",
        "pexels",
        "pixabay",
        "openai-images",
    ]
    """Sources tried per scene, in order, among those with a key; the procedural card is
    always the last resort."""
    timeout_s: float = Field(default=60.0, gt=0)
    max_concurrency: int = Field(default=4, ge=1)
    """Calls in flight per provider."""
    prices: dict[str, dict[str, float]] = DEFAULT_PRICES


class QueueSettings(BaseModel):
    """Scheduling knobs (docs/queue.md): ageing period and concurrent renders per plan."""

    ageing_s: float = Field(default=60.0, gt=0)
    concurrency_free: int = Field(default=1, ge=1)
    concurrency_basic: int = Field(default=2, ge=1)
    concurrency_pro: int = Field(default=4, ge=1)
    concurrency_enterprise: int = Field(default=8, ge=1)


class RenderSettings(BaseModel):
    """The render engine's watchdog (docs/engine.md): each ffmpeg may run
    `ffmpeg_timeout_base_s + ffmpeg_timeout_per_media_s × seconds of media` before it is
    killed and its stage fails (a system error: admins alerted, retried once)."""

    ffmpeg_timeout_base_s: float = Field(default=120.0, gt=0)
    ffmpeg_timeout_per_media_s: float = Field(default=20.0, ge=0)


class RetentionSettings(BaseModel):
    """How long what can be rebuilt is kept (`reelforge cache prune`; docs/operations.md)."""

    cache_max_bytes: int = Field(default=20 * 2**30, ge=0)
    """The artifact cache (stills, voice clips, scene segments) is cut back to this size,
    least recently used first."""
    cache_max_age_days: float = Field(default=30.0, ge=0)
    """Cached artifacts unused this long are removed whatever the size."""
    abandoned_work_hours: float = Field(default=24.0, gt=0)
    """A render's work folder this old was left by a killed worker: removed."""
    deleted_files_hours: float = Field(default=0.0, ge=0)
    """The files of a deleted render or project (videos, thumbnails, subtitles, manifests)
    stay in the blob store this long, then the prune removes them (0: right after the
    deletion commits). The render is gone for its users, and from their quota, at once."""
    prune_interval_minutes: float = Field(default=60.0, gt=0)
    """Each process that runs renders prunes when it starts and then this often."""
    service_facts_days: float = Field(default=180.0, gt=0)
    """The API's probes and sampled response times (the analytics' uptime and response
    time) older than this are removed as new ones are written; people's facts stay."""
    webhook_deliveries_days: float = Field(default=30.0, gt=0)
    """Webhook deliveries (and their attempts in the delivery log) finished and untouched this
    long are removed when the platform prunes; deliveries still being retried stay."""


class WorkerSettings(BaseModel):
    """Render workers (docs/queue.md): graceful stop and the bounded shutdown of `serve`."""

    grace_s: float = Field(default=30.0, ge=0)
    """On stop, a running render gets this long to finish before it is handed back."""
    shutdown_timeout_s: float = Field(default=40.0, gt=0)
    """The longest `reelforge serve` waits for its in-process workers at shutdown; a render
    still running then is abandoned (the reaper requeues its job)."""
    nice: int = Field(default=10, ge=0, le=19)
    """CPU niceness of a `reelforge worker` process and its ffmpeg children: renders are batch
    work, so on a host shared with API replicas they yield the CPU to requests (0: as is)."""


class WebhookSettings(BaseModel):
    """Users' signed webhooks (docs/api.md, "Webhooks"): who may be called, how retries go."""

    allow_private: bool = False
    """Allow endpoints on loopback, link-local and private addresses (SSRF protection off):
    only for a deployment whose private network holds nothing to protect, and for tests."""
    base_delay_s: float = Field(default=5.0, gt=0)
    """The first retry's delay; later ones grow from it (×6, ×24, ×120, ×720...)."""
    retry_window_s: float = Field(default=24 * 3600.0, gt=0)
    """No retry is scheduled later than this after a delivery's first attempt."""
    timeout_s: float = Field(default=10.0, gt=0, le=30)
    """Connect and read timeout of one attempt."""
    poll_s: float = Field(default=1.0, gt=0)
    """How often the sender looks for new events and due retries."""


class AuthSettings(BaseModel):
    """Sessions: short JWT access tokens, rotating refresh tokens (docs/api.md)."""

    access_ttl_s: int = Field(default=900, ge=60, le=3600)
    idle_timeout_s: int = Field(default=3 * 24 * 3600, ge=60)
    """A session not refreshed for this long ends."""
    absolute_timeout_s: int = Field(default=30 * 24 * 3600, ge=60)
    """A session ends this long after login, however active."""
    issuer: str = "reelforge"
    audience: str = "reelforge-api"
    secure_cookies: bool = True
    """`Secure` on the refresh cookie (browsers accept it on http://localhost too)."""


class ApiSettings(BaseModel):
    """The HTTP face: CORS, size and rate limits (`limits` syntax, e.g. `10/minute`)."""

    cors_origins: list[str] = []
    """Origins allowed to call the API from a browser, e.g. `["https://app.example"]`."""
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    rate_auth: str = "10/minute"
    """Per client IP, on register, login and refresh."""
    rate_submit: str = "30/minute"
    """Per user, on render submissions."""
    rate_api: str = "600/minute"
    """Per user or IP, on everything else."""
    download_url_ttl_s: int = Field(default=3600, ge=60, le=7 * 24 * 3600)
    """How long the signed download links in a render's status stay valid."""
    trust_proxy_headers: bool = False
    """Take the client IP from `X-Forwarded-For` (only behind your own load balancer)."""
    trusted_proxies: list[str] = []
    """Addresses or networks of your own proxies (e.g. `["10.0.0.0/8"]`): the client is the
    right-most `X-Forwarded-For` hop that is not one of them. Empty: the direct peer is
    the only proxy, so the right-most entry is the client."""
    rate_login_account: str = "5/minute;20/hour;100/day"
    """Per account on sign-in, whatever the client IP: guesses back off over longer
    windows. A successful sign-in clears it."""
    metrics_token: SecretStr | None = None
    """`GET /metrics` needs `Authorization: Bearer <this>` (or an administrator's
    credentials); unset, only administrators may read it."""
    ws_ticket_ttl_s: int = Field(default=30, ge=5, le=60)
    """Lifetime of the one-use WebSocket tickets from `POST /api/v1/ws-ticket`."""

    @field_validator("cors_origins")
    @classmethod
    def _no_wildcard_origin(cls, value: list[str]) -> list[str]:
        # Credentials (the refresh cookie) with any origin would let every site act as
        # the signed-in user; browsers refuse `*` with credentials anyway.
        if "*" in value:
            raise ValueError(
                "REELFORGE_API__CORS_ORIGINS must list origins (e.g. "
                '\'["https://app.example"]\'), not "*": the API sends credentials'
            )
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(
                    f"REELFORGE_API__TRUSTED_PROXIES: {entry!r} is not an IP address or network"
                ) from None
        return value


class S3Settings(BaseModel):
    bucket: str | None = None
    endpoint_url: str | None = None
    """For S3-compatible servers (SeaweedFS, MinIO); empty for AWS."""
    region: str = "us-east-1"
    access_key_id: SecretStr | None = None
    secret_access_key: SecretStr | None = None
    prefix: str = ""
    url_ttl_s: int = Field(default=900, ge=10, le=7 * 24 * 3600)
    """How long a signed download URL stays valid."""


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
    render: RenderSettings = RenderSettings()
    workers: WorkerSettings = WorkerSettings()
    retention: RetentionSettings = RetentionSettings()
    secret_key: SecretStr | None = None
    """Signs tokens and keys stored secrets. Unset: generated once into
    `<data_dir>/secret.key` (fine for one host; set it for several)."""
    redis_url: str | None = None
    """Shared rate-limit counters across API replicas; memory when unset."""
    storage: Literal["local", "s3"] = "local"
    """Where renders and uploads live: `<data_dir>/blobs` or the `s3` bucket."""
    s3: S3Settings = S3Settings()
    auth: AuthSettings = AuthSettings()
    webhooks: WebhookSettings = WebhookSettings()
    api: ApiSettings = ApiSettings()

    @field_validator("secret_key")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().encode()) < MIN_SECRET_KEY_BYTES:
            raise ValueError(
                f"REELFORGE_SECRET_KEY must be at least {MIN_SECRET_KEY_BYTES} bytes, e.g. "
                "the output of `python -c 'import secrets; print(secrets.token_hex(32))'`"
            )
        return value

    @field_validator("admin_webhook_url")
    @classmethod
    def _http_webhook(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(("http://", "https://")):
            raise ValueError("REELFORGE_ADMIN_WEBHOOK_URL must be an http:// or https:// URL")
        return value

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'reelforge.db'}"

    def masked(self) -> dict[str, Any]:
        """Settings as a dict safe to log: secrets and URL passwords shown as `**********`."""
        shown = self.model_dump(mode="json")
        for name in ("database_url", "redis_url"):
            if getattr(self, name):
                shown[name] = make_url(getattr(self, name)).render_as_string()
        return shown


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
