"""Step kinds of the temp-instance operations on an Aurora cluster (class change, storage, cycle).

Field names are the JSON keys of `step.parameters` and `step.result` as stored: operations
written before these models existed read unchanged. Times an action records for itself (when it
marked a reboot, since when a cluster reads quiet) stay ISO strings, as they were written.
"""

from __future__ import annotations

from rds_maint.steps.base import NoRecord, StepKind, StepParams, StepRecord

__all__ = [
    "CHECK_CLUSTER",
    "CHECK_CLUSTER_STORAGE",
    "CREATE_TEMP_INSTANCE",
    "DELETE_TEMP_INSTANCE",
    "FAILOVER",
    "MODIFY_CLUSTER_STORAGE",
    "MODIFY_INSTANCE_CLASS",
    "REBOOT_INSTANCE",
    "RECORD_NOTE",
    "RESTORE_PROMOTION_TIERS",
    "VERIFY_CLUSTER_STORAGE",
    "VERIFY_INSTANCE_CLASSES",
    "VERIFY_INSTANCE_CYCLE",
    "CheckClusterParams",
    "CheckClusterStorageParams",
    "ClusterStorageRecord",
    "CreateTempInstanceParams",
    "DeleteTempInstanceParams",
    "FailoverParams",
    "ModifyClusterStorageParams",
    "ModifyClusterStorageRecord",
    "ModifyInstanceClassParams",
    "RebootInstanceParams",
    "RebootInstanceRecord",
    "RecordNoteParams",
    "RestorePromotionTiersParams",
    "SkippableRecord",
    "VerifyClusterStorageParams",
    "VerifyClusterStorageRecord",
    "VerifyInstanceClassesParams",
    "VerifyInstanceClassesRecord",
    "VerifyInstanceCycleParams",
    "VerifyInstanceCycleRecord",
]

# -- shared ---------------------------------------------------------------------------------------------


class SkippableRecord(StepRecord):
    """A step on one planned instance that found it gone and skipped it (never recreating it)."""

    vanished: bool = False


# -- the checks before and after ------------------------------------------------------------------------


class CheckClusterParams(StepParams):
    cluster_id: str
    expected_writer: str
    members: list[str] = []


CHECK_CLUSTER = StepKind("check_cluster", CheckClusterParams, NoRecord)


class VerifyInstanceClassesParams(StepParams):
    cluster_id: str
    expected_writer: str
    expected_classes: dict[str, str] = {}


class VerifyInstanceClassesRecord(StepRecord):
    writer: str | None = None
    classes: dict[str, str] = {}
    vanished: list[str] = []
    # Readers that joined during the operation on another class: asked about once, then changed one at a time.
    new_readers_asked: list[str] = []
    new_changed: list[str] = []
    new_readers_left: list[str] = []


VERIFY_INSTANCE_CLASSES = StepKind("verify_instance_classes", VerifyInstanceClassesParams, VerifyInstanceClassesRecord)


# -- failover -------------------------------------------------------------------------------------------


class FailoverParams(StepParams):
    cluster_id: str
    target: str
    # Only when this instance is the writer now (a rollback's fail-back after a failback ran).
    only_if_writer: str | None = None


FAILOVER = StepKind("failover", FailoverParams, NoRecord, disruptive=True)


# -- instances ------------------------------------------------------------------------------------------


class CreateTempInstanceParams(StepParams):
    cluster_id: str
    instance_id: str
    instance_class: str
    engine: str
    parameter_group: str | None = None
    availability_zone: str | None = None
    promotion_tier: int = 0
    tags: dict[str, str] = {}
    # CreateDBInstance settings copied from the writer (network access, CA certificate, monitoring).
    settings: dict[str, str | int | bool] = {}


CREATE_TEMP_INSTANCE = StepKind("create_temp_instance", CreateTempInstanceParams, NoRecord)


