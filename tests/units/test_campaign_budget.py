"""The campaign's request budget: how long a call waits for room, and the rate the record keeps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rds_maint.campaign.budget import MAX_LOOK_FLOOR_SECONDS, RequestBudget, look_floor
from rds_maint.campaign_model import RequestRate

T0 = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_a_call_after_another_waits_for_what_that_one_cost_at_the_budgets_rate() -> None:
    budget = RequestBudget(2.0, T0)
    assert budget.wait_seconds(T0, "look") == 0
    budget.spent(T0, "look", 4)
    assert budget.wait_seconds(T0, "look") == 2.0  # 4 requests at 2 req/s
    assert budget.wait_seconds(at(1.5), "look") == 0.5
    assert budget.wait_seconds(at(3), "look") == 0


def test_a_full_window_waits_until_enough_of_its_oldest_requests_have_left_it() -> None:
    budget = RequestBudget(1.0, T0)  # 60 requests per 60 s window
    for n in range(20):
        budget.spent(at(n * 3), "look", 3)  # 60 requests from 0 s to 57 s, paced
    # the next look is expected to cost 3: the window (57 s back to -3 s) is full until the call at 0 s leaves
    assert budget.wait_seconds(at(59), "look") == 1.0
    assert budget.wait_seconds(at(60), "look") == 0
    assert budget.rate(at(60)).peak_rps == 1.0


def test_the_expected_cost_of_a_kind_is_the_most_one_has_cost() -> None:
    budget = RequestBudget(2.0, T0)
    budget.spent(T0, "look", 1)
    budget.spent(at(10), "look", 7)
    budget.spent(at(20), "look", 2)
    assert budget.expected("look") == 7
    assert budget.expected("start") == 10  # not measured yet: the first guess


def test_the_rate_carries_on_from_the_record_of_earlier_drives() -> None:
    earlier = RequestRate(requests=100, seconds=200.0, peak_rps=1.5)
    budget = RequestBudget(2.0, T0, earlier)
    budget.spent(at(5), "look", 10)
    rate = budget.rate(at(100))
    assert (rate.requests, rate.seconds, rate.peak_rps) == (110, 300.0, 1.5)
    assert rate.mean_rps == 110 / 300


def test_the_look_floor_spreads_concurrent_looks_over_the_budget_and_is_capped() -> None:
    assert look_floor(5, 2.0) == 5  # 5 operations x 2 requests a look / 2 req/s
    assert look_floor(10, 2.0) == 10
    assert look_floor(3, 0.5) == 12
    assert look_floor(1000, 0.1) == MAX_LOOK_FLOOR_SECONDS
