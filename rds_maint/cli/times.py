"""Times and durations as the reports show them: always UTC and saying so, durations in words a glance reads.

Operators in different time zones compare these lines in a chat at 2 a.m.: a time without its zone is
a guess, so every time printed here carries "UTC".
"""

from __future__ import annotations

from datetime import UTC, datetime

from rds_maint.progress.summary import duration

__all__ = ["clock_utc", "duration", "utc"]


def utc(moment: datetime) -> str:
    """`2026-12-02 02:14:05 UTC`."""
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


def clock_utc(moment: datetime, now: datetime) -> str:
    """`02:14 UTC` for a moment within the last day of `now`, else with its date."""
    moment = moment.astimezone(UTC)
    if abs((now - moment).total_seconds()) < 24 * 3600:
        return f"{moment:%H:%M} UTC"
    return f"{moment:%Y-%m-%d %H:%M} UTC"
