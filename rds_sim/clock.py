"""Virtual time for the simulator: minutes of Aurora work pass in microseconds of test time.

The simulated Aurora reads the time from this clock and the engine under test sleeps on it,
so a class change that takes ten minutes in AWS is a `sleep(600)` that returns at once.
Nothing here ever sleeps for real.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

DEFAULT_START = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)


class VirtualClock:
    """A clock that only moves when told to (satisfies `rds_maint.clock.Clock`)."""

    def __init__(self, start: datetime | None = None) -> None:
        start = start or DEFAULT_START
        if start.tzinfo is None:
            raise ValueError("VirtualClock needs a timezone-aware start time")
        self._now = start.astimezone(UTC)

    def now(self) -> datetime:
        return self._now

    def sleep(self, seconds: float) -> None:
        """What the engine calls while it waits: time advances, nothing blocks."""
        self.advance(seconds)

    def advance(self, seconds: float) -> None:
        """Move time forward; negative values are ignored (time never runs backwards)."""
        if seconds > 0:
            self._now += timedelta(seconds=seconds)

    def __repr__(self) -> str:
        return f"VirtualClock({self._now.isoformat()})"
