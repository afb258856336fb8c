"""Every error reelforge raises on purpose.

    ReelforgeError                 base; `stage` names where it happened
    ├── InvalidInput               bad prompt, settings, storyboard or file (never retried)
    │   ├── UnsupportedMedia       an upload that is no image, clip or song we take
    │   └── InvalidRows            rows of a batch upload, each with its line and reason
    ├── NotFound                   a named thing does not exist
    ├── ProviderError              a provider (voice, images, LLM...) failed (retryable)
    ├── RenderError                composition failed on our side (not retried by the provider rule)
    │   └── FFmpegError            ffmpeg exited non-zero or hung: command, code, stderr tail
    ├── ConfigurationError         the server is misconfigured (e.g. a provider refused its key)
    ├── JobError                   the queue could not run a job
    ├── StorageError               the cache or blob store could not read/write
    ├── Unauthorized               missing, expired or revoked credentials
    ├── Forbidden                  signed in, but not allowed (e.g. not an admin)
    ├── Conflict                   the request clashes with the current state
    ├── LimitExceeded              a plan limit (duration, resolution, minutes) is reached
    │   ├── QuotaExceeded          the plan's storage quota is full
    │   └── FileTooLarge           one upload is over the plan's file size
    └── RateLimited                too many requests; `retry_after_s` says when to retry

`retryable` tells the job queue whether another attempt may succeed (`jobs/retry.py`:
retryable → the provider rule; `InvalidInput` → the user's; anything else → a system error,
which alerts the admins and is retried once).
"""

from __future__ import annotations

from collections.abc import Sequence


class ReelforgeError(Exception):
    retryable = False

    def __init__(self, message: str, *, stage: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.stage = stage

    def __str__(self) -> str:
        return f"[{self.stage}] {self.message}" if self.stage else self.message


class InvalidInput(ReelforgeError):
    """`field`, when set, names the request field at fault (`password`, `settings.voice`),
    so a form can show the message beside it."""

    def __init__(self, message: str, *, stage: str | None = None, field: str | None = None) -> None:
        super().__init__(message, stage=stage)
        self.field = field


class UnsupportedMedia(InvalidInput):
    """Refused by its content (not its name or declared type): an HTTP 415."""


class InvalidRows(InvalidInput):
    """Every bad row of a batch at once (`rows`: line, reason), so one upload shows them all
    rather than one per attempt."""

    def __init__(self, rows: Sequence[tuple[int, str]]) -> None:
        lines = ", ".join(str(line) for line, _ in rows[:10])
        more = f" and {len(rows) - 10} more" if len(rows) > 10 else ""
        super().__init__(f"{len(rows)} bad rows (lines {lines}{more})", stage="input")
        self.rows = list(rows)


class NotFound(ReelforgeError):
    pass


class ProviderError(ReelforgeError):
    retryable = True


class RenderError(ReelforgeError):
    """Our own render machinery failed (a crash, a bug, a full disk): a system error."""


class FFmpegError(RenderError):
    """ffmpeg exited non-zero (`returncode`), or was killed by the watchdog (`timed_out`)."""

    def __init__(
        self,
        cmd: Sequence[str],
        returncode: int,
        stderr_tail: str,
        *,
        stage: str | None = None,
        timeout_s: float | None = None,
    ) -> None:
        last_line = stderr_tail.strip().splitlines()[-1] if stderr_tail.strip() else ""
        if timeout_s is not None:
            message = f"ffmpeg made no end within its {timeout_s:.0f} s watchdog and was stopped"
        else:
            message = f"ffmpeg exited with {returncode}: {last_line}"
        super().__init__(message, stage=stage)
        self.cmd = list(cmd)
        self.returncode = returncode
        self.stderr_tail = stderr_tail
        self.timed_out = timeout_s is not None


class ConfigurationError(ReelforgeError):
    """The server's own configuration is wrong (a provider refused the server's API key):
    the user can do nothing about it, an operator must."""


class JobError(ReelforgeError):
    pass


class StorageError(ReelforgeError):
    retryable = True


class Unauthorized(ReelforgeError):
    pass


class Forbidden(ReelforgeError):
    pass


class Conflict(ReelforgeError):
    pass


class PreconditionFailed(ReelforgeError):
    """A write based on a stale copy (`If-Match` no longer matches)."""


class LimitExceeded(ReelforgeError):
    pass


class QuotaExceeded(LimitExceeded):
    pass


class FileTooLarge(LimitExceeded):
    pass


class RateLimited(ReelforgeError):
    def __init__(self, message: str, *, retry_after_s: int, stage: str | None = None) -> None:
        super().__init__(message, stage=stage)
        self.retry_after_s = retry_after_s
