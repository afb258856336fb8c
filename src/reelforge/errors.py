"""Every error reelforge raises on purpose.

    ReelforgeError                 base; `stage` names where it happened
    ├── InvalidInput               bad prompt, settings, storyboard or file (never retried)
    ├── NotFound                   a named thing does not exist
    ├── ProviderError              a provider (voice, images, LLM...) failed (retryable)
    ├── RenderError                composition failed
    │   └── FFmpegError            ffmpeg exited non-zero: command, code, stderr tail
    ├── JobError                   the queue could not run a job
    ├── StorageError               the cache or blob store could not read/write
    ├── Unauthorized               missing, expired or revoked credentials
    ├── Forbidden                  signed in, but not allowed (e.g. not an admin)
    ├── Conflict                   the request clashes with the current state
    ├── LimitExceeded              a plan limit (duration, resolution, minutes) is reached
    └── RateLimited                too many requests; `retry_after_s` says when to retry

`retryable` tells the job queue whether another attempt may succeed.
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


class NotFound(ReelforgeError):
    pass


class ProviderError(ReelforgeError):
    retryable = True


class RenderError(ReelforgeError):
    retryable = True


class FFmpegError(RenderError):
    def __init__(
        self, cmd: Sequence[str], returncode: int, stderr_tail: str, *, stage: str | None = None
    ) -> None:
        last_line = stderr_tail.strip().splitlines()[-1] if stderr_tail.strip() else ""
        super().__init__(f"ffmpeg exited with {returncode}: {last_line}", stage=stage)
        self.cmd = list(cmd)
        self.returncode = returncode
        self.stderr_tail = stderr_tail


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


class LimitExceeded(ReelforgeError):
    pass


class RateLimited(ReelforgeError):
    def __init__(self, message: str, *, retry_after_s: int, stage: str | None = None) -> None:
        super().__init__(message, stage=stage)
        self.retry_after_s = retry_after_s
