"""The only module that starts ffmpeg: run a command, or stream raw frames in or out of one.

stderr goes to a temporary file, not a pipe, so a chatty ffmpeg can never
dead-lock against a full pipe while we are writing frames to it.

Every ffmpeg runs under a watchdog: a timeout proportional to the media it handles
(`Watchdog.timeout_s`). An ffmpeg still running then is killed and `FFmpegError` (with
`timed_out`) names the stage: a hung ffmpeg can never hold its job forever.
"""

from __future__ import annotations

import contextlib
import fcntl
import re
import subprocess
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from types import TracebackType
from typing import IO

from reelforge.errors import FFmpegError, RenderError

STDERR_TAIL_CHARS = 2000
_LOUDNESS = re.compile(r"I:\s+(-?[\d.]+) LUFS")
_TRUE_PEAK = re.compile(r"Peak:\s+(-?[\d.]+|-inf) dBFS")
FRAME_PIPE_BYTES = 1 << 20
"""The pipe buffer asked for raw frames: Linux's default 64 KiB holds a twentieth of a 720p
frame, so the writer and ffmpeg took turns twenty times a frame. 1 MiB is what an
unprivileged process may ask for (/proc/sys/fs/pipe-max-size). Handing 871 720p frames to an
ffmpeg that drops them: 0.44 CPU-s and 0.68 s instead of 0.48 and 1.03 (bench/RESULTS.md)."""


@dataclass(frozen=True, slots=True)
class Watchdog:
    """How long one ffmpeg may run before it is killed: `base_s`, plus `per_media_s` for each
    second of media it reads or writes (generous: a 1080p segment encodes at about real time
    on two busy cores, bench/RESULTS.md)."""

    base_s: float = 120.0
    per_media_s: float = 20.0

    def timeout_s(self, media_s: float) -> float:
        return self.base_s + self.per_media_s * max(media_s, 0.0)


DEFAULT_WATCHDOG = Watchdog()


class _Timer:
    """Kills `proc` if it is still running after `timeout_s` (None: never)."""

    def __init__(self, proc: subprocess.Popen[bytes], timeout_s: float | None) -> None:
        self.fired = False
        self.timeout_s = timeout_s
        self._proc = proc
        self._timer = None if timeout_s is None else threading.Timer(timeout_s, self._expire)
        if self._timer is not None:
            self._timer.daemon = True
            self._timer.start()

    def _expire(self) -> None:
        if self._proc.poll() is None:
            self.fired = True
            self._proc.kill()

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()

    def error(self, argv: Sequence[str], code: int, tail: str, stage: str) -> FFmpegError:
        return FFmpegError(
            argv, code, tail, stage=stage, timeout_s=self.timeout_s if self.fired else None
        )


@lru_cache(maxsize=1)
def ffmpeg_exe() -> str:
    """The FFmpeg binary shipped in the imageio-ffmpeg wheel (never a system one)."""
    import imageio_ffmpeg

    return str(imageio_ffmpeg.get_ffmpeg_exe())


def _tail(handle: IO[bytes]) -> str:
    handle.seek(0)
    return handle.read().decode(errors="replace")[-STDERR_TAIL_CHARS:]


def run(
    argv: Sequence[str], *, stage: str, cwd: Path | None = None, timeout_s: float | None = None
) -> str:
    """Run ffmpeg to completion; return its stderr (ffmpeg logs results there).

    Raises:
        FFmpegError: it exited non-zero, or ran past `timeout_s` and was killed.
    """
    with tempfile.TemporaryFile() as err:
        try:
            code = subprocess.run(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
                cwd=cwd,
                timeout=timeout_s,
            ).returncode
        except subprocess.TimeoutExpired as exc:  # run() killed it
            tail = _tail(err)
            raise FFmpegError(argv, -9, tail, stage=stage, timeout_s=timeout_s) from exc
        except OSError as exc:
            raise RenderError(f"cannot start ffmpeg: {exc}", stage=stage) from exc
        err.seek(0)
        log = err.read().decode(errors="replace")
    if code != 0:
        raise FFmpegError(argv, code, log[-STDERR_TAIL_CHARS:], stage=stage)
    return log