class ModifyInstanceClassParams(StepParams):
    cluster_id: str
    instance_id: str
    instance_class: str
    # The class before this step: what a rollback changes the instance back to.
    original_class: str


MODIFY_INSTANCE_CLASS = StepKind("modify_instance_class", ModifyInstanceClassParams, SkippableRecord)


class DeleteTempInstanceParams(StepParams):
    cluster_id: str
    instance_id: str


DELETE_TEMP_INSTANCE = StepKind("delete_temp_instance", DeleteTempInstanceParams, NoRecord)


# -- storage --------------------------------------------------------------------------------------------


class CheckClusterStorageParams(StepParams):
    cluster_id: str
    target_storage_type: str


class ClusterStorageRecord(StepRecord):
    storage_type: str | None = None


CHECK_CLUSTER_STORAGE = StepKind("check_cluster_storage", CheckClusterStorageParams, ClusterStorageRecord)


class ModifyClusterStorageParams(StepParams):
    cluster_id: str
    storage_type: str
    original_storage_type: str | None = None
    # IOOptimizedNextAllowedModificationTime when the plan was made (ISO): a later one means AWS accepted a switch.
    next_allowed_before: str | None = None
    # Rollback only: how long a cluster that already reads the wanted type is watched before calling it done.
    confirm_quiet_seconds: int = 0


class ModifyClusterStorageRecord(StepRecord):
    # Since when (ISO) the cluster read the wanted type while this step made sure no change was on its way.
    quiet_since: str | None = None


MODIFY_CLUSTER_STORAGE = StepKind("modify_cluster_storage", ModifyClusterStorageParams, ModifyClusterStorageRecord)


class VerifyClusterStorageParams(StepParams):
    cluster_id: str
    storage_type: str
    restart_needed: list[str] = []


class VerifyClusterStorageRecord(StepRecord):
    storage_type: str | None = None
    io_optimized_next_allowed: str | None = None
    restart_needed: list[str] = []


VERIFY_CLUSTER_STORAGE = StepKind("verify_cluster_storage", VerifyClusterStorageParams, VerifyClusterStorageRecord)


# -- instance cycle -------------------------------------------------------------------------------------


class RebootInstanceParams(StepParams):
    cluster_id: str
    instance_id: str
    only_if_pending: bool = False


class RebootInstanceRecord(SkippableRecord):
    # ISO times: the mark made before the call (or an earlier turn's), and the turn that called RebootDBInstance.
    reboot_marked_at: str | None = None
    reboot_attempted_at: str | None = None
    was_pending: bool = False
    # The cluster parameter group's status for this member was pending-reboot at the mark: only then does the
    # wait read the whole cluster (DescribeDBClusters) once the member is back. None: not recorded (older steps).
    cluster_pending: bool | None = None
    left_available_at: str | None = None
    parameter_status: list[str] = []


REBOOT_INSTANCE = StepKind("reboot_instance", RebootInstanceParams, RebootInstanceRecord)


class RestorePromotionTiersParams(StepParams):
    cluster_id: str
    tiers: dict[str, int]


RESTORE_PROMOTION_TIERS = StepKind("restore_promotion_tiers", RestorePromotionTiersParams, NoRecord)


class VerifyInstanceCycleParams(StepParams):
    cluster_id: str
    expected_writer: str
    rebooted: list[str] = []
    expected_tiers: dict[str, int] = {}
    require_in_sync: list[str] = []


class VerifyInstanceCycleRecord(StepRecord):
    writer: str | None = None
    parameter_status: dict[str, str] = {}
    vanished: list[str] = []


VERIFY_INSTANCE_CYCLE = StepKind("verify_instance_cycle", VerifyInstanceCycleParams, VerifyInstanceCycleRecord)


class RecordNoteParams(StepParams):
    type: str = "note"
    message: str


RECORD_NOTE = StepKind("record_note", RecordNoteParams, NoRecord)
