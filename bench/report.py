"""What every benchmark report shares: markdown tables, met/missed marks, machine facts,
replacing one `## Section` of bench/RESULTS.md while keeping the others, and `run`, the
`main()` of a benchmark (measure, publish, print)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

RESULTS_MD = Path(__file__).parent / "RESULTS.md"
Data = TypeVar("Data")


def markdown_table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def mark(met: bool, noisy: bool = False) -> str:
    """How a target reads in a report; noisy: other processes took a notable share of CPU."""
    return ("met" if met else "missed") + (" (noisy)" if noisy else "")


def cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        found = re.search(r"^model name\s*:\s*(.+)$", cpuinfo.read_text(), re.MULTILINE)
        if found:
            return found.group(1).strip()
    return "unknown"


def replace_section(path: Path, heading: str, section: str) -> None:
    """Write `section` into `path`, replacing only the section under `heading` (`## Name`)."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n\n"
    pattern = re.compile(rf"^{re.escape(heading)}\s*$.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
    body = section.rstrip() + "\n\n"
    if pattern.search(text):
        text = pattern.sub(lambda _: body, text, count=1)
    else:
        text = text.rstrip() + "\n\n" + body
    path.write_text(text.rstrip() + "\n", encoding="utf-8")


def publish(results_json: Path, heading: str, data: Any, section: str) -> None:
    """Write a benchmark's raw figures as JSON and its `## heading` section of RESULTS.md."""
    results_json.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n"
    results_json.write_text(text, encoding="utf-8")
    replace_section(RESULTS_MD, heading, section)


def run(
    results_json: Path, heading: str, measure: Callable[[], Data], section: Callable[[Data], str]
) -> None:
    """A benchmark's `main()`: measure, publish the figures (JSON) and the `## heading`
    section of RESULTS.md, and print that section."""
    data = measure()
    text = section(data)
    publish(results_json, heading, data, text)
    print(text)
