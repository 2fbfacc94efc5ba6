"""Times and durations as the reports show them: always UTC and saying so, durations in words a glance reads.

Operators in different time zones compare these lines in a chat at 2 a.m.: a time without its zone is
a guess, so every time printed here carries "UTC".
"""

from __future__ import annotations

from datetime import UTC, datetime

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


def duration(seconds: float) -> str:
    """`45s`, `12m05s`, `2h03m`, `3d04h`."""
    whole = max(0, int(seconds))
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    if whole < 86400:
        return f"{whole // 3600}h{whole % 3600 // 60:02d}m"
    return f"{whole // 86400}d{whole % 86400 // 3600:02d}h"
