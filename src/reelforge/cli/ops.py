"""Operations commands: `reelforge db upgrade`, `reelforge worker`, `reelforge queue stats`,
`reelforge backup`, `reelforge restore` and `reelforge report`."""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import signal
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from reelforge.cli import context
from reelforge.cli.console import bad_input, fail, out

db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
queue_app = typer.Typer(help="The render queue.", no_args_is_help=True)
cache_app = typer.Typer(
    help="The artifact cache, render work folders and deleted renders' files.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
    app.add_typer(queue_app, name="queue")
    app.add_typer(cache_app, name="cache")
    app.command()(worker)
    app.command()(backup)
    app.command()(restore)
    app.command()(report)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the database schema to the latest version (safe to repeat)."""
    from reelforge.db.migrate import upgrade
    from reelforge.platform.services import prepare_data_dir

    settings = context.settings()
    prepare_data_dir(settings)
    upgrade(settings.db_url)
    out.print(f"database is up to date: {settings.masked().get('database_url') or settings.db_url}")


@cache_app.command("prune")
def cache_prune(
    max_size_gib: Annotated[
        float | None, typer.Option(min=0, help="Keep at most this much (default: settings).")
    ] = None,
    max_age_days: Annotated[
        float | None, typer.Option(min=0, help="Remove what was unused this long.")
    ] = None,
) -> None:
    """Cut the cache back (least recently used first), remove abandoned work folders, old
    webhook deliveries and the files of deleted renders and projects whose grace has passed."""
    max_bytes = int(max_size_gib * 2**30) if max_size_gib is not None else None
    pruned = context.platform().prune(max_bytes, max_age_days)
    done, deleted = pruned.cache, pruned.deleted
    out.print(
        f"cache: removed {done.entries} artifacts ({done.freed_bytes / 2**20:.1f} MiB), "
        f"{done.kept_bytes / 2**20:.1f} MiB kept; abandoned work folders removed: "
        f"{pruned.work_folders}; old webhook deliveries removed: {pruned.webhook_deliveries}; "
        f"deleted renders' files removed: {deleted.files} (from {deleted.folders} renders)"
        + (f", {deleted.failed} left for the next prune (storage failed)" if deleted.failed else "")
    )


def backup(
    path: Annotated[Path, typer.Argument(help="The tar file to write (e.g. reelforge.tar).")],
) -> None:
    """Back up the database and every stored file (renders, uploads) into one tar file."""
    from reelforge.platform.backup import backup as make_backup

    done = make_backup(context.platform(), path)
    out.print(
        f"backed up the {done.database} database (revision {done.revision}) and "
        f"{done.blobs} files ({done.blob_bytes / 2**20:.1f} MiB) to {done.path}\n"
        "The secret key is not in it: keep REELFORGE_SECRET_KEY (or <data_dir>/secret.key) apart."
    )


def restore(
    path: Annotated[Path, typer.Argument(help="A tar file written by `reelforge backup`.")],
    yes: Annotated[
        bool, typer.Option("--yes", help="Replace the configured database's content.")
    ] = False,
) -> None:
    """Restore a backup: the database's content is replaced, the files are put back."""
    from reelforge.platform.backup import restore as load_backup

    if not path.is_file():
        bad_input(f"no backup at {path}")
    if not yes:
        bad_input("restoring replaces the configured database's content: pass --yes to go on")
    done = load_backup(context.platform(), path)
    out.print(f"restored the {done.database} database and {done.blobs} files from {done.path}")


def _yield_cpu(nice: int) -> None:
    """Run this worker and every ffmpeg it starts at a lower CPU priority than the API.

    With the kernel's autogroup scheduling (on by default in most distributions) a nice
    value only ranks a process against its own session, so a worker that leads a session of
    its own (a service manager, a container, `make cluster`) got as much CPU as an API
    replica however nice it was: there the session's autogroup is lowered as well. A worker
    started inside someone else's session (a shell) leaves that session's priority alone."""
    os.nice(nice)
    autogroup = Path("/proc/self/autogroup")
    if nice and os.getsid(0) == os.getpid() and autogroup.is_file():
        with contextlib.suppress(OSError):  # a read-only /proc: the nice value is all we have
            autogroup.write_text(str(nice))


def _work(stale_after_s: float, metrics_port: int = 0) -> None:
    """One worker process: run jobs until SIGTERM/SIGINT, then stop gracefully."""
    from reelforge.jobs.metrics import DiskCollector, JobMetrics
    from reelforge.jobs.worker import Worker

    platform = context.platform()
    _yield_cpu(platform.settings.workers.nice)
    pruner = platform.prune_loop()  # prunes now, then every `prune_interval_minutes`
    pruner.start()
    metrics = None
    if metrics_port:
        from prometheus_client import REGISTRY, start_http_server

        metrics = JobMetrics()
        REGISTRY.register(DiskCollector(platform.work_dirs()))
        start_http_server(metrics_port, addr="127.0.0.1")
    worker = Worker(
        platform.jobs, platform.job_kinds(),
        timings=platform.worker_timings(stale_after_s=stale_after_s), metrics=metrics,
    )  # fmt: skip

    def _stop(signum: int, frame: FrameType | None) -> None:
        worker.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    sender = platform.webhook_loop()  # users' webhooks go out from the processes that render
    sender.start()
    try:
        worker.run()
    finally:
        sender.stop(platform.settings.webhooks.timeout_s * 2)
        pruner.stop(platform.settings.workers.shutdown_timeout_s)


def worker(
    concurrency: Annotated[
        int, typer.Option(min=1, help="Worker processes (renders use CPU).")
    ] = 1,
    stale_after: Annotated[
        float, typer.Option(min=2.0, help="Seconds without a heartbeat before a job is requeued.")
    ] = 15.0,
    metrics_port: Annotated[
        int,
        typer.Option(
            min=0,
            max=65535,
            help="Serve Prometheus metrics (wait/run histograms) on 127.0.0.1 from this port; "
            "process i of --concurrency uses port + i. 0: off.",
        ),
    ] = 0,
) -> None:
    """Run render workers against the configured database until stopped (SIGTERM is graceful)."""
    if concurrency == 1:
        _work(stale_after, metrics_port)
        return
    context = multiprocessing.get_context("spawn")
    processes = [
        context.Process(target=_work, args=(stale_after, metrics_port + i if metrics_port else 0))
        for i in range(concurrency)
    ]
    for process in processes:
        process.start()

    def _forward(signum: int, frame: FrameType | None) -> None:
        for process in processes:
            if process.pid is not None:
                process.terminate()  # SIGTERM: each worker stops gracefully

    signal.signal(signal.SIGTERM, _forward)
    signal.signal(signal.SIGINT, _forward)
    for process in processes:
        process.join()


@queue_app.command("stats")
def stats(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """Depth per plan, running per worker, oldest wait, success rate, wait and run times."""
    from rich.table import Table

    from reelforge.jobs.stats import queue_stats

    health = queue_stats(context.platform().jobs)
    if as_json:
        out.print(json.dumps(health.as_dict(), indent=2), highlight=False)
        return
    table = Table("metric", "value")
    for plan, count in sorted(health.queued_by_plan.items()):
        table.add_row(f"queued ({plan})", str(count))
    for worker_id, count in sorted(health.running_by_worker.items()):
        table.add_row(f"running on {worker_id}", str(count))
    table.add_row("oldest wait", f"{health.oldest_wait_s:.1f} s")
    rate = health.success_rate
    table.add_row("success rate (24 h)", "—" if rate is None else f"{rate:.1%}")
    for label, value in (
        ("wait p50", health.wait_p50_s), ("wait p95", health.wait_p95_s),
        ("run p50", health.run_p50_s), ("run p95", health.run_p95_s),
    ):  # fmt: skip
        table.add_row(label, "—" if value is None else f"{value:.2f} s")
    out.print(table)


def report(
    since: Annotated[str, typer.Option(help="How far back: 30d, 12h, 2w.")] = "30d",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The brief's success metrics from the product event log, each beside its target
    (what admins see on the web app's Analytics page)."""
    from datetime import UTC, datetime

    from rich.table import Table

    from reelforge.db.crud import analytics
    from reelforge.errors import InvalidInput

    try:
        span = analytics.parse_since(since)
    except InvalidInput as exc:
        fail(exc)
    now = datetime.now(UTC)
    with context.platform().sessions() as session:
        result = analytics.compute(session, since=now - span, until=now)
    if as_json:
        out.print(json.dumps(result.as_dict(), indent=2), highlight=False)
        return
    verdicts = {True: "[green]met[/]", False: "[red]missed[/]", None: ""}
    table = Table(
        "metric", "value", "target", "", title=f"last {since} (until {now:%Y-%m-%d %H:%M} UTC)"
    )
    for metric in result.metrics:
        table.add_row(
            metric.title, analytics.shown(metric.value, metric.unit), metric.goal,
            verdicts[metric.met],
        )  # fmt: skip
    out.print(table)
    costs = ", ".join(f"{plan} ${cost:.4f}" for plan, cost in result.cost_by_plan.items())
    stars = ", ".join(f"{n}★ {count}" for n, count in result.rating_distribution.items())
    counts = ", ".join(f"{name.replace('_', ' ')} {n}" for name, n in result.counts.items())
    out.print(f"cost per video by plan: {costs or '–'}\nratings: {stars}\ncounts: {counts}")
