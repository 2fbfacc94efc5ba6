"""A campaign's RDS request budget: the rate its driver may use, kept by waiting before each call.

RDS throttles at about 12 requests/s per account and Region, shared with every other tool and person
(FIELD_NOTES 4.9); a campaign of many targets could take all of it. So the driver asks before each
advance (or start) of a target how long to wait for the call to fit, and tells afterwards what it
cost. Two rules, both on the engine's clock (the simulator's virtual time in tests and rehearsals):

- a sliding window (`window_seconds`, 60 s): the requests of the window plus the call's expected cost
  never pass `rps * window_seconds`, so the rate over any window stays within the budget;
- pacing: after a call that cost n requests, the next waits n / rps seconds, so the window's allowance
  is not spent in one burst (RDS refills its bucket per second, a burst of 120 calls is throttled).

The expected cost of a call is the most a call of its kind (a look, a start, a preview) has cost so far,
so an estimate errs high. Requests are what the engine's RDS clients sent (`wiring.aws_requests`, or the
gateway's `calls` for planning); a driver that cannot count them tells estimates instead.

The window is in the record: every spent call is added to the rate's tally (`RequestRate.tally`, by 10 s
slot), and a budget made from a stored rate starts with the tally's last minute in its window, so a driver
that picks a campaign up (after a crash, a pause, or right after planning) waits for what was sent just
before it. A slot's requests are taken as sent at the slot's end (capped at the drive's start): later than
they were, so they stay in the window longer than they did, never shorter. The saved tally keeps only the
slots a window still needs (the local driver is the campaign's only sender); older ones go, their busiest
minute kept in the tally's `peak_before`.

`look_floor` is the other half, for every driver (Step Functions too): the least time an operation
waits between two looks (`Operation.min_look_seconds`), so that `max_concurrency` operations looking
at once stay within the budget by themselves.
"""

from __future__ import annotations

import math
from collections import deque
from datetime import datetime, timedelta

from rds_maint.campaign_model import RequestRate
from rds_maint.request_tally import SLOT_SECONDS, slot_of

__all__ = ["EXPECTED_REQUESTS_PER_LOOK", "MAX_LOOK_FLOOR_SECONDS", "RequestBudget", "look_floor"]

# A look at a waiting step reads one or two describes (measured on the simulator: 1 to 3 per look).
EXPECTED_REQUESTS_PER_LOOK = 2
# The engine never looks less often than this, whatever the budget (Operation.min_look_seconds allows 600):
# a look that rare would see a failover end minutes late.
MAX_LOOK_FLOOR_SECONDS = 120
# Before a call of a kind has been measured: what one has cost on the simulator, rounded up.
_FIRST_GUESS = {"look": 3, "start": 10, "preview": 3}


def look_floor(max_concurrency: int, budget_rps: float, requests_per_look: int = EXPECTED_REQUESTS_PER_LOOK) -> int:
    """Seconds between two looks of one operation so that `max_concurrency` of them keep to `budget_rps`."""
    return min(math.ceil(max_concurrency * requests_per_look / budget_rps), MAX_LOOK_FLOOR_SECONDS)


class RequestBudget:
    """The window of the requests sent lately (this drive's, and the stored rate's last minute), and the
    campaign's rate record."""

    def __init__(self, rps: float, start: datetime, rate: RequestRate | None = None) -> None:
        self.rps = rps
        earlier = rate or RequestRate(started_at=start)
        self.window_seconds = earlier.window_seconds
        self._earlier_requests = earlier.requests
        self._earlier_seconds = earlier.seconds
        self._started_at = earlier.started_at
        self._peak = earlier.peak_rps
        self._tally = earlier.tally.model_copy(deep=True)
        self._start = start
        self._sent: deque[tuple[datetime, int]] = deque()
        self._in_window = 0
        self._requests = 0
        self._last: tuple[datetime, int] | None = None
        self._most: dict[str, int] = dict(_FIRST_GUESS)
        self._seed(start)

    def _seed(self, start: datetime) -> None:
        """The stored tally's slots that may still be in the window at `start`, each as sent at its end.

        The slots a window of 70 s can touch: a slot that began up to 70 s ago ends up to 60 s ago, so on the
        harsher reading some of it is still in the window (`_forget` drops what is not)."""
        span = int(self.window_seconds) + SLOT_SECONDS
        for slot_began, sent in self._tally.in_window(start, span):
            self._sent.append((min(slot_began + timedelta(seconds=SLOT_SECONDS), start), sent))
            self._in_window += sent
        self._forget(start)

    @property
    def allowance(self) -> float:
        """Requests the window may hold."""
        return self.rps * self.window_seconds

    def expected(self, kind: str) -> int:
        return self._most.get(kind, _FIRST_GUESS["look"])

    def wait_seconds(self, now: datetime, kind: str) -> float:
        """How long to wait before a call of `kind` fits the budget (0: go now)."""
        self._forget(now)
        wait = 0.0
        if self._last is not None:
            last_at, last_cost = self._last
            wait = max(wait, last_cost / self.rps - (now - last_at).total_seconds())
        cost: float = min(self.expected(kind), self.allowance)
        room = self.allowance - self._in_window
        if cost > room:
            # the oldest requests leave the window one call at a time: wait for enough of them to go
            freed = 0.0
            for at, sent in self._sent:
                freed += sent
                if cost <= room + freed:
                    wait = max(wait, (at - now).total_seconds() + self.window_seconds)
                    break
        return max(wait, 0.0)

    def spent(self, now: datetime, kind: str, requests: int) -> None:
        """A call of `kind` sent `requests` requests, ending `now`."""
        self._most[kind] = max(self._most.get(kind, 0), requests)
        self._requests += requests
        self._last = (now, requests)
        if requests <= 0:
            return
        self._tally.add(now, requests)
        self._forget(now)
        self._sent.append((now, requests))
        self._in_window += requests
        self._peak = max(self._peak, self._in_window / self.window_seconds)

    def rate(self, now: datetime) -> RequestRate:
        """The campaign's rate so far: earlier drives' (and its planning's) and this one's. Its tally keeps
        the slots a later budget seeds its window from (`_seed`), the older ones folded into its peak."""
        window = int(self.window_seconds)
        # now's slot and the seven before it: what `_seed` reads back (drop_before keeps six before the one given)
        self._tally.drop_before(slot_of(now) - 1, window)
        return RequestRate(
            requests=self._earlier_requests + self._requests,
            seconds=self._earlier_seconds + max((now - self._start).total_seconds(), 0.0),
            # the exact busiest window this driver saw (and what the record had): the tally's is an upper bound
            peak_rps=round(self._peak, 3),
            window_seconds=self.window_seconds,
            tally=self._tally.model_copy(deep=True),
            started_at=self._started_at,
        )

    def _forget(self, now: datetime) -> None:
        while self._sent and (now - self._sent[0][0]).total_seconds() >= self.window_seconds:
            _, sent = self._sent.popleft()
            self._in_window -= sent
