"""A request meter whose count a test sets, for engines whose saves must count what the test says."""

from __future__ import annotations


class SetMeter:
    """A `RequestMeter` (rds_maint.ports) whose count the test sets: `pending` is what the next take hands over,
    so the save that follows counts exactly that."""

    def __init__(self) -> None:
        self.pending = 0

    def take(self) -> int:
        sent, self.pending = self.pending, 0
        return sent
