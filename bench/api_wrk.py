"""Fixed-rate reads for `bench.api` sent by `wrk` (Debian package `wrk`), not by Python.

httpx on asyncio spent about as much CPU per request as the server did, on the same 2
cores, so the client limited what the server was seen to serve. wrk sends from C: one
thread, `connections` keep-alive connections, and a Lua script that paces them.

wrk is closed-loop: a connection asks `delay()` before each request. The script hands
out a global schedule instead, request i due at start + i/rate: a free connection takes
the next due time and waits for it (or sends at once when it is already past, as when
every connection was busy). Each request carries its due time in `X-Request-ID`, which
the server echoes, so its latency is timed from when it was due, not from when it went
out (no coordinated omission), as in `api_load.fixed_rate`. A request with no answer by
the end counts as status 0, having waited at least `DRAIN_S`.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from bench.api_load import Latencies, fixed_rate_extra

DRAIN_S = 10.0
"""How long answers may still come once the last request was due."""
LUA = r"""
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clock_id, bench_timespec *tp);
]]
local clock = ffi.new("bench_timespec[1]")
local function now_us()
  ffi.C.clock_gettime(1, clock)  -- CLOCK_MONOTONIC
  return tonumber(clock[0].tv_sec) * 1e6 + tonumber(clock[0].tv_nsec) / 1e3
end

local rate, total, path, out, start
local auth = {}
local handed, sent = 0, 0
local due_times, first, last = {}, 1, 0

function init(args)
  rate, total, path = tonumber(args[1]), tonumber(args[2]), args[3]
  for line in io.lines(args[4]) do auth[#auth + 1] = line end
  out = io.open(args[5], "w")
  start = now_us() + 2e5
  out:write("S ", start, "\n")
end

function delay()
  if handed >= total then return 3600000 end  -- all sent: idle until stopped
  local due = start + handed * 1e6 / rate
  handed = handed + 1
  last = last + 1
  due_times[last] = due
  return math.max(0, math.ceil((due - now_us()) / 1e3))  -- whole ms, never early
end

function request()
  local due = due_times[first]
  if due == nil then return wrk.format("GET", path) end  -- wrk's check of the script
  due_times[first] = nil
  first = first + 1
  sent = sent + 1
  out:write("L ", (now_us() - due) / 1e3, "\n")
  return wrk.format("GET", path, {
    ["Authorization"] = auth[sent % #auth + 1],
    ["X-Request-ID"] = string.format("due%d", due),
  })
end

function response(status, headers, body)
  local echoed = headers["x-request-id"]
  if echoed == nil then
    out:write("X ", status, "\n")
  else
    local due, now = tonumber(string.sub(echoed, 4)), now_us()
    out:write("R ", status, " ", (now - due) / 1e3, " ", now, "\n")
  end
  out:flush()
end
"""


def available() -> bool:
    return shutil.which("wrk") is not None


def fixed_rate(
    base_url: str, label: str, path: str, authorizations: list[str], *, rate: float,
    duration_s: float, connections: int = 64,
) -> Latencies:  # fmt: skip
    """`rate` GETs of `path` a second for `duration_s`, cycling through `authorizations`
    (Authorization header values); see the module docstring.

    Raises:
        RuntimeError: wrk is not installed, or failed.
    """
    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError("wrk is not installed (Debian: apt-get install wrk)")
    total = int(rate * duration_s)
    result = Latencies(label)
    with tempfile.TemporaryDirectory(prefix="reelforge-bench-wrk-") as tmp:
        work = Path(tmp)
        (work / "pace.lua").write_text(LUA)
        (work / "auth.txt").write_text("\n".join(authorizations) + "\n")
        out = work / "out.txt"
        argv = [
            wrk, "-t", "1", "-c", str(connections), "-d", f"{duration_s + DRAIN_S + 1:.0f}s",
            "--timeout", f"{DRAIN_S:.0f}s", "-s", str(work / "pace.lua"), base_url, "--",
            f"{rate:g}", str(total), path, str(work / "auth.txt"), str(out),
        ]  # fmt: skip
        child = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.perf_counter() + duration_s + DRAIN_S
        while child.poll() is None and time.perf_counter() < deadline:
            if _answers(out) >= total:
                break
            time.sleep(0.2)
        if child.poll() is None:
            child.send_signal(signal.SIGINT)  # wrk stops, reports, and flushes the output
        report = child.communicate(timeout=30)[0].decode(errors="replace")
        if child.returncode != 0 or not out.is_file():
            raise RuntimeError(f"wrk failed ({child.returncode}): {report[-2000:]}")
        late_ms = _read(out, result)
    unanswered = total - len(result.latencies_ms)
    if unanswered > 0:
        result.statuses[0] += unanswered
        # Every request was due by `duration_s`, and the run ended `DRAIN_S` later.
        result.latencies_ms += [DRAIN_S * 1000] * unanswered
        result.wall_s = max(result.wall_s, duration_s + DRAIN_S)
    result.extra = fixed_rate_extra(rate, late_ms, "wrk")
    return result


def _answers(out: Path) -> int:
    if not out.is_file():
        return 0
    with out.open("rb") as lines:
        return sum(1 for line in lines if line.startswith(b"R "))


def _read(out: Path, result: Latencies) -> list[float]:
    """Fills `result` from wrk's output lines (its wall time: from the first request's due
    time to the last answer); returns how late each request went out."""
    late_ms = []
    start_us = last_us = 0.0
    for line in out.read_text().splitlines():
        kind, *fields = line.split()
        if kind == "S":
            start_us = last_us = float(fields[0])
        elif kind == "L":
            late_ms.append(float(fields[0]))
        elif kind == "R":
            result.statuses[int(fields[0])] += 1
            result.latencies_ms.append(float(fields[1]))
            last_us = max(last_us, float(fields[2]))
        else:
            raise RuntimeError(f"an answer ({fields[0]}) without the X-Request-ID it was sent")
    result.wall_s = (last_us - start_us) / 1e6
    return late_ms
