"""The campaign's request budget: how long a call waits for room, and the rate the record keeps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rds_maint.campaign.budget import MAX_LOOK_FLOOR_SECONDS, RequestBudget, look_floor
from rds_maint.campaign_model import RequestRate
from rds_maint.request_tally import slot_of

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


def stored_rate(*sent: tuple[float, int]) -> RequestRate:
    """A stored campaign rate whose tally holds `sent`: (seconds from T0, requests), as a dead driver left it."""
    rate = RequestRate(started_at=at(-3600))
    for seconds, requests in sent:
        rate.tally.add(at(seconds), requests)
    rate.requests = rate.tally.requests
    return rate


def test_a_budget_picking_a_campaign_up_waits_for_the_stored_last_minute_each_slot_read_as_sent_at_its_end() -> None:
    # 58 requests sent at -25 s (slot -30..-20): read as sent at -20 s, they leave the window at +40 s
    budget = RequestBudget(1.0, T0, stored_rate((-25, 58)))  # 60 requests per window: a look (3) does not fit
    assert budget.wait_seconds(T0, "look") == 40.0
    assert budget.wait_seconds(at(40), "look") == 0


def test_a_slot_still_going_when_the_drive_starts_is_read_as_sent_at_the_start() -> None:
    budget = RequestBudget(1.0, at(5), stored_rate((2, 58)))  # slot 0..10 s, the drive starts at 5 s
    assert budget.wait_seconds(at(5), "look") == 60.0


def test_a_slot_that_began_seventy_seconds_ago_may_still_be_in_the_window_and_older_ones_are_not() -> None:
    # slot -60..-50 ends 55 s before a start at +5 s: on the harsher reading it is in the window 5 s more
    assert RequestBudget(1.0, at(5), stored_rate((-58, 58))).wait_seconds(at(5), "look") == 5.0
    assert RequestBudget(1.0, at(5), stored_rate((-78, 58))).wait_seconds(at(5), "look") == 0


def test_every_spent_call_goes_into_the_saved_tally_which_keeps_only_what_a_window_needs() -> None:
    budget = RequestBudget(2.0, T0, stored_rate((-3000, 40), (-5, 6)))
    for n in range(30):
        budget.spent(at(n * 10), "look", 2)  # 2 requests every 10 s, 0 s to 290 s
    rate = budget.rate(at(300))
    assert rate.requests == 46 + 60 and rate.tally.requests == rate.requests  # every request, earlier ones too
    # the slots a budget starting now reads (`in_window` of 70 s touches eight): 230 s to 290 s hold requests
    assert set(rate.tally.slots) == {slot_of(at(s)) for s in range(230, 300, 10)}
    assert rate.tally.peak_requests() == 40  # the old minute's burst, kept though its slot went
    assert rate.started_at == at(-3600)  # when the campaign's first request was sent (its planning)

    # the next drive reads them back: 12 requests in the window of a 0.2 req/s budget (12 a minute); a
    # look (3) fits once the two oldest slots (read as sent at 250 s and 260 s) have left it
    assert RequestBudget(0.2, at(300), rate).wait_seconds(at(300), "look") == 20.0
