"""When things happen in the simulated Aurora: durations, transitions and their ordering.

Every change Aurora accepts becomes a `Transition` with three instants:

* `called_at`: the API call was accepted;
* `visible_at`: the status starts moving (after a *lag*: right after `ModifyDBInstance`
  the instance still reads `available` with its old class, which is what catches engines that
  trust a status too early);
* `ends_at`: the change is complete and its effect is applied to moto.

Transitions are settled lazily, in time order, whenever someone looks: no threads, no sleeping.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

Kind = Literal["create", "modify", "reboot", "failover", "delete", "storage"]
Event = Literal["visible", "end"]


@dataclass(frozen=True)
class Durations:
    """Seconds of virtual time (before `time_scale`); each span gets a seeded jitter of ±`jitter`."""

    create: float = 480
    modify: float = 600
    reboot: float = 60
    failover: float = 30
    delete: float = 300
    modify_lag: float = 30
    reboot_lag: float = 3
    failover_lag: float = 5
    # Aurora storage type change (ModifyDBCluster StorageType): the cluster reads `available` with the
    # old type for `storage_lag`, then `modifying` for `storage_modify`.
    storage_modify: float = 240
    storage_lag: float = 20
    jitter: float = 0.1


@dataclass
class Transition:
    """One change under way (or done) on one resource: an instance, or a cluster (failover, storage)."""

    resource_id: str
    kind: Kind
    called_at: datetime
    visible_at: datetime
    ends_at: datetime
    detail: dict[str, Any] = field(default_factory=dict)
    started: bool = field(default=False, compare=False)
    ended: bool = field(default=False, compare=False)

    def in_lag(self, now: datetime) -> bool:
        """Accepted, but the status has not started moving yet."""
        return not self.ended and now < self.visible_at

    @property
    def under_way(self) -> bool:
        return not self.ended


class Timeline:
    """The transitions of one simulated account and the seeded jitter of their durations."""

    def __init__(self, durations: Durations, time_scale: float = 1.0, seed: int = 0) -> None:
        if time_scale < 0:
            raise ValueError("time_scale must not be negative")
        self.durations = durations
        self.time_scale = time_scale
        self.seed = seed
        self.transitions: list[Transition] = []

    def span(self, name: str, key: str = "") -> timedelta:
        """A duration from `Durations`, scaled and jittered.

        The jitter is drawn from (seed, key, name) alone, so the n-th modify of an instance lasts
        the same whatever else happened in the account: timelines are realistic yet repeatable.
        """
        base = float(getattr(self.durations, name)) * self.time_scale
        jitter = max(0.0, min(self.durations.jitter, 0.1))
        draw = random.Random(f"{self.seed}|{key}|{name}").uniform(-jitter, jitter) if jitter else 0.0
        return timedelta(seconds=max(0.0, base * (1.0 + draw)))

    def schedule(
        self,
        resource_id: str,
        kind: Kind,
        called_at: datetime,
        *,
        lag: str | None,
        duration: str,
        detail: dict[str, Any] | None = None,
    ) -> Transition:
        occurrence = sum(1 for t in self.transitions if t.resource_id == resource_id and t.kind == kind)
        key = f"{resource_id}|{kind}|{occurrence}"
        visible_at = called_at + (self.span(lag, key) if lag else timedelta())
        transition = Transition(
            resource_id=resource_id,
            kind=kind,
            called_at=called_at,
            visible_at=visible_at,
            ends_at=visible_at + self.span(duration, key),
            detail=dict(detail or {}),
        )
        self.transitions.append(transition)
        return transition

    def under_way(self, resource_id: str, kinds: tuple[Kind, ...] | None = None) -> Transition | None:
        """The unfinished transition of a resource (at most one per kind group is ever open)."""
        for transition in self.transitions:
            if (
                transition.resource_id == resource_id
                and transition.under_way
                and (kinds is None or transition.kind in kinds)
            ):
                return transition
        return None

    def next_due(self, now: datetime) -> tuple[Event, Transition] | None:
        """The earliest event at or before `now` not yet processed; visible before end on ties."""
        due: list[tuple[datetime, int, int, Event, Transition]] = []
        for index, transition in enumerate(self.transitions):
            if transition.ended:
                continue
            if not transition.started and transition.visible_at <= now:
                due.append((transition.visible_at, 0, index, "visible", transition))
            elif transition.started and transition.ends_at <= now:
                due.append((transition.ends_at, 1, index, "end", transition))
        if not due:
            return None
        _, _, _, event, transition = min(due, key=lambda item: item[:3])
        return event, transition
