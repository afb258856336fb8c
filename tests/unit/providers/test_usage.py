from __future__ import annotations

from reelforge.providers.usage import Meter, Prices


def test_costs_follow_the_price_table_per_unit() -> None:
    prices = Prices(
        {"chat": {"input_tokens": 0.15, "output_tokens": 0.60}, "img": {"images": 0.04}}
    )
    meter = Meter(prices)
    meter.record("chat", "chat", input_tokens=2_000, output_tokens=1_000)
    meter.record("img", "generate", images=3)
    meter.record("free-stock", "search", requests=5)
    assert meter.cost_usd == round(0.0003 + 0.0006 + 0.12, 6)
    summary = meter.summary()
    assert summary["providers"]["img"] == {"calls": 1, "units": {"images": 3}, "cost_usd": 0.12}
    assert summary["providers"]["free-stock"]["cost_usd"] == 0.0
