"""Receiving a multipart upload as it streams: the file part goes to disk chunk by chunk
(memory stays flat whatever its size), and the upload stops as soon as it is too big.

Starlette's `request.form()` would spool the whole body to an anonymous temporary file
before the route sees a byte of it, so a 2 GB upload over the plan's size would be read
in full before being refused, then copied again to a named file for FFmpeg.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from reelforge.errors import FileTooLarge, InvalidInput, UnsupportedMedia

MAX_FIELD_BYTES = 4096
"""`name` and `tags` are short; anything longer is not a form we sent."""
FILE_FIELD = "file"


@dataclass(slots=True)
class Upload:
    path: Path
    """Where the file part was written (empty if there was none)."""
    filename: str = ""
    size_bytes: int = 0
    fields: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class _Part:
    headers: dict[bytes, bytes] = field(default_factory=dict)
    name: str = ""
    field_bytes: bytearray = field(default_factory=bytearray)


class _Receiver:
    def __init__(self, upload: Upload, sink: BinaryIO, max_bytes: int, plan: str) -> None:
        self.upload, self.sink, self.max_bytes, self.plan = upload, sink, max_bytes, plan
        self.part = _Part()
        self.header_field = bytearray()
        self.header_value = bytearray()
        self.files = 0

    def on_part_begin(self) -> None:
        self.part = _Part()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        self.part.headers[bytes(self.header_field).lower()] = bytes(self.header_value)
        self.header_field.clear()
        self.header_value.clear()

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self.part.headers.get(b"content-disposition", b""))
        self.part.name = options.get(b"name", b"").decode("utf-8", "replace")
        if self.part.name == FILE_FIELD:
            self.files += 1
            if self.files > 1:
                raise InvalidInput("send one file per upload", field=FILE_FIELD)
            filename = options.get(b"filename", b"").decode("utf-8", "replace")
            self.upload.filename = filename.replace("\\", "/").rsplit("/", 1)[-1]

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.part.name != FILE_FIELD:
            self.part.field_bytes += data[start:end]
            if len(self.part.field_bytes) > MAX_FIELD_BYTES:
                raise InvalidInput(f"at most {MAX_FIELD_BYTES} bytes", field=self.part.name)
            return
        self.upload.size_bytes += end - start
        if self.upload.size_bytes > self.max_bytes:
            raise too_large(self.max_bytes, self.plan)
        self.sink.write(data[start:end])

    def on_part_end(self) -> None:
        if self.part.name and self.part.name != FILE_FIELD:
            self.upload.fields[self.part.name] = self.part.field_bytes.decode("utf-8", "replace")


def too_large(max_bytes: int, plan: str) -> FileTooLarge:
    return FileTooLarge(f"the {plan} plan takes files up to {max_bytes / 1e6:g} MB", stage="input")


async def receive(request: Request, path: Path, *, max_bytes: int, plan: str) -> Upload:
    """Stream the request's multipart body: the `file` part to `path`, other parts (short
    text fields) into `Upload.fields`.

    Raises:
        UnsupportedMedia: the body is not multipart/form-data.
        InvalidInput: malformed, or no `file` part.
        FileTooLarge: the file is over `max_bytes` (reading stops there).
    """
    kind, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise UnsupportedMedia(
            "send the file as multipart/form-data, in a field named `file`", stage="input"
        )
    upload = Upload(path)
    with path.open("wb") as sink:
        receiver = _Receiver(upload, sink, max_bytes, plan)
        callbacks = {
            name: getattr(receiver, name)
            for name in ("on_part_begin", "on_header_field", "on_header_value", "on_header_end",
                         "on_headers_finished", "on_part_data", "on_part_end")
        }  # fmt: skip
        parser = MultipartParser(boundary, callbacks)  # type: ignore[arg-type]
        try:
            async for chunk in request.stream():
                parser.write(chunk)
            parser.finalize()
        except MultipartParseError as exc:
            raise InvalidInput(f"the multipart body is malformed: {exc}", stage="input") from exc
    if receiver.files == 0:
        raise InvalidInput("the upload has no `file` field", field=FILE_FIELD)
    return upload
