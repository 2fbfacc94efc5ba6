"""RDS requests counted by ten-second slot of the clock: what a campaign's rate is added up from.

On Step Functions a campaign has no driver of its own that sees every call: each target's calls run in
Lambda invocations of that target's execution. So each campaign target's operation keeps a tally of the
RDS requests its calls sent (`Operation.requests`, written by the engine with the save each call makes
anyway), and the campaign adds the tallies of the targets that ended into its own (`RequestRate`). Tallies
of targets that ran at the same time add slot by slot, so the sum still shows the busiest minute, which a
plain total would hide.

Why a slot of 10 s: any window of 60 s lies within seven slots in a row, so the busiest seven slots bound
the busiest minute from above (the harsher reading: the peak reported is one the campaign stayed under,
at most a slot's requests more than the true one); and a target looked at every 10 s or less often fills
one slot per look at most, so an operation of an hour keeps at most 360 numbers.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from pydantic import BaseModel, Field

__all__ = ["SLOT_SECONDS", "WINDOW_SECONDS", "RequestTally", "slot_of", "slot_start"]

SLOT_SECONDS = 10
WINDOW_SECONDS = 60


def _touched(window_seconds: int) -> int:
    """Slots a window of `window_seconds` can touch: one more than it spans, as it may start mid-slot."""
    return max(1, -(-window_seconds // SLOT_SECONDS)) + 1


def slot_of(at: datetime) -> int:
    """The slot `at` falls in: seconds since the epoch, divided by `SLOT_SECONDS`."""
    stamp = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    return int(stamp.timestamp()) // SLOT_SECONDS


def slot_start(slot: int) -> datetime:
    return datetime.fromtimestamp(slot * SLOT_SECONDS, UTC)


class RequestTally(BaseModel):
    """Requests sent, in all (`requests`) and by slot (`slots`: slot number -> requests in it).

    `peak_before` keeps the busiest window of slots already dropped (`drop_before`), so a long record stays
    small and its peak stays true."""

    requests: int = Field(default=0, ge=0)
    slots: dict[int, int] = Field(default_factory=dict)
    peak_before: int = Field(default=0, ge=0)

    def add(self, at: datetime, requests: int) -> None:
        """`requests` were sent by a call that ended at `at` (nothing is kept for none)."""
        if requests <= 0:
            return
        slot = slot_of(at)
        self.requests += requests
        self.slots[slot] = self.slots.get(slot, 0) + requests

    def add_tally(self, other: RequestTally) -> None:
        """Another tally's requests, slot by slot (an operation that ran at the same time as others)."""
        self.requests += other.requests
        for slot, sent in other.slots.items():
            self.slots[slot] = self.slots.get(slot, 0) + sent
        self.peak_before = max(self.peak_before, other.peak_before)

    def peak_requests(self, window_seconds: int = WINDOW_SECONDS) -> int:
        """At most how many requests any window of `window_seconds` held: the busiest run of the slots such a
        window can touch."""
        width = _touched(window_seconds)
        return max([self.peak_before, *(self._run(first, width) for first in self.slots)])

    def peak_rps(self, window_seconds: int = WINDOW_SECONDS) -> float:
        return self.peak_requests(window_seconds) / window_seconds

    def drop_before(self, slot: int, window_seconds: int = WINDOW_SECONDS) -> None:
        """Forget what no sender can add to any more: the caller passes the first slot a running sender may
        still add to. A slot goes once every window holding it lies before `slot`; the busiest of those
        windows stays in `peak_before`."""
        width = _touched(window_seconds)
        cut = slot - width + 1
        old = [s for s in self.slots if s < cut]
        for first in old:  # every slot of a window starting here is before `slot`: it can grow no more
            self.peak_before = max(self.peak_before, self._run(first, width))
        for s in old:
            del self.slots[s]

    def _run(self, first: int, width: int) -> int:
        """Requests in the `width` slots from `first` on."""
        return sum(self.slots.get(first + k, 0) for k in range(width))

    def in_window(self, now: datetime, window_seconds: int = WINDOW_SECONDS) -> list[tuple[datetime, int]]:
        """The slots a window of `window_seconds` ending `now` can touch, oldest first, as (slot start, requests)."""
        last = slot_of(now)
        width = _touched(window_seconds)
        return [(slot_start(s), self.slots[s]) for s in sorted(self.slots) if last - width < s <= last]

    @classmethod
    def total(cls, tallies: Iterable[RequestTally]) -> RequestTally:
        summed = cls()
        for tally in tallies:
            summed.add_tally(tally)
        return summed
