"""The tally a campaign's rate is added up from (rds_maint.request_tally) and the rate itself
(campaign_model.RequestRate): the peak a person reads must be the busiest run of slots a minute can touch
(seven), so never below the true busiest minute of what was sent and never above the busiest 70 s, however
the tally was added up or trimmed. Random checks compare with brute forces over the raw (time, requests)
events, on a fixed seed."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from rds_maint.campaign_model import Campaign, CampaignRequest, RequestRate
from rds_maint.request_tally import SLOT_SECONDS, WINDOW_SECONDS, RequestTally, slot_of, slot_start

T0 = datetime(2026, 12, 2, 12, 0, 0, tzinfo=UTC)  # on a slot boundary
TOUCHED = WINDOW_SECONDS // SLOT_SECONDS + 1  # slots a minute starting mid-slot can touch: 7

Events = list[tuple[datetime, int]]


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def touched(window_seconds: int) -> int:
    """Slots a window of `window_seconds` (a multiple of a slot here) can touch: one more than it spans."""
    return window_seconds // SLOT_SECONDS + 1


def brute_slot_peak(events: Events, window_seconds: int = WINDOW_SECONDS) -> int:
    """The most requests in any `touched(window_seconds)` slots in a row, from the raw events."""
    width = touched(window_seconds)
    slots = [slot_of(when) for when, _ in events]
    if not slots:
        return 0
    return max(
        sum(n for (when, n) in events if first <= slot_of(when) < first + width)
        for first in range(min(slots) - width, max(slots) + 1)
    )


def true_peak(events: Events, window_seconds: float) -> int:
    """The most requests in any window [start, start + `window_seconds`), whatever its start: the busiest
    is one that starts at an event."""
    return max(
        (
            sum(n for (when, n) in events if start <= when < start + timedelta(seconds=window_seconds))
            for start, _ in events
        ),
        default=0,
    )


def assert_peak_bounds(tally: RequestTally, events: Events, window_seconds: int = WINDOW_SECONDS) -> None:
    """The tally's peak is the busiest run of slots, at least the true busiest window and at most the true
    busiest window a slot longer (the span of the slots it adds up)."""
    peak = tally.peak_requests(window_seconds)
    assert peak == brute_slot_peak(events, window_seconds)
    assert peak >= true_peak(events, window_seconds), "an upper bound of the true busiest window"
    assert peak <= true_peak(events, touched(window_seconds) * SLOT_SECONDS)


def random_events(rng: random.Random, count: int, span_seconds: int, start: float = 0) -> Events:
    return sorted((at(start + rng.uniform(0, span_seconds)), rng.randint(0, 5)) for _ in range(count))


def tally_of(events: Events) -> RequestTally:
    tally = RequestTally()
    for when, n in events:
        tally.add(when, n)
    return tally


# -- RequestTally ---------------------------------------------------------------------------------------


def test_add_counts_by_ten_second_slot_and_keeps_nothing_for_no_requests() -> None:
    tally = RequestTally()
    tally.add(at(0), 2)
    tally.add(at(9.9), 3)
    tally.add(at(10), 1)
    tally.add(at(25), 0)
    assert tally.requests == 6
    assert tally.slots == {slot_of(T0): 5, slot_of(T0) + 1: 1}
    assert slot_start(slot_of(at(9.9))) == T0


def test_a_naive_timestamp_is_read_as_utc() -> None:
    assert slot_of(at(15).replace(tzinfo=None)) == slot_of(at(15))


def test_the_peak_is_the_busiest_seven_slots_not_the_total() -> None:
    """A minute may start mid-slot, so the peak adds up the seven slots it can touch: never below the true
    busiest minute, at most a slot's requests above it."""
    events = [(at(0), 4), (at(55), 4), (at(65), 5), (at(300), 7)]
    tally = tally_of(events)
    assert tally.requests == 20
    assert true_peak(events, 60) == 9, "0-60 holds 8, 55-115 holds 9"
    assert tally.peak_requests() == 13 < 20, "the slots 0-70 hold the first three"
    assert tally.peak_rps() == 13 / 60
    assert tally.peak_requests(10) == 9, "a 10 s window can touch two slots: 50-70 holds 9"


