"""What remote provider calls cost: every call records its usage, the render sums it.

Providers get a `Meter` when built; the pipeline reads `meter.calls` into the manifest.
A call served from the artifact cache never reaches a provider, so it costs nothing.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Prices:
    """USD per unit, per provider id; units are what the vendor bills: `input_tokens`,
    `output_tokens` (per 1 000 000), `characters` (per 1 000 000), `images`, `requests`."""

    table: dict[str, dict[str, float]] = field(default_factory=dict)

    PER_MILLION = frozenset({"input_tokens", "output_tokens", "characters"})

    def cost(self, provider: str, units: dict[str, float]) -> float:
        rates = self.table.get(provider, {})
        total = 0.0
        for unit, amount in units.items():
            rate = rates.get(unit, 0.0)
            total += rate * amount / (1_000_000 if unit in self.PER_MILLION else 1)
        return round(total, 6)


@dataclass(frozen=True, slots=True)
class ProviderCall:
    provider: str
    operation: str
    units: dict[str, float]
    cost_usd: float


@dataclass
class Meter:
    prices: Prices = field(default_factory=Prices)
    calls: list[ProviderCall] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, provider: str, operation: str, **units: float) -> ProviderCall:
        call = ProviderCall(provider, operation, units, self.prices.cost(provider, units))
        with self._lock:
            self.calls.append(call)
        return call

    @property
    def cost_usd(self) -> float:
        return round(sum(call.cost_usd for call in self.calls), 6)

    def summary(self) -> dict[str, Any]:
        """Per provider: calls, units and cost (what the manifest and the API report)."""
        by_provider: dict[str, dict[str, Any]] = {}
        for call in self.calls:
            entry = by_provider.setdefault(
                call.provider, {"calls": 0, "units": {}, "cost_usd": 0.0}
            )
            entry["calls"] += 1
            for unit, amount in call.units.items():
                entry["units"][unit] = entry["units"].get(unit, 0) + amount
            entry["cost_usd"] = round(entry["cost_usd"] + call.cost_usd, 6)
        return {"cost_usd": self.cost_usd, "providers": by_provider}
