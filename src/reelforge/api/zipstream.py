"""A ZIP written as it is sent: members stored (MP4 does not compress), each read from the
blob store in chunks, so a batch of hundreds of videos never sits in memory or on disk.

`zipfile` writes to an unseekable stream with data descriptors (sizes after each member's
data), which every unzip tool reads; ZIP64 is forced per member for files over 4 GB."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime


class _Pipe(io.RawIOBase):
    """Collects what `zipfile` writes until the generator hands it on."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self._chunks.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        data, self._chunks = b"".join(self._chunks), []
        return data


Member = tuple[str, datetime, Callable[[], Iterable[bytes]]]
"""A file in the archive: its name, its time, and its content in chunks (opened when its
turn comes)."""


def stream_zip(members: Iterable[Member]) -> Iterator[bytes]:
    pipe = _Pipe()
    with zipfile.ZipFile(pipe, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, at, content in members:
            info = zipfile.ZipInfo(name, date_time=at.timetuple()[:6])
            with archive.open(info, "w", force_zip64=True) as member:
                for chunk in content():
                    member.write(chunk)
                    if data := pipe.take():
                        yield data
            yield pipe.take()
    yield pipe.take()
