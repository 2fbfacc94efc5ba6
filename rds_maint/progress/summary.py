"""The end of a run in figures: how long it took, how long it waited for a person, each stop of writes
and how much it asked of AWS. Measured from the operation's events (the engine announces each failover
and switchover before it starts and after it finishes), never from the plan's estimate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rds_maint.model import Event, Operation
from rds_maint.planning.estimate import interruption_of

__all__ = ["MeasuredInterruption", "RunSummary", "about", "duration", "summarise"]

# Events after a pause that are not an answer to it: the pause still lasts.
_STILL_PAUSED = frozenset({"intervention_requested", "execution_failed", "operation_paused"})

# What a person calls the writer move of each disruptive step action.
# How the summary names each kind of stop (a step kind's `interruption`, planning.estimate.interruption_of).
_KIND_NAMES = {
    "failover": "failover",
    "switchover": "switchover",
    "reboot": "reboot",
    "multi_az_failover": "Multi-AZ failover",
    "downtime": "downtime",
}


def duration(seconds: float) -> str:
    """`42s`, `3m05s`, `1h02m`, `3d04h`: short enough for a status line; the one format of every report."""
    seconds = max(int(seconds), 0)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    if seconds < 86400:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 86400}d{seconds % 86400 // 3600:02d}h"


def about(seconds: float) -> str:
    """An estimate, as round as it deserves: `45s`, `8m`, `1h05m`."""
    seconds = max(round(seconds), 0)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{round(seconds / 60)}m"
    hours, minutes = divmod(round(seconds / 60), 60)
    return f"{hours}h{minutes:02d}m"


@dataclass(frozen=True)
class MeasuredInterruption:
    """One stop of writes, from the engine's `disruption_starting` to its `disruption_finished` event."""

    kind: str  # "failover" or "switchover"
    target: str | None
    started_at: datetime
    seconds: float | None  # None: not finished when the run ended


@dataclass(frozen=True)
class RunSummary:
    total_seconds: float
    paused_seconds: float
    interruptions: tuple[MeasuredInterruption, ...]
    aws_calls: int | None  # None: this engine does not count them

    def lines(self) -> list[str]:
        text = [f"Took {duration(self.total_seconds)}, of which {duration(self.paused_seconds)} paused for a person."]
        if not self.interruptions:
            text.append("Write interruptions: none.")
        else:
            text.append(f"Write interruptions: {len(self.interruptions)}")
            for stop in self.interruptions:
                to = f" to {stop.target}" if stop.target else ""
                took = duration(stop.seconds) if stop.seconds is not None else "not finished"
                text.append(f"  {stop.kind}{to} at {stop.started_at:%H:%M:%S} UTC: {took}")
        if self.aws_calls is not None:
            text.append(f"AWS API calls (RDS): {self.aws_calls}")
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "total_seconds": round(self.total_seconds),
            "paused_seconds": round(self.paused_seconds),
            "write_interruptions": [
                {
                    "kind": stop.kind,
                    "target": stop.target,
                    "started_at": stop.started_at.isoformat(),
                    "seconds": round(stop.seconds) if stop.seconds is not None else None,
                }
                for stop in self.interruptions
            ],
            "aws_calls": self.aws_calls,
        }


def summarise(op: Operation, events: Sequence[Event], now: datetime, aws_calls: int | None) -> RunSummary:
    """The figures of `op` so far, from all its events (earlier runs included)."""
    start = op.started_at or op.created_at
    end = op.completed_at or now
    return RunSummary(
        total_seconds=(end - start).total_seconds(),
        paused_seconds=_paused_seconds(events, end),
        interruptions=_interruptions(events),
        aws_calls=aws_calls,
    )


def _paused_seconds(events: Sequence[Event], end: datetime) -> float:
    """From each pause to the answer that ended it (or to `end` while it still waits)."""
    total = 0.0
    paused_at: datetime | None = None
    for event in events:
        if event.type == "operation_paused":
            paused_at = paused_at or event.timestamp
        elif paused_at is not None and event.type not in _STILL_PAUSED:
            total += (event.timestamp - paused_at).total_seconds()
            paused_at = None
    if paused_at is not None:
        total += (end - paused_at).total_seconds()
    return total


def _interruptions(events: Sequence[Event]) -> tuple[MeasuredInterruption, ...]:
    started: dict[str, Event] = {}
    finished: dict[str, Event] = {}
    for event in events:
        step = event.data.get("step")
        if not isinstance(step, str):
            continue
        if event.type == "disruption_starting":
            started[step] = event  # a retried step announces again: the last announcement is the one that ran
        elif event.type == "disruption_finished":
            finished[step] = event
    stops = []
    for step, begin in started.items():
        end = finished.get(step)
        action = str(begin.data.get("action", ""))
        target = begin.data.get("target")
        since = _accepted_at(events, begin, end)
        until = end.timestamp if end is not None else None
        window = _failover_window(events, step)
        if window is not None:  # a Multi-AZ step: writes stopped during the failover AWS reported, not all along
            since, until = window
        stops.append(
            MeasuredInterruption(
                kind=_KIND_NAMES.get(interruption_of(action) or "", action.replace("_", " ")),
                target=target if isinstance(target, str) else None,
                started_at=since,
                seconds=(until - since).total_seconds() if until is not None else None,
            )
        )
    return tuple(sorted(stops, key=lambda stop: stop.started_at))


# The events that say AWS accepted the call that stops writes. A switchover AWS refuses at first (green not
# ready yet) is asked again for minutes after the announcement; writes go on meanwhile, so the interruption
# is counted from the accepted call, not from the announcement.
_ACCEPTED = frozenset({"failover_requested", "switchover_requested", "switchover_adopted"})


def _failover_window(events: Sequence[Event], step: str) -> tuple[datetime, datetime] | None:
    """The failover AWS reported inside a step (its first and last failover event), if the step noted one."""
    for event in reversed(events):
        started, ended = event.data.get("failover_started_at"), event.data.get("failover_ended_at")
        if event.data.get("step") == step and isinstance(started, str) and isinstance(ended, str):
            return datetime.fromisoformat(started), datetime.fromisoformat(ended)
    return None


def _accepted_at(events: Sequence[Event], begin: Event, end: Event | None) -> datetime:
    """When AWS took the disruptive call of the step `begin` announced (the announcement if no event says)."""
    accepted = [
        e.timestamp
        for e in events
        if e.type in _ACCEPTED and e.timestamp >= begin.timestamp and (end is None or e.timestamp <= end.timestamp)
    ]
    return accepted[-1] if accepted else begin.timestamp
