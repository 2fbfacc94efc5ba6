"""The looks the engine takes while it waits, against the issue's targets: a change seen soon after it ends,
and never more describe calls than a fixed 30 s poll would make on the same wait.

No clock and no AWS: a wait is the sequence of times at which the policy looks, for a change that ends at a
given moment; the looks are what costs describe calls, the first look past the end is when a person sees it.
"""

from __future__ import annotations

import itertools
import math

import pytest

from rds_maint.actions.blue_green.common import REFUSAL_BUDGET, refusal_backoff
from rds_maint.actions.polling import EXPECTED_SECONDS, PollPolicy

FIXED = 30


def looks(policy: PollPolicy, transition: str, ends_after: float) -> list[float]:
    """The times of every look, the last one being the first at or after the end."""
    elapsed, seen = 0.0, list[float]()
    while not seen or seen[-1] < ends_after:
        elapsed += policy.next_wait(transition, elapsed)
        seen.append(elapsed)
    return seen


def test_the_looks_of_a_1000_s_change_are_sparse_early_every_30_s_near_the_end_then_backing_off() -> None:
    policy = PollPolicy(expected={"x": 1000})
    seen = looks(policy, "x", 2000)
    assert seen[:18] == [
        *range(120, 841, 120),  # nothing can be over yet: one look every 2 minutes
        *range(900, 1201, 30),  # the usual range, 10 % early to 20 % late: every 30 s
    ]
    # an overrun: a look every 5 % of the time spent
    assert seen[18:] == [1260, 1323, 1389, 1458, 1530, 1606, 1686, 1770, 1858, 1950, 2047]


def test_a_five_minute_change_is_looked_at_every_5_percent_near_its_end() -> None:
    # an Aurora storage type change (ModifyDBCluster StorageType): ~20 s before it moves, ~4 min modifying
    assert looks(PollPolicy(), "storage", 282) == [120, 240, 270, 283]


def test_a_four_hour_green_build_is_never_unwatched_for_more_than_two_minutes_and_takes_few_looks() -> None:
    seen = looks(PollPolicy(), "blue_green_create", 4 * 3600)
    gaps = [b - a for a, b in itertools.pairwise(seen)]
    assert max(gaps) == 120  # a deployment that failed is seen within 2 minutes
    # 18 looks before the usual range, 24 in it (every 30 s), 96 in the 3-hour overrun: 138 against 480
    assert len(seen) == 138


def test_a_change_that_ends_long_before_its_expected_duration_is_seen_within_two_minutes() -> None:
    # a Multi-AZ DB cluster's storage change (~15 min) shares its class change's expectation (~30 min)
    policy = PollPolicy()
    for ends in (100, 500, 930, 1500):
        assert looks(policy, "multi_az_cluster_modify", ends)[-1] - ends <= policy.max_seconds == 120


@pytest.mark.parametrize("transition", sorted(t for t, s in EXPECTED_SECONDS.items() if s >= 240))
def test_a_wait_never_takes_more_looks_than_a_fixed_30_s_poll(transition: str) -> None:
    policy = PollPolicy()
    expected = policy.expected_for(transition)
    for fraction in (0.3, 0.6, 0.9, 1.0, 1.1, 1.2, 1.5, 2.0, 4.0):
        ends = expected * fraction
        assert len(looks(policy, transition, ends)) <= math.ceil(ends / FIXED), (transition, ends)


@pytest.mark.parametrize("transition", sorted(EXPECTED_SECONDS))
def test_a_change_ending_in_or_after_its_usual_range_is_seen_within_5_percent_of_the_wait(transition: str) -> None:
    policy = PollPolicy()
    expected = policy.expected_for(transition)
    for fraction in [0.9 + i * 0.02 for i in range(30)] + [2.0, 3.0, 6.0]:
        ends = expected * fraction
        # the 10 s floor between looks bounds short waits instead
        assert looks(policy, transition, ends)[-1] - ends <= max(0.05 * ends, policy.min_seconds), (transition, ends)


def test_a_refused_switchover_is_asked_again_every_15_s_then_every_tenth_of_the_refusals() -> None:
    asks = [0.0]
    while asks[-1] < REFUSAL_BUDGET.total_seconds():
        asks.append(asks[-1] + refusal_backoff(asks[-1]))
    assert asks[:12] == [*range(0, 166, 15)]  # green ready 3 min after AVAILABLE: accepted at most 16 s late
    gaps = [b - a for a, b in itertools.pairwise(asks)]
    assert gaps == sorted(gaps) and max(gaps) <= 120  # backing off, never more than 2 minutes apart
    assert len(asks) <= 32  # the whole 15-minute budget: about one ask every 30 s on average
