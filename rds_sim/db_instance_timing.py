"""How long the changes of an RDS DB instance take on the virtual clock, and what one change under way looks like.

Figures (seconds of virtual time, before the timeline's `time_scale`, with its seeded jitter):

* storage: a short lag, then `modifying` for minutes, then `storage-optimization` for hours, longer for larger
  volumes ("usually short, but can sometimes take up to and even beyond 24 hours": RDS user guide, "DB instance
  status"; hours to days: re:Post "rds-stuck-in-storage-optimization"); the next storage change waits 6 hours after
  the last one, or until optimization ends, whichever is later (same re:Post article; RDS-EVENT-0220's text: "This
  takes at least 6 hours").
* class change: an outage for the whole change on a Single-AZ instance; on a Multi-AZ one the standby is changed
  first, then a failover of typically 60-120 s (RDS user guide, "Multi-AZ DB instance deployments"; FIELD_NOTES 5.3).
* reboot: about a minute; with failover, the failover itself.
* in-place engine upgrade: tens of minutes, primary and standby down together (RDS user guide, "Upgrading a DB
  instance engine version": "the primary and standby DB instances are upgraded at the same time and you experience
  an outage until the upgrade is complete").
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from rds_sim.db_instance_storage import SimulatedStorage

__all__ = ["STORAGE_COOLDOWN", "ChangeKind", "DbInstanceChange", "DbInstanceDurations", "ScheduledEvent", "span"]

STORAGE_COOLDOWN = timedelta(hours=6)
ChangeKind = Literal["storage", "class", "reboot", "upgrade"]


@dataclass(frozen=True)
class DbInstanceDurations:
    modify_lag: float = 15
    storage_modify: float = 600
    optimization_base: float = 7200
    optimization_per_gib: float = 10
    class_modify: float = 900
    failover: float = 90
    reboot_lag: float = 3
    reboot: float = 60
    upgrade_lag: float = 30
    upgrade: float = 2400
    jitter: float = 0.1


def span(
    durations: DbInstanceDurations, name: str, key: str, time_scale: float, seed: int, extra: float = 0
) -> timedelta:
    """A figure of `durations` (plus `extra` seconds), scaled and jittered by (seed, key, name) alone."""
    base = (float(getattr(durations, name)) + extra) * time_scale
    jitter = max(0.0, min(durations.jitter, 0.1))
    draw = random.Random(f"{seed}|{key}|{name}").uniform(-jitter, jitter) if jitter else 0.0
    return timedelta(seconds=max(0.0, base * (1.0 + draw)))


@dataclass
class ScheduledEvent:
    """A DescribeEvents row the change will write when its time comes (RDS event id kept for the docs and tests)."""

    at: datetime
    event_id: str
    category: str
    message: str
    recorded: bool = False


@dataclass
class DbInstanceChange:
    """One accepted change of a DB instance: lag until `visible_at`, `status` until `ends_at`, then its effect.

    `outage`: the span in which the instance takes no connections (writes and reads); `failover`: the span of a
    Multi-AZ failover, whose end swaps AvailabilityZone and SecondaryAvailabilityZone.
    """

    instance_id: str
    kind: ChangeKind
    status: str
    called_at: datetime
    visible_at: datetime
    ends_at: datetime
    pending: dict[str, Any] = field(default_factory=dict)
    target: dict[str, Any] = field(default_factory=dict)
    storage: SimulatedStorage | None = None
    outage: tuple[datetime, datetime] | None = None
    failover: tuple[datetime, datetime] | None = None
    events: list[ScheduledEvent] = field(default_factory=list)
    swapped: bool = False
    ended: bool = False

    def in_lag(self, now: datetime) -> bool:
        return not self.ended and now < self.visible_at

    def event(self, at: datetime, event_id: str, category: str, message: str) -> None:
        self.events.append(ScheduledEvent(at, event_id, category, message))