def test_tallies_of_targets_that_ran_together_add_slot_by_slot() -> None:
    one, two = RequestTally(), RequestTally()
    one.add(at(0), 3)
    one.add(at(120), 1)
    two.add(at(5), 4)
    two.add(at(130), 1)
    summed = RequestTally.total([one, two])
    assert summed.requests == 9
    assert summed.slots == {slot_of(T0): 7, slot_of(at(120)): 1, slot_of(at(130)): 1}
    assert summed.peak_requests() == 7 > max(one.peak_requests(), two.peak_requests())
    assert one.requests == 4 and two.requests == 5, "the parts are not changed"


def test_in_window_lists_the_seven_slots_the_last_minute_can_touch_oldest_first() -> None:
    tally = RequestTally()
    for seconds, n in [(0, 1), (10, 2), (45, 3), (60, 4), (69, 5)]:
        tally.add(at(seconds), n)
    assert tally.in_window(at(69)) == [(at(0), 1), (at(10), 2), (at(40), 3), (at(60), 9)]
    assert tally.in_window(at(79)) == [(at(10), 2), (at(40), 3), (at(60), 9)], "the slot at 0 is eight back"
    assert tally.in_window(at(59)) == [(at(0), 1), (at(10), 2), (at(40), 3)]
    assert tally.in_window(at(200)) == []


def test_drop_before_keeps_the_peak_of_what_it_dropped() -> None:
    tally = RequestTally()
    tally.add(at(0), 10)
    tally.add(at(50), 10)  # 0-60 holds 20
    tally.add(at(300), 1)
    tally.drop_before(slot_of(at(300)))
    assert set(tally.slots) == {slot_of(at(300))}
    assert tally.peak_before == 20 and tally.peak_requests() == 20
    assert tally.requests == 21, "the total keeps every request"


def test_drop_before_keeps_a_window_that_straddles_the_cut_growing_with_later_adds() -> None:
    """The six slots before the cut stay: a run of seven starting there reaches the cut's slot, where a
    running sender still adds (the cut is `slot - 7 + 1`)."""
    tally = RequestTally()
    tally.add(at(0), 1)
    tally.add(at(10), 6)  # six slots before the cut...
    tally.drop_before(slot_of(at(70)))
    assert slot_of(at(10)) in tally.slots and slot_of(at(0)) not in tally.slots, "slots 0-70 lie before the cut"
    assert tally.peak_before == 7 and tally.peak_requests() == 7
    tally.add(at(70), 3)  # ...and 3 in the cut's slot: the slots 10-80 hold 9
    tally.add(at(75), 2)  # and 2 more in that slot: 11
    assert tally.peak_requests() == 11
    tally.add(at(85), 1)  # the slots 20-90 hold 6: the peak stays
    assert tally.peak_requests() == 11


def test_drop_before_kept_slots_added_to_again_raise_the_peak_as_the_events_say() -> None:
    tally = RequestTally()
    tally.add(at(0), 2)
    tally.add(at(40), 2)
    tally.drop_before(slot_of(at(40)))  # a running sender's first slot is the one at 40 s
    tally.add(at(40), 5)  # that slot grows: 0-60 holds 9
    assert tally.peak_requests() == brute_slot_peak([(at(0), 2), (at(40), 7)]) == 9


def test_drop_before_lets_go_of_a_slot_seven_back_keeping_its_run() -> None:
    tally = RequestTally()
    tally.add(at(0), 4)
    tally.add(at(60), 5)  # the seventh slot: one run with the first
    tally.drop_before(slot_of(at(60)))  # cut: the slot at 0, still in a run reaching the slot at 60
    assert set(tally.slots) == {slot_of(at(0)), slot_of(at(60))}
    tally.drop_before(slot_of(at(70)))  # every run holding the slot at 0 lies before the slot at 70
    assert set(tally.slots) == {slot_of(at(60))}
    assert tally.peak_before == 9 and tally.peak_requests() == 9


def test_random_tallies_peak_as_the_raw_events_do() -> None:
    rng = random.Random(20261202)
    for _ in range(200):
        events = random_events(rng, rng.randint(0, 40), rng.choice([30, 120, 600, 3600]))
        window = rng.choice([10, 30, 60, 120])
        assert_peak_bounds(tally_of(events), events, window)
        assert tally_of(events).requests == sum(n for _, n in events)


def test_random_tallies_added_up_peak_as_all_their_events_do() -> None:
    rng = random.Random(7)
    for _ in range(100):
        parts = [random_events(rng, rng.randint(0, 15), 600) for _ in range(rng.randint(1, 4))]
        summed = RequestTally.total(tally_of(p) for p in parts)
        every = [e for p in parts for e in p]
        assert_peak_bounds(summed, every)
        assert summed.requests == sum(n for _, n in every)


