"""`make cluster`: the scaled-out topology on one machine, as it would run on many.

nginx (load balancer, WebSocket upgrade, no sticky sessions) → N API replicas
(`reelforge serve --workers 0`) → PostgreSQL (queue + data) and Redis (rate limits), with M
`reelforge worker` processes and a SeaweedFS S3 server for the files — all on 127.0.0.1.
PostgreSQL and Redis are the ones already running (URLs are options); everything else is
started here, writes only into the run folder and is recorded in a PID file, so
`make cluster-down` stops exactly what this started.

    python -m deploy.cluster up [--run-dir .cluster] [--port 8080] [--api 2] [--workers 3]
    python -m deploy.cluster down [--run-dir .cluster]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from tests.support.seaweed import (
    PORT_NAMES,
    S3Endpoint,
    free_ports,
    identities_config,
    wait_until_ready,
    weed_binary,
    weed_command,
)

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/reelforge_cluster"
DEFAULT_REDIS = "redis://127.0.0.1:6379/2"
BUCKET = "reelforge"
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 15.0
SITE_CONF = Path(__file__).parent / "nginx" / "reelforge.conf"
"""The balancer's site, shared with deploy/compose.yaml: here its upstream and port change."""
NGINX_CONF = """\
worker_processes 1;
pid {run}/nginx.pid;
error_log {run}/logs/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    log_format ids '$remote_addr [$time_local] "$request" $status $request_time id=$request_id';
    access_log {run}/logs/nginx-access.log ids;
    client_body_temp_path {run}/nginx/body;
    proxy_temp_path {run}/nginx/proxy;
    fastcgi_temp_path {run}/nginx/fastcgi;
    uwsgi_temp_path {run}/nginx/uwsgi;
    scgi_temp_path {run}/nginx/scgi;
{site}
}}
"""


def nginx_conf(run: Path, api_ports: list[int], port: int) -> str:
    """The site of deploy/nginx/reelforge.conf on loopback: our replicas, our port, and every
    file nginx writes inside the run folder (no root-owned state)."""
    servers = "\n".join(f"    server 127.0.0.1:{p} max_fails=1 fail_timeout=5s;" for p in api_ports)
    site = re.sub(r"^    server api:8000[^\n]*$", servers, SITE_CONF.read_text(), flags=re.M)
    site = site.replace("    listen 80;", f"    listen 127.0.0.1:{port};")
    return NGINX_CONF.format(run=run, site=site)


@dataclass(frozen=True, slots=True)
class Topology:
    """What `up` started, written to the run folder for `down` and for tests."""

    url: str
    api_urls: list[str]
    database_url: str
    redis_url: str
    s3_url: str
    env_file: str


def _nginx() -> str:
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")
    if not found:
        raise SystemExit("cluster: nginx is not installed (`make cluster` installs it with apt)")
    return found


def _pid_dir(run: Path) -> Path:
    return run / "pids"


def _spawn(run: Path, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Start one process in its own session (killed as a group), logging into the run folder."""
    with (run / "logs" / f"{name}.log").open("ab") as log:
        proc = subprocess.Popen(
            argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
            start_new_session=True,
        )  # fmt: skip
    (_pid_dir(run) / f"{name}.pid").write_text(str(proc.pid))
    return proc


def _wait_http(url: str, proc: subprocess.Popen[bytes] | None, what: str) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"cluster: {what} exited with {proc.returncode} while starting")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=2.0).status_code == 200:
                return
        time.sleep(0.2)
    raise SystemExit(f"cluster: {what} not ready at {url} after {READY_TIMEOUT_S:.0f} s")


def _ensure_database(url: str) -> None:
    """Create the cluster's database on the running server if it does not exist yet."""
    target = make_url(url)
    admin = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": target.database}
            )
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{target.database}"'))
    finally:
        admin.dispose()


def _start_s3(run: Path) -> S3Endpoint:
    config = run / "s3.json"
    access_key, secret_key = identities_config(config)
    ports = dict(zip(PORT_NAMES, free_ports(len(PORT_NAMES)), strict=True))
    sockets = run / "s3-sockets"
    sockets.mkdir(exist_ok=True)
    (run / "s3").mkdir(exist_ok=True)
    endpoint = S3Endpoint(
        url=f"http://127.0.0.1:{ports['s3']}", access_key_id=access_key,
        secret_access_key=secret_key, region="us-east-1", log_path=run / "logs" / "s3.log",
    )  # fmt: skip
    argv = weed_command(weed_binary(), run / "s3", ports, config, sockets)
    proc = _spawn(run, "s3", argv, {**os.environ, "TMPDIR": str(sockets)})
    wait_until_ready(proc, endpoint, READY_TIMEOUT_S)
    return endpoint


def _reelforge_env(database_url: str, redis_url: str, s3: S3Endpoint) -> dict[str, str]:
    """The settings every API replica and worker shares (one secret key: any replica can
    check a token another one issued)."""
    return {
        "REELFORGE_DATABASE_URL": database_url,
        "REELFORGE_REDIS_URL": redis_url,
        "REELFORGE_STORAGE": "s3",
        "REELFORGE_S3__BUCKET": BUCKET,
        "REELFORGE_S3__ENDPOINT_URL": s3.url,
        "REELFORGE_S3__ACCESS_KEY_ID": s3.access_key_id,
        "REELFORGE_S3__SECRET_ACCESS_KEY": s3.secret_access_key,
        "REELFORGE_SECRET_KEY": secrets.token_hex(32),
        "REELFORGE_AUTH__SECURE_COOKIES": "false",
        # nginx appends the peer it saw to X-Forwarded-For: that right-most hop is the client.
        "REELFORGE_API__TRUST_PROXY_HEADERS": "true",
        "REELFORGE_LOG_LEVEL": "INFO",
    }


