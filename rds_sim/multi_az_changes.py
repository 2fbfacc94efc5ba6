"""The changes of a Multi-AZ DB cluster on the virtual clock: when each member is busy, when the writer moves.

Sources (docs/aws-behaviour.md, "Multi-AZ DB clusters"):

* a class change (ModifyDBCluster DBClusterInstanceClass) and a minor engine upgrade work member by member:
  the readers first, one at a time, then a reader becomes the writer (a failover, "typically less than 35
  seconds", FailoverDBCluster reference), then the old writer is changed ("Upgrading the engine version of a
  Multi-AZ DB cluster", RDS user guide; the same order is assumed for a class change, as the harsher
  answer would be a second failover, which AWS does not describe);
* a storage change (StorageType / Iops / AllocatedStorage) changes every member's volume at once, online;
* like Aurora's ModifyDBInstance, the cluster keeps reading `available` for a quiet moment after the call
  (`modify_lag`), so a caller that trusts the status at once is caught.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from rds_sim.world_protocol import World

__all__ = ["DURATIONS", "MultiAzChange", "MultiAzDurations", "MultiAzPhase", "plan_change"]

ChangeKind = Literal["modify", "reboot_member", "reboot_cluster", "failover"]
PhaseKind = Literal["modify", "failover", "reboot", "storage"]


@dataclass(frozen=True)
class MultiAzDurations:
    """Seconds of virtual time; no jitter (the Aurora timeline's jitter is not needed for the ordering)."""

    modify_lag: float = 30
    member_modify: float = 600  # one member's class change or engine upgrade
    storage_modify: float = 900
    storage_optimization: float = 3600
    failover_lag: float = 5
    failover: float = 35
    reboot_lag: float = 3
    member_reboot: float = 60
    cluster_reboot: float = 120


DURATIONS = MultiAzDurations()


@dataclass
class MultiAzPhase:
    start: datetime
    end: datetime
    kind: PhaseKind
    member: str | None  # None: every member (storage)
    status: str  # the member's status during the phase
    started: bool = False
    ended: bool = False


@dataclass
class MultiAzChange:
    cluster_id: str
    kind: ChangeKind
    called_at: datetime
    visible_at: datetime
    ends_at: datetime
    cluster_status: str
    phases: list[MultiAzPhase] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)  # the ModifyDBCluster values applied at the end
    started: bool = False
    ended: bool = False

    def status_at(self, now: datetime) -> str:
        for phase in self.phases:
            if phase.kind == "failover" and phase.start <= now < phase.end:
                return "failing-over" if self.kind == "failover" else self.cluster_status
        return self.cluster_status

    def member_status(self, instance_id: str, now: datetime) -> str | None:
        for phase in self.phases:
            if phase.start <= now < phase.end and phase.member in (instance_id, None) and phase.kind != "failover":
                return phase.status
        return None

    def what(self) -> str:
        if "EngineVersion" in self.params:
            return f"engine version {self.params['EngineVersion']}"
        if "DBClusterInstanceClass" in self.params:
            return f"DB instance class {self.params['DBClusterInstanceClass']}"
        return "storage " + ", ".join(f"{k}={v}" for k, v in sorted(self.params.items()))

    def start_message(self) -> str:
        if self.kind == "reboot_cluster":
            return "DB cluster is being rebooted"
        if self.kind == "failover":
            return "Started failover of the DB cluster"
        if self.kind == "reboot_member":
            return "Rebooting a member of the DB cluster"
        return f"Applying modification to {self.what()}"

    def end_message(self) -> str:
        if self.kind == "reboot_cluster":
            return "DB cluster rebooted"
        if self.kind == "failover":
            return "Completed failover of the DB cluster"
        return f"Finished applying modification to {self.what()}"


def plan_change(world: World, cluster: dict[str, Any], params: dict[str, Any], now: datetime) -> MultiAzChange:
    """The phases of one accepted ModifyDBCluster (`params`: only the values that change)."""
    cluster_id = str(cluster["DBClusterIdentifier"])
    members = world.moto.cluster_instances(cluster_id)
    writer = world.moto.writer(cluster_id)
    readers = sorted(m for m in members if m != writer)
    visible = now + timedelta(seconds=DURATIONS.modify_lag)
    phases: list[MultiAzPhase] = []
    at = visible
    rolling = "DBClusterInstanceClass" in params or "EngineVersion" in params
    status = "upgrading" if "EngineVersion" in params else "modifying"
    if rolling:
        step = timedelta(seconds=DURATIONS.member_modify)
        for reader in readers:
            phases.append(MultiAzPhase(at, at + step, "modify", reader, status))
            at += step
        if writer and readers:
            failover = timedelta(seconds=DURATIONS.failover)
            phases.append(MultiAzPhase(at, at + failover, "failover", readers[0], "available"))
            at += failover
        if writer:
            phases.append(MultiAzPhase(at, at + step, "modify", writer, status))
            at += step
    if "StorageType" in params or "AllocatedStorage" in params or "Iops" in params:
        span = timedelta(seconds=DURATIONS.storage_modify)
        phases.append(MultiAzPhase(at, at + span, "storage", None, "modifying"))
        at += span
    return MultiAzChange(
        cluster_id=cluster_id,
        kind="modify",
        called_at=now,
        visible_at=visible,
        ends_at=at,
        cluster_status=status,
        phases=phases,
        params=dict(params),
    )