def filters() -> set[str]:
    """Names of the filters this FFmpeg build has (for `reelforge doctor`)."""
    try:
        listing = subprocess.run(
            [ffmpeg_exe(), "-hide_banner", "-filters"], capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        raise RenderError(f"cannot list ffmpeg filters: {exc}", stage="doctor") from exc
    return {line.split()[1] for line in listing.splitlines() if len(line.split()) > 2}


def _widen(pipe: IO[bytes]) -> None:
    """Ask for a `FRAME_PIPE_BYTES` pipe buffer; keep the default where the system refuses
    (a user over its pipe-user-pages limit, or no such call outside Linux)."""
    resize = getattr(fcntl, "F_SETPIPE_SZ", None)
    if resize is not None:
        with contextlib.suppress(OSError):
            fcntl.fcntl(pipe.fileno(), resize, FRAME_PIPE_BYTES)


class FrameWriter:
    """An ffmpeg process reading raw frames on stdin (use as a context manager)."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        stage: str,
        cwd: Path | None = None,
        timeout_s: float | None = None,
    ) -> None:
        self._argv = list(argv)
        self._stage = stage
        self._err = tempfile.TemporaryFile()
        self._proc = subprocess.Popen(
            self._argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self._err, cwd=cwd
        )
        assert self._proc.stdin is not None
        _widen(self._proc.stdin)
        self._watchdog = _Timer(self._proc, timeout_s)
        self.log = ""
        """ffmpeg's whole stderr, once it has finished (what its filters logged)."""

    def write(self, *planes: memoryview | bytes) -> None:
        assert self._proc.stdin is not None
        try:
            for plane in planes:
                self._proc.stdin.write(plane)
        except BrokenPipeError:
            self._finish()  # raises with ffmpeg's own reason

    def _finish(self) -> None:
        if self._proc.stdin and not self._proc.stdin.closed:
            with contextlib.suppress(BrokenPipeError):
                self._proc.stdin.close()
        code = self._proc.wait()
        self._watchdog.cancel()
        self._err.seek(0)
        self.log = self._err.read().decode(errors="replace")
        self._err.close()
        if code != 0:
            tail = self.log[-STDERR_TAIL_CHARS:]
            raise self._watchdog.error(self._argv, code, tail, self._stage)

    def __enter__(self) -> FrameWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is not None:
            self._watchdog.cancel()
            self._proc.kill()
            self._proc.wait()
            self._err.close()
            return
        self._finish()


class FrameReader:
    """An ffmpeg process writing fixed-size raw frames on stdout."""

    def __init__(
        self, argv: Sequence[str], frame_bytes: int, *, stage: str, timeout_s: float | None = None
    ) -> None:
        self._argv = list(argv)
        self._frame_bytes = frame_bytes
        self._stage = stage
        self._err = tempfile.TemporaryFile()
        self._proc = subprocess.Popen(
            self._argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._err
        )
        self._watchdog = _Timer(self._proc, timeout_s)

    def read(self) -> bytes | None:
        """The next frame, or None at the end of the stream."""
        assert self._proc.stdout is not None
        data = self._proc.stdout.read(self._frame_bytes)
        if len(data) == self._frame_bytes:
            return data
        code = self._proc.wait()
        self._watchdog.cancel()
        if code != 0:
            raise self._watchdog.error(self._argv, code, _tail(self._err), self._stage)
        return None

    def close(self) -> None:
        self._watchdog.cancel()
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()
        if self._proc.stdout:
            self._proc.stdout.close()
        self._err.close()


def measure_loudness(path: Path, *, timeout_s: float | None = None) -> tuple[float, float]:
    """(integrated LUFS, true peak dBFS) of a media file's audio, by ffmpeg's ebur128."""
    log = run(
        [
            ffmpeg_exe(),
            "-hide_banner",
            "-nostats",
            "-i",
            str(path),
            "-map",
            "0:a:0",
            "-af",
            "ebur128=peak=true",
            "-f",
            "null",
            "-",
        ],
        stage="probe",
        timeout_s=timeout_s,
    )
    summary = log[log.rfind("Summary:") :]
    peak = _TRUE_PEAK.search(summary)
    if not peak:
        raise RenderError(f"no true peak in the loudness summary of {path}", stage="probe")
    return integrated_loudness(log), float(peak.group(1))


def integrated_loudness(ebur128_log: str) -> float:
    """Integrated LUFS from the summary the ebur128 filter logs at the end of a run."""
    found = _LOUDNESS.search(ebur128_log[ebur128_log.rfind("Summary:") :])
    if not found:
        raise RenderError("ffmpeg printed no loudness summary", stage="compose")
    return float(found.group(1))