def up(
    run: Path, *, port: int, api: int, workers: int, database_url: str, redis_url: str,
    extra_env: dict[str, str] | None = None,
) -> Topology:  # fmt: skip
    if (_pid_dir(run)).is_dir() and any(_pid_dir(run).iterdir()):
        raise SystemExit(f"cluster: already running from {run} (`make cluster-down` first)")
    for folder in ("logs", "pids", "nginx"):
        (run / folder).mkdir(parents=True, exist_ok=True)
    run.chmod(0o700)
    nginx = _nginx()
    _ensure_database(database_url)
    s3 = _start_s3(run)
    shared = _reelforge_env(database_url, redis_url, s3) | (extra_env or {})
    env_file = run / "reelforge.env"
    env_file.write_text("".join(f"{k}={v}\n" for k, v in shared.items()))
    env_file.chmod(0o600)
    reelforge = str(Path(sys.executable).with_name("reelforge"))
    base = {**os.environ, **shared}
    migrate = subprocess.run(
        [reelforge, "db", "upgrade"], env={**base, "REELFORGE_DATA_DIR": str(run / "migrate")},
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if migrate.returncode != 0:
        raise SystemExit(f"cluster: migration failed: {migrate.stderr.strip()}")
    api_ports = free_ports(api)
    replicas = []
    for index, api_port in enumerate(api_ports, start=1):
        env = {**base, "REELFORGE_DATA_DIR": str(run / f"api-{index}")}
        argv = [reelforge, "serve", "--host", "127.0.0.1", "--port", str(api_port),
                "--no-migrate", "--workers", "0"]  # fmt: skip
        replicas.append(_spawn(run, f"api-{index}", argv, env))
    for index in range(1, workers + 1):
        env = {
            **base, "REELFORGE_DATA_DIR": str(run / f"worker-{index}"),
            "REELFORGE_CACHE_DIR": str(run / f"worker-{index}" / "cache"),
        }  # fmt: skip
        _spawn(run, f"worker-{index}", [reelforge, "worker"], env)
    api_urls = [f"http://127.0.0.1:{p}" for p in api_ports]
    for url, proc in zip(api_urls, replicas, strict=True):
        _wait_http(f"{url}/api/v1/readyz", proc, f"API replica {url}")
    (run / "nginx" / "nginx.conf").write_text(nginx_conf(run, api_ports, port))
    started = subprocess.run(
        [nginx, "-p", str(run / "nginx"), "-c", str(run / "nginx" / "nginx.conf"),
         "-e", str(run / "logs" / "nginx-error.log")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if started.returncode != 0:
        raise SystemExit(f"cluster: nginx did not start: {started.stderr.strip()}")
    url = f"http://127.0.0.1:{port}"
    _wait_http(f"{url}/api/v1/readyz", None, "nginx")
    topology = Topology(url, api_urls, database_url, redis_url, s3.url, str(env_file))
    (run / "topology.json").write_text(json.dumps(asdict(topology), indent=2))
    return topology


def alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie nobody has reaped yet does not: it is already dead)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def down(run: Path) -> list[str]:
    """Stop every process a PID file in the run folder names (SIGTERM, then SIGKILL)."""
    files = sorted(_pid_dir(run).glob("*.pid")) if _pid_dir(run).is_dir() else []
    if (run / "nginx.pid").is_file():  # nginx writes (and on exit removes) its own
        files.append(run / "nginx.pid")
    named = [(f.stem, f, int(f.read_text().strip())) for f in files]
    stopped = []
    for name, _, pid in named:
        if alive(pid):
            with contextlib.suppress(ProcessLookupError):
                if name == "nginx":
                    os.kill(pid, signal.SIGQUIT)  # graceful: finish open requests
                else:
                    os.killpg(pid, signal.SIGTERM)
            stopped.append(name)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    for name, pid_file, pid in named:
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
                if name != "nginx":
                    os.killpg(pid, signal.SIGKILL)
        pid_file.unlink(missing_ok=True)
    return stopped


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m deploy.cluster", description=__doc__)
    parser.add_argument("command", choices=["up", "down"])
    parser.add_argument("--run-dir", type=Path, default=Path(".cluster"))
    parser.add_argument("--port", type=int, default=8080, help="the balancer's port")
    parser.add_argument("--api", type=int, default=2, help="API replicas")
    parser.add_argument("--workers", type=int, default=3, help="worker processes")
    parser.add_argument("--database-url", default=DEFAULT_PG)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS)
    parser.add_argument(
        "--env", action="append", default=[], metavar="REELFORGE_X=value",
        help="a setting for every process (repeatable), e.g. REELFORGE_API__RATE_AUTH=100/second",
    )  # fmt: skip
    args = parser.parse_args(argv)
    run = args.run_dir.resolve()
    if args.command == "down":
        stopped = down(run)
        print(f"cluster: stopped {', '.join(stopped) or 'nothing (no process was running)'}")
        return
    try:
        topology = up(
            run, port=args.port, api=args.api, workers=args.workers,
            database_url=args.database_url, redis_url=args.redis_url,
            extra_env=dict(item.split("=", 1) for item in args.env),
        )  # fmt: skip
    except BaseException:
        down(run)
        raise
    print(
        f"reelforge cluster is up at {topology.url} (nginx → {args.api} API replicas, "
        f"{args.workers} workers, SeaweedFS S3 at {topology.s3_url}, PostgreSQL and Redis as "
        f"configured).\n"
        f"  watch:  tail -f {run}/logs/*.log\n"
        f"  queue:  env $(cat {topology.env_file} | xargs) .venv/bin/reelforge queue stats\n"
        f"  stop:   make cluster-down"
    )


if __name__ == "__main__":
    main()
