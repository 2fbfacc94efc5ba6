"""Step kinds (params and records) for Multi-AZ DB clusters: ModifyDBCluster, RebootDBCluster, member reboots.

A Multi-AZ DB cluster is changed as a whole ("You can't modify the DB instances within a Multi-AZ DB
cluster", RDS user guide): one ModifyDBCluster per operation, whose kind says what it interrupts. A class
change and an engine upgrade go reader by reader and then fail the writer over (`multi_az_failover`); a
storage change runs online; a major engine upgrade is stated as downtime for the whole step, as AWS does
not say how long writes stop. Member reboots reuse the Aurora reboot's params and record (the same
evidence rules), under a kind of their own.
"""

from __future__ import annotations

from rds_maint.steps.base import StepKind, StepParams, StepRecord
from rds_maint.steps.cluster import RebootInstanceParams, RebootInstanceRecord

__all__ = [
    "MODIFY_MULTI_AZ_CLASS",
    "MODIFY_MULTI_AZ_STORAGE",
    "MULTI_AZ_MODIFY_KINDS",
    "REBOOT_MULTI_AZ_CLUSTER",
    "REBOOT_MULTI_AZ_MEMBER",
    "UPGRADE_MULTI_AZ_ENGINE",
    "UPGRADE_MULTI_AZ_ENGINE_MAJOR",
    "VERIFY_MULTI_AZ_CLUSTER",
    "ModifyMultiAzClusterParams",
    "ModifyMultiAzClusterRecord",
    "MultiAzShape",
    "RebootMultiAzClusterParams",
    "RebootMultiAzClusterRecord",
    "VerifyMultiAzClusterParams",
    "VerifyMultiAzClusterRecord",
]


class MultiAzShape(StepParams):
    """What ModifyDBCluster sets (None: left as it is); also what a verify expects."""

    instance_class: str | None = None
    storage_type: str | None = None
    iops: int | None = None
    allocated_storage: int | None = None
    engine_version: str | None = None


class ModifyMultiAzClusterParams(StepParams):
    cluster_id: str
    target: MultiAzShape
    # The cluster's values of the same fields when the plan was made (what a rollback goes back to).
    original: MultiAzShape
    allow_major: bool = False


class ModifyMultiAzClusterRecord(StepRecord):
    # ISO times: the mark saved before the call, the turn that sent ModifyDBCluster, when AWS showed it moving.
    marked_at: str | None = None
    attempted_at: str | None = None
    seen_moving_at: str | None = None


MODIFY_MULTI_AZ_STORAGE = StepKind(
    "modify_multi_az_storage",
    ModifyMultiAzClusterParams,
    ModifyMultiAzClusterRecord,
    transition="multi_az_cluster_modify",
)
MODIFY_MULTI_AZ_CLASS = StepKind(
    "modify_multi_az_class",
    ModifyMultiAzClusterParams,
    ModifyMultiAzClusterRecord,
    disruptive=True,
    transition="multi_az_cluster_modify",
    interruption="multi_az_failover",
)
UPGRADE_MULTI_AZ_ENGINE = StepKind(
    "upgrade_multi_az_engine",
    ModifyMultiAzClusterParams,
    ModifyMultiAzClusterRecord,
    disruptive=True,
    transition="multi_az_cluster_modify",
    interruption="multi_az_failover",
)
UPGRADE_MULTI_AZ_ENGINE_MAJOR = StepKind(
    "upgrade_multi_az_engine_major",
    ModifyMultiAzClusterParams,
    ModifyMultiAzClusterRecord,
    disruptive=True,
    transition="multi_az_cluster_modify",
    interruption="downtime",
)
MULTI_AZ_MODIFY_KINDS = (
    MODIFY_MULTI_AZ_STORAGE,
    MODIFY_MULTI_AZ_CLASS,
    UPGRADE_MULTI_AZ_ENGINE,
    UPGRADE_MULTI_AZ_ENGINE_MAJOR,
)


class RebootMultiAzClusterParams(StepParams):
    cluster_id: str
    only_if_pending: bool = False


class RebootMultiAzClusterRecord(StepRecord):
    marked_at: str | None = None
    attempted_at: str | None = None
    seen_moving_at: str | None = None
    parameter_status: list[str] = []


REBOOT_MULTI_AZ_CLUSTER = StepKind(
    "reboot_multi_az_cluster",
    RebootMultiAzClusterParams,
    RebootMultiAzClusterRecord,
    disruptive=True,
    transition="cluster_reboot",
    interruption="downtime",
)

REBOOT_MULTI_AZ_MEMBER = StepKind(
    "reboot_multi_az_member", RebootInstanceParams, RebootInstanceRecord, transition="reboot"
)


class VerifyMultiAzClusterParams(StepParams):
    cluster_id: str
    expected: MultiAzShape
    rebooted: list[str] = []
    require_in_sync: list[str] = []


class VerifyMultiAzClusterRecord(StepRecord):
    writer: str | None = None
    classes: dict[str, str] = {}
    storage_type: str | None = None
    iops: int | None = None
    allocated_storage: int | None = None
    engine_version: str | None = None


VERIFY_MULTI_AZ_CLUSTER = StepKind("verify_multi_az_cluster", VerifyMultiAzClusterParams, VerifyMultiAzClusterRecord)