def test_random_drops_at_the_senders_first_slot_keep_the_peak_true() -> None:
    """Events come in time order; after each one, a drop at a slot no later event falls before (what the
    campaign does with the earliest running target's start)."""
    rng = random.Random(42)
    for _ in range(80):
        events = random_events(rng, rng.randint(1, 40), rng.choice([60, 300, 1800]))
        tally = RequestTally()
        for i, (when, n) in enumerate(events):
            tally.add(when, n)
            if i + 1 < len(events) and rng.random() < 0.5:
                tally.drop_before(slot_of(events[i + 1][0]) - rng.randint(0, 8))
            assert_peak_bounds(tally, events[: i + 1])
        assert tally.requests == sum(n for _, n in events)
        assert len(tally.slots) <= len({slot_of(w) for w, _ in events})


# -- RequestRate ------------------------------------------------------------------------------------------


def test_a_rate_adds_each_ended_operation_and_lets_go_of_slots_no_running_target_reaches() -> None:
    rate = RequestRate(started_at=T0)
    first, second = RequestTally(), RequestTally()
    first.add(at(0), 30)
    first.add(at(20), 30)
    second.add(at(200), 12)
    second.add(at(400), 6)  # still running while the first ends
    rate.add_operation(first, at(60), reachable_from=at(150))
    assert rate.requests == 60 and rate.peak_rps == 1.0 and rate.seconds == 60
    assert rate.tally.slots == {}, "every slot of the first is more than a minute before the second's start"
    rate.add_operation(second, at(450), reachable_from=at(450))
    assert rate.requests == 78 and rate.peak_rps == 1.0 and rate.seconds == 450
    rate.settle(at(900))
    assert rate.seconds == 900 and rate.mean_rps == 78 / 900


def test_an_ended_target_with_no_operation_adds_nothing_but_settles() -> None:
    rate = RequestRate(started_at=T0)
    rate.add_operation(None, at(30), reachable_from=at(30))
    assert (rate.requests, rate.peak_rps, rate.seconds) == (0, 0.0, 30)


def test_targets_ending_one_by_one_give_the_peak_of_them_running_together() -> None:
    """Two targets overlap; each on its own stays below the joint minute, the rate shows the joint one."""
    rate = RequestRate(started_at=T0)
    early, late = RequestTally(), RequestTally()
    early.add(at(100), 20)
    late.add(at(110), 25)  # started at 90 s, still running when the early one ends
    late.add(at(500), 1)
    rate.add_operation(early, at(130), reachable_from=at(90))
    assert rate.peak_rps == round(20 / 60, 3)
    rate.add_operation(late, at(520), reachable_from=at(520))
    assert rate.peak_rps == round(45 / 60, 3) and rate.requests == 46


def test_the_figures_never_go_down_when_settled_again() -> None:
    rate = RequestRate(started_at=T0, requests=50, peak_rps=2.0, seconds=1000)  # a record kept before
    rate.settle(at(10))
    assert (rate.requests, rate.peak_rps, rate.seconds) == (50, 2.0, 1000)


def test_with_running_shows_the_running_targets_without_changing_the_record() -> None:
    rate = RequestRate(started_at=T0)
    ended, running = RequestTally(), RequestTally()
    ended.add(at(0), 6)
    running.add(at(30), 12)
    rate.add_operation(ended, at(40), reachable_from=at(20))
    live = rate.with_running([running], at(100))
    assert live.requests == 18 and live.peak_rps == round(18 / 60, 3) and live.seconds == 100
    assert rate.requests == 6 and rate.seconds == 40 and slot_of(at(30)) not in rate.tally.slots
    assert running.requests == 12


def test_a_record_kept_before_rates_had_a_start_takes_the_campaigns_creation_and_settles_from_it() -> None:
    request = CampaignRequest(type="instance_cycle", target_ids=["a"], region="us-east-1", max_concurrency=1)
    kept = Campaign(id="c-old", request=request, targets=[], created_at=T0, updated_at=T0).model_dump(mode="json")
    kept["rate"] = {"requests": 40, "seconds": 100.0, "peak_rps": 0.5, "window_seconds": 60.0}  # as stored then
    loaded = Campaign.model_validate(kept)
    assert loaded.rate.started_at == T0
    loaded.rate.settle(at(300))
    assert (loaded.rate.requests, loaded.rate.seconds, loaded.rate.peak_rps) == (40, 300, 0.5)
