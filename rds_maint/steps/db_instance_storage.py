"""Step kinds (params and records) for storage_type_change on an RDS DB instance.

check_instance -> modify_storage (one ModifyDBInstance, waits until the new storage shows) ->
wait_optimization (until the instance has left `storage-optimization`) -> verify. None of them is
disruptive: a storage change runs online (the instance stays available; I/O may be slower).
"""

from __future__ import annotations

from rds_maint.steps.base import NoRecord, StepKind, StepParams, StepRecord

__all__ = [
    "CHECK_DB_INSTANCE_STORAGE",
    "MODIFY_DB_INSTANCE_STORAGE",
    "VERIFY_DB_INSTANCE_STORAGE",
    "WAIT_DB_INSTANCE_OPTIMIZATION",
    "DbInstanceStorageParams",
    "DbInstanceStorageRecord",
    "ModifyDbInstanceStorageParams",
    "ModifyDbInstanceStorageRecord",
    "StorageOptimizationRecord",
]


class DbInstanceStorageParams(StepParams):
    """The instance and the storage it should end with (None: that value is not compared)."""

    instance_id: str
    storage_type: str
    allocated_storage: int | None = None
    iops: int | None = None
    storage_throughput: int | None = None


class DbInstanceStorageRecord(StepRecord):
    """The storage the instance showed when the step ended."""

    storage_type: str | None = None
    allocated_storage: int | None = None
    iops: int | None = None
    storage_throughput: int | None = None
    status: str | None = None


class ModifyDbInstanceStorageParams(DbInstanceStorageParams):
    """The target, whether AllocatedStorage is sent with it, and the storage before (for events and rollback)."""

    send_allocated_storage: bool = False
    from_storage_type: str | None = None
    from_allocated_storage: int | None = None
    from_iops: int | None = None
    from_storage_throughput: int | None = None


class ModifyDbInstanceStorageRecord(DbInstanceStorageRecord):
    # Turn one notes the time before any call (saved); a later turn looks for AWS's evidence of a change since.
    modify_marked_at: str | None = None
    modify_attempted_at: str | None = None
    adopted: bool = False


class StorageOptimizationRecord(DbInstanceStorageRecord):
    optimization_seen: bool = False
    optimization_ended_at: str | None = None


CHECK_DB_INSTANCE_STORAGE = StepKind("check_db_instance_storage", DbInstanceStorageParams, NoRecord)
MODIFY_DB_INSTANCE_STORAGE = StepKind(
    "modify_db_instance_storage",
    ModifyDbInstanceStorageParams,
    ModifyDbInstanceStorageRecord,
    transition="instance_storage",
)
WAIT_DB_INSTANCE_OPTIMIZATION = StepKind(
    "wait_db_instance_storage_optimization",
    DbInstanceStorageParams,
    StorageOptimizationRecord,
    transition="instance_storage_optimization",
)
VERIFY_DB_INSTANCE_STORAGE = StepKind("verify_db_instance_storage", DbInstanceStorageParams, DbInstanceStorageRecord)
