"""The targets and the "## Queue" section of bench/RESULTS.md (and bench/results/queue.json)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench.queue_fairness import FAIRNESS_WORKERS, JOBS_PER_USER, SLEEP_S, Fairness
from bench.queue_load import (
    LATENCY_JOBS,
    LATENCY_PAUSE_S,
    PROCRASTINATE_WORKER_COUNTS,
    RUN_CAP_S,
    TARGET_WORKERS,
    Enqueue,
    Latency,
    Throughput,
)
from bench.queue_systems import USERS, log
from bench.report import RESULTS_MD, mark, markdown_table, publish

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_JSON = BENCH_DIR / "results" / "queue.json"
SECTION = "## Queue"
THROUGHPUT_TARGET = 1_000.0
LATENCY_P99_TARGET_MS = 50.0
JAIN_TARGET = 0.95
STAMP_SKEW_S = 0.005
"""Row timestamps are taken when the claim and finish transactions begin, not when they commit:
a next start stamped up to one short transaction before the previous finish is the clock."""


@dataclass(frozen=True, slots=True)
class SystemResults:
    enqueue: Enqueue
    throughput: list[Throughput]
    latency: Latency

    def at(self, workers: int) -> Throughput | None:
        """The median run with `workers` (several at `TARGET_WORKERS`: the machine is shared)."""
        runs = sorted((t for t in self.throughput if t.workers == workers), key=_rate)
        return runs[(len(runs) - 1) // 2] if runs else None

    def runs_at(self, workers: int) -> int:
        return sum(t.workers == workers for t in self.throughput)


def _rate(run: Throughput) -> float:
    return run.jobs_per_s


def _workers(run: Throughput) -> int:
    return run.workers


@dataclass(frozen=True, slots=True)
class Target:
    name: str
    measured: str
    ok: bool
    noisy: bool = False

    @property
    def mark(self) -> str:
        return mark(self.ok, self.noisy)


@dataclass(frozen=True, slots=True)
class Results:
    machine: dict[str, str]
    reelforge: SystemResults
    procrastinate: SystemResults
    fairness: Fairness
    targets: list[Target] = field(default_factory=list)


NOISY_SHARE = 0.15


def evaluate(ours: SystemResults, theirs: SystemResults, fair: Fairness) -> list[Target]:
    """The targets, each with the figure it was judged on."""
    mine, yard = ours.at(TARGET_WORKERS), theirs.at(TARGET_WORKERS)
    assert mine is not None and yard is not None
    noisy = max(mine.other_cpu_share, yard.other_cpu_share) > NOISY_SHARE or mine.partial
    ratio = mine.jobs_per_s / yard.jobs_per_s
    p99 = ours.latency.p99_ms
    wait = f"max {fair.max_free_wait_s:.1f} s (bound {fair.max_free_wait_bound_s:.0f} s)"
    limits = (
        f"{fair.snapshot_violations} of {fair.snapshots} database samples; "
        f"{fair.limit_violations} row overlaps (longest {fair.max_overrun_ms:.1f} ms)"
    )
    limits_ok = fair.snapshot_violations == 0 and fair.max_overrun_ms <= 1000 * STAMP_SKEW_S
    return [
        Target(
            f"≥ {THROUGHPUT_TARGET:,.0f} no-op jobs/s with {TARGET_WORKERS} workers",
            f"{mine.jobs_per_s:,.0f} jobs/s",
            mine.jobs_per_s >= THROUGHPUT_TARGET,
            noisy,
        ),
        Target(
            f"≥ procrastinate's throughput with {TARGET_WORKERS} workers",
            f"{ratio:.2f}x (procrastinate {yard.jobs_per_s:,.0f} jobs/s)",
            ratio >= 1.0,
            noisy,
        ),
        Target(
            f"enqueue→start p99 < {LATENCY_P99_TARGET_MS:.0f} ms",
            f"{p99:.1f} ms",
            p99 < LATENCY_P99_TARGET_MS,
        ),
        Target("free-job wait ≤ 2 × ageing_s + jobs ahead", wait, fair.waits_within_bound),
        Target(
            f"Jain's index ≥ {JAIN_TARGET} among the free users",
            f"{fair.jain_free:.3f}",
            fair.jain_free >= JAIN_TARGET,
        ),
        Target("zero per-user limit violations", limits, limits_ok),
    ]


# -- report ---------------------------------------------------------------------------------


def _throughput_row(run: Throughput) -> list[str]:
    cut = f" of {run.queued:,} (cut at {RUN_CAP_S:.0f} s)" if run.partial else ""
    return [
        run.system,
        str(run.workers),
        f"{run.jobs:,}{cut}",
        f"{run.wall_s:.1f} s",
        f"**{run.jobs_per_s:,.0f}**",
        f"{run.worker_cpu_ms_per_job:.2f} ms",
        f"{run.postgres_cpu_ms_per_job:.2f} ms",
        f"{run.other_cpu_share:.0%}",
        str(run.ran_twice),
    ]


def _jobs_per_s(results: SystemResults, workers: int) -> float:
    run = results.at(workers)
    return run.jobs_per_s if run else float("nan")


def _ratio_rows(results: Results) -> list[list[str]]:
    figures: list[tuple[str, Callable[[SystemResults], float]]] = [
        ("enqueue one job per transaction (jobs/s)", lambda r: r.enqueue.one_by_one_per_s),
        ("enqueue all in one transaction (jobs/s)", lambda r: r.enqueue.batched_per_s),
        *(
            (
                f"no-op throughput, {n} worker{'s' * (n > 1)} (jobs/s)"
                + (f", median of {runs}" if (runs := results.reelforge.runs_at(n)) > 1 else ""),
                lambda r, n=n: _jobs_per_s(r, n),
            )
            for n in PROCRASTINATE_WORKER_COUNTS
        ),
        ("enqueue→start p50 (ms)", lambda r: r.latency.p50_ms),
        ("enqueue→start p99 (ms)", lambda r: r.latency.p99_ms),
    ]
    rows = []
    for what, figure in figures:
        ours, theirs = figure(results.reelforge), figure(results.procrastinate)
        rows.append([what, f"{ours:,.1f}", f"{theirs:,.1f}", f"{ours / theirs:.2f}x"])
    return rows


def _fairness_lines(fair: Fairness) -> list[str]:
    header = ["tenth of the run", *(f"{u} (limit {fair.limits[u]})" for u in fair.users)]
    rows = [[f"{i + 1}", *(str(s[u]) for u in fair.users)] for i, s in enumerate(fair.slices)]
    service = ", ".join(f"{u} {s:.2f} s" for u, s in fair.free_service_s.items())
    return [
        f"Jobs started per user in each tenth of the {fair.wall_s:.1f} s run "
        f"({JOBS_PER_USER} `sleep` jobs of {SLEEP_S} s each, queued user after user in this "
        f"order, {FAIRNESS_WORKERS} worker processes, default policy):",
        "",
        *markdown_table(header, rows),
        "",
        f"- Service while all free users were backlogged (first {fair.backlog_window_s:.1f} s): "
        f"{service}; Jain's index {fair.jain_free:.3f} (over the whole run: "
        f"{fair.jain_free_total:.3f}).",
        f"- Longest wait of a free job: {fair.max_free_wait_s:.1f} s; its bound "
        f"(2 × ageing_s + its own earlier jobs + others' earlier jobs ÷ {FAIRNESS_WORKERS} "
        f"workers): {fair.max_free_wait_bound_s:.0f} s; every free job within its bound: "
        f"{'yes' if fair.waits_within_bound else 'no'}.",
        f"- Per-user limit: {fair.snapshot_violations} of {fair.snapshots} samples of the "
        f"database's running jobs per user (every 10 ms) showed a user over their limit; the "
        f"rows' started_at/finished_at intervals overlap beyond a limit {fair.limit_violations} "
        f"time(s), longest {fair.max_overrun_ms:.1f} ms. Jobs run twice: {fair.ran_twice}.",
    ]


MEANING = (
    "Single runs, except with {workers} workers: {repeats} runs of each queue, taking turns "
    "(the machine is shared: both see the same noise), of which the targets and the ratio table "
    "use the median. Both queues get the same server, the same spawned worker processes (set up "
    "and connected before the clock starts) and the same jobs; every time comes from the job "
    "rows (reelforge: `enqueued_at`/`started_at`/`finished_at`, stamped by the Python clock "
    "when the enqueue, claim and finish transactions begin; procrastinate: its events' "
    "`now()`). The jobs are enqueued once through each public API (the enqueue rates above) "
    "and copied back into the emptied tables before each throughput run, then ANALYZEd. "
    "*Other CPU* is the share of both CPUs used by processes other than the workers and their "
    "PostgreSQL backends; above 15 % a figure is marked *(noisy)*: rerun on a quiet machine. "
    f"A throughput run still draining after {RUN_CAP_S:.0f} s is cut (the whole benchmark "
    "stays within about 6 minutes) and counts the jobs done by then, with more jobs still "
    "queued than a full run would average. A row overlap beyond a user's limit shorter than "
    f"{STAMP_SKEW_S * 1000:.0f} ms is the stamping above, not two running jobs: the 10 ms "
    "samples of the database's running count per user are the direct check."
)
THROUGHPUT_HEADER = [
    "queue", "workers", "jobs", "wall", "jobs/s", "CPU/job workers", "CPU/job PostgreSQL",
    "other CPU", "ran twice",
]  # fmt: skip


def render_section(results: Results) -> str:
    m = results.machine
    runs = [
        *sorted(results.reelforge.throughput, key=_workers),
        *sorted(results.procrastinate.throughput, key=_workers),
    ]
    targets = [[t.name, t.measured, t.mark] for t in results.targets]
    jobs = results.reelforge.enqueue.batched_jobs
    lines = [
        SECTION,
        "",
        f"Run {m['date']} on {m['nproc']} CPUs ({m['cpu']}), {m['memory']} RAM; Python "
        f"{m['python']}, PostgreSQL {m['postgresql']} (same server, a fresh database per queue), "
        f"procrastinate {m['procrastinate']}, psycopg {m['psycopg']}, SQLAlchemy "
        f"{m['sqlalchemy']}; load average {m['load_before']} before the run. Reproduce with "
        "`.venv/bin/python -m bench.queue`.",
        "",
        "### Throughput",
        "",
        f"{jobs:,} no-op jobs queued before the workers start (reelforge: spread over {USERS} "
        "`enterprise` users, limit 8 each, so per-user limits never throttle), drained by N "
        "worker processes, one job at a time each; jobs/s = jobs ÷ (last finish − start). CPU "
        "per job: the worker processes, and their PostgreSQL backends.",
        "",
        *markdown_table(THROUGHPUT_HEADER, [_throughput_row(run) for run in runs]),
        "",
        "### reelforge ÷ procrastinate",
        "",
        *markdown_table(["figure", "reelforge", "procrastinate", "ratio"], _ratio_rows(results)),
        "",
        f"Latency: {LATENCY_JOBS} jobs enqueued one at a time {LATENCY_PAUSE_S * 1000:.0f} ms "
        "apart, one idle worker woken by LISTEN/NOTIFY (reelforge's poll fallback left at 1 s, "
        "procrastinate's at its 5 s default); latency = start − enqueue from the rows.",
        "",
        "### Fairness under contention (reelforge)",
        "",
        *_fairness_lines(results.fairness),
        "",
        "### Targets",
        "",
        *markdown_table(["target", "measured", "result"], targets),
        "",
        "### What the numbers mean",
        "",
        MEANING.format(workers=TARGET_WORKERS, repeats=results.reelforge.runs_at(TARGET_WORKERS)),
    ]
    return "\n".join(lines) + "\n"


def write_results(results: Results) -> None:
    payload = {
        **asdict(results),
        "targets": [{**asdict(t), "mark": t.mark} for t in results.targets],
    }
    publish(RESULTS_JSON, SECTION, payload, render_section(results))
    log(f"wrote {RESULTS_JSON.name} and the {SECTION!r} section of {RESULTS_MD.name}")
