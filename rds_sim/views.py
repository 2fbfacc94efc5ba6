"""What a test reads back from the simulator: the call log and a person's view of a cluster."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class SimCall:
    """One RDS call a simulated client made.

    `error_code` is the error AWS answered (None: a normal answer; `InternalFailure` for a
    response lost after the call took effect). `applied` says whether the call took effect in
    the simulated AWS. `crashed` marks a call AWS applied and answered normally but whose caller
    died (`SimulatedCrash`) before reading the answer: it counts as successful.
    "Never did a step twice" is a statement about applied calls.
    """

    at: datetime
    operation: str
    params: dict[str, Any]
    error_code: str | None = None
    applied: bool = False
    crashed: bool = False

    @property
    def succeeded(self) -> bool:
        return self.error_code is None


@dataclass(frozen=True)
class MemberView:
    instance_class: str
    status: str
    promotion_tier: int
    tags: dict[str, str]
    availability_zone: str | None
    parameter_apply_status: str | None
    pending_class: str | None = None
    is_writer: bool = False


@dataclass(frozen=True)
class ClusterView:
    """The cluster as the console shows it now: overlay applied, no faults, not counted."""

    cluster_id: str
    status: str
    writer: str | None
    members: dict[str, MemberView] = field(default_factory=dict)
    engine: str = ""
    engine_version: str = ""
    storage_type: str = ""
    pending_storage_type: str | None = None
    io_optimized_next_allowed: datetime | None = None
