from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from reelforge.jobs.policy import Candidate, SchedulingPolicy, effective_priority, rank
from reelforge.model.plans import Plan

NOW = datetime(2026, 1, 1, tzinfo=UTC)
POLICY = SchedulingPolicy(ageing_s=60)


def cand(owner: str, plan: Plan, waited_s: float = 0, running: int = 0,
         served_s_ago: float | None = None) -> Candidate:  # fmt: skip
    served = NOW - timedelta(seconds=served_s_ago) if served_s_ago is not None else None
    return Candidate(
        f"job-{owner}", owner, plan, NOW - timedelta(seconds=waited_s), running, served
    )


def test_plan_classes_order_fresh_jobs() -> None:
    ranked = rank([cand("f", Plan.FREE), cand("b", Plan.BASIC), cand("p", Plan.PRO)], POLICY, NOW)
    assert [c.owner_id for c in ranked] == ["p", "b", "f"]


def test_enterprise_is_as_urgent_as_pro() -> None:
    assert effective_priority(cand("e", Plan.ENTERPRISE), POLICY, NOW) == effective_priority(
        cand("p", Plan.PRO), POLICY, NOW
    )


def test_ageing_lifts_a_free_job_above_new_pro_jobs_after_two_periods() -> None:
    fresh_pro = cand("p", Plan.PRO)
    assert rank([cand("f", Plan.FREE, waited_s=119), fresh_pro], POLICY, NOW)[0] is fresh_pro
    assert rank([cand("f", Plan.FREE, waited_s=121), fresh_pro], POLICY, NOW)[0].owner_id == "f"


def test_a_user_just_served_goes_behind_equal_users() -> None:
    served = cand("a", Plan.BASIC, waited_s=30, served_s_ago=1)
    waiting = cand("b", Plan.BASIC, waited_s=10)
    assert rank([served, waiting], POLICY, NOW)[0] is waiting


def test_users_at_their_limit_are_skipped() -> None:
    policy = SchedulingPolicy()
    full = cand("f", Plan.FREE, waited_s=999, running=1)
    assert rank([full, cand("p", Plan.PRO, running=3)], policy, NOW)[0].owner_id == "p"
    assert rank([full, cand("q", Plan.PRO, running=4)], policy, NOW) == []


@given(
    st.lists(
        st.tuples(
            st.sampled_from(list(Plan)), st.floats(0, 10_000), st.integers(0, 9),
            st.one_of(st.none(), st.floats(0, 10_000)),
        ),
        max_size=30,
    )
)  # fmt: skip
def test_rank_returns_exactly_the_eligible_by_non_increasing_priority(
    rows: list[tuple[Plan, float, int, float | None]],
) -> None:
    candidates = [cand(str(i), *row) for i, row in enumerate(rows)]
    ranked = rank(candidates, POLICY, NOW)
    eligible = [c for c in candidates if c.owner_running < POLICY.concurrency[c.plan]]
    assert sorted(c.owner_id for c in ranked) == sorted(c.owner_id for c in eligible)
    priorities = [effective_priority(c, POLICY, NOW) for c in ranked]
    assert priorities == sorted(priorities, reverse=True)


@given(st.floats(0, 1e6), st.sampled_from(list(Plan)))
def test_wait_is_bounded_for_every_plan(waited_s: float, plan: Plan) -> None:
    """Past 2 ageing periods of waiting, no newly submitted job can outrank this one."""
    old = cand("old", plan, waited_s=waited_s + 2 * POLICY.ageing_s + 0.001)
    newcomer = cand("new", Plan.ENTERPRISE)
    assert rank([newcomer, old], POLICY, NOW)[0].owner_id == "old"
