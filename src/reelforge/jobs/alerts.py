"""Admin alerts for system errors, beyond the event every admin gets: an optional webhook.

The POST runs on a background thread with a short timeout: an unreachable alert
endpoint must never slow down or break the queue. The URL is a secret (Slack-style webhooks
carry their token in the path): a failure logs only its scheme and host.
"""

from __future__ import annotations

import json
import logging
import threading
import urllib.request
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit
from uuid import UUID

log = logging.getLogger(__name__)
WEBHOOK_TIMEOUT_S = 5.0


def masked_url(url: str) -> str:
    """`https://hooks.example/…`: enough to tell which endpoint, nothing that grants access
    (no user, password, path or query)."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}/…"


def _scrubbed(exc: OSError, url: str) -> str:
    """The error's text without the URL, should it quote it (urllib's errors sometimes do)."""
    return str(exc).replace(url, masked_url(url))


@dataclass(frozen=True, slots=True)
class WebhookAlert:
    url: str = field(repr=False)

    def __post_init__(self) -> None:
        if urlsplit(self.url).scheme not in ("http", "https"):  # urllib would open file: too
            raise ValueError(
                f"the admin webhook must be an http(s) URL, not {masked_url(self.url)}"
            )

    def __call__(self, job_id: UUID, message: str, stage: str | None) -> threading.Thread:
        payload = {"event": "system_error", "job_id": str(job_id), "message": message,
                   "stage": stage}  # fmt: skip
        thread = threading.Thread(target=self._post, args=(payload,), daemon=True)
        thread.start()
        return thread

    def _post(self, payload: dict[str, Any]) -> None:
        request = urllib.request.Request(
            self.url, data=json.dumps(payload).encode(), method="POST",
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        try:
            # Bandit B310 (file: URLs) does not apply: the scheme was checked to be http(s).
            with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_S):  # nosec B310
                pass
        except OSError as exc:
            log.warning(
                "admin webhook %s failed: %s", masked_url(self.url), _scrubbed(exc, self.url)
            )
