"""Which builder plans each (kind of target, operation type), and which unwinder aborts or rolls it back.

Pure data, no I/O: each (kind of target, operation type) registers a builder (and, where it differs
from the Aurora temp-instance default, an unwinder for abort and rollback). The kinds are those of
DESIGN section 10: an Aurora cluster, a Multi-AZ DB cluster, an RDS DB instance. It imports every plan
type, so it is loaded only where a plan is built or unwound (`rds_maint.plans` re-exports it lazily).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, TypeVar

from rds_maint.errors import BadInput
from rds_maint.model import (
    EngineUpgradeParams,
    InstanceCycleParams,
    InstanceTypeChangeParams,
    Operation,
    OperationParams,
    OperationType,
    Step,
    StorageTypeChangeParams,
    TargetKind,
)
from rds_maint.names import temp_instance_id
from rds_maint.plans import (
    db_instance_class,
    db_instance_cycle,
    db_instance_in_place_upgrade,
    db_instance_storage,
    db_instance_upgrade,
    multi_az_cluster,
)
from rds_maint.plans.base import Plan, narrowed
from rds_maint.plans.engine_upgrade import plan_engine_upgrade, unwind_engine_upgrade
from rds_maint.plans.instance_cycle import InstanceCycleFacts, plan_instance_cycle, unwind_instance_cycle
from rds_maint.plans.instance_type_change import plan_instance_type_change
from rds_maint.plans.rollback import unwind_temp_instance_operation
from rds_maint.plans.storage_type_change import (
    StorageTypeChangeFacts,
    plan_storage_type_change,
    unwind_storage_type_change,
)
from rds_maint.snapshots import ClusterSnapshot, InstanceSnapshot, Target, target_kind

__all__ = [
    "BUILDERS",
    "UNWINDERS",
    "InstanceCycleFacts",
    "Plan",
    "StorageTypeChangeFacts",
    "build_plan",
    "rollback_limits",
    "temp_instance_id",
    "unwind_steps",
]

T = TypeVar("T")
UnwindKind = Literal["abort", "rollback"]
# Each builder takes the target, params and preflight facts of its own kind and type; the adapters narrow them.
Builder = Callable[[Target, OperationParams, str, object], Plan]
Unwinder = Callable[[Operation, UnwindKind], list[Step]]


def _cluster(target: Target) -> ClusterSnapshot:
    return narrowed(target, ClusterSnapshot, "target")


def _instance(target: Target) -> InstanceSnapshot:
    return narrowed(target, InstanceSnapshot, "target")


def _instance_type_change(target: Target, params: OperationParams, op_id: str, facts: object) -> Plan:
    return plan_instance_type_change(_cluster(target), narrowed(params, InstanceTypeChangeParams, "params"), op_id)


def _storage_type_change(target: Target, params: OperationParams, op_id: str, facts: object) -> Plan:
    typed = StorageTypeChangeFacts() if facts is None else narrowed(facts, StorageTypeChangeFacts)
    return plan_storage_type_change(_cluster(target), narrowed(params, StorageTypeChangeParams, "params"), op_id, typed)


def _instance_cycle(target: Target, params: OperationParams, op_id: str, facts: object) -> Plan:
    typed = InstanceCycleFacts() if facts is None else narrowed(facts, InstanceCycleFacts)
    return plan_instance_cycle(_cluster(target), narrowed(params, InstanceCycleParams, "params"), op_id, typed)


def _engine_upgrade(target: Target, params: OperationParams, op_id: str, facts: object) -> Plan:
    return plan_engine_upgrade(_cluster(target), narrowed(params, EngineUpgradeParams, "params"), op_id, facts)


def _db_instance_storage(target: Target, params: OperationParams, op_id: str, facts: object) -> Plan:
    typed = narrowed(params, StorageTypeChangeParams, "params")
    return db_instance_storage.plan_db_instance_storage_change(_instance(target), typed, op_id, facts)


def _db_instance_class(target: Target, params: OperationParams, op_id: str, facts: object) -> Plan:
    typed = narrowed(params, InstanceTypeChangeParams, "params")
    return db_instance_class.plan_db_instance_class_change(_instance(target), typed, op_id, facts)


def _db_instance_cycle(target: Target, params: OperationParams, op_id: str, facts: object) -> Plan:
    typed = narrowed(params, InstanceCycleParams, "params")
    return db_instance_cycle.plan_db_instance_reboot(_instance(target), typed, op_id, facts)


def _db_instance_upgrade(target: Target, params: OperationParams, op_id: str, facts: object) -> Plan:
    typed = narrowed(params, EngineUpgradeParams, "params")
    if typed.method == "in_place":
        return db_instance_in_place_upgrade.plan_db_instance_in_place_upgrade(_instance(target), typed, op_id, facts)
    return db_instance_upgrade.plan_db_instance_blue_green(_instance(target), typed, op_id, facts)


def _multi_az(op_type: OperationType) -> Builder:
    def build(target: Target, params: OperationParams, op_id: str, facts: object) -> Plan:
        return multi_az_cluster.plan_multi_az_cluster(op_type, _cluster(target), params, op_id, facts)

    return build


BUILDERS: dict[tuple[TargetKind, OperationType], Builder] = {
    ("aurora_cluster", OperationType.INSTANCE_TYPE_CHANGE): _instance_type_change,
    ("aurora_cluster", OperationType.STORAGE_TYPE_CHANGE): _storage_type_change,
    ("aurora_cluster", OperationType.INSTANCE_CYCLE): _instance_cycle,
    ("aurora_cluster", OperationType.ENGINE_UPGRADE): _engine_upgrade,
    ("db_instance", OperationType.STORAGE_TYPE_CHANGE): _db_instance_storage,
    ("db_instance", OperationType.INSTANCE_TYPE_CHANGE): _db_instance_class,
    ("db_instance", OperationType.INSTANCE_CYCLE): _db_instance_cycle,
    ("db_instance", OperationType.ENGINE_UPGRADE): _db_instance_upgrade,
    **{("multi_az_cluster", t): _multi_az(t) for t in OperationType},
}


def _db_instance_unwinder(operation: Operation, kind: UnwindKind) -> list[Step]:
    if operation.type is OperationType.STORAGE_TYPE_CHANGE:
        return db_instance_storage.unwind_db_instance_storage_change(operation, kind)
    if operation.type is OperationType.INSTANCE_TYPE_CHANGE:
        return db_instance_class.unwind_db_instance_class_change(operation, kind)
    if operation.type is OperationType.INSTANCE_CYCLE:
        return db_instance_cycle.unwind_db_instance_reboot(operation, kind)
    if EngineUpgradeParams.model_validate(operation.parameters).method == "in_place":
        return db_instance_in_place_upgrade.unwind_db_instance_in_place_upgrade(operation, kind)
    return db_instance_upgrade.unwind_db_instance_blue_green(operation, kind)


UNWINDERS: dict[tuple[TargetKind, OperationType], Unwinder] = {
    ("aurora_cluster", OperationType.STORAGE_TYPE_CHANGE): unwind_storage_type_change,
    ("aurora_cluster", OperationType.INSTANCE_CYCLE): unwind_instance_cycle,
    ("aurora_cluster", OperationType.ENGINE_UPGRADE): unwind_engine_upgrade,
    **{("db_instance", t): _db_instance_unwinder for t in OperationType},
    **{("multi_az_cluster", t): multi_az_cluster.unwind_multi_az_cluster for t in OperationType},
}


def rollback_limits(operation: Operation) -> str | None:
    """What a rollback of `operation` cannot undo (a storage change, a reboot, an in-place upgrade), for the
    answer to say before it is accepted; None: the kind's unwinder undoes what was done (or says it in a step).
    """
    if operation.target_type == "multi_az_cluster":
        return multi_az_cluster.rollback_limits(operation)
    if operation.target_type != "db_instance":
        return None
    if operation.type is OperationType.STORAGE_TYPE_CHANGE:
        return db_instance_storage.rollback_limits(operation)
    if operation.type is OperationType.INSTANCE_TYPE_CHANGE:
        return db_instance_class.rollback_limits(operation)
    if operation.type is OperationType.INSTANCE_CYCLE:
        return db_instance_cycle.rollback_limits(operation)
    if EngineUpgradeParams.model_validate(operation.parameters).method == "in_place":
        return db_instance_in_place_upgrade.rollback_limits(operation)
    return db_instance_upgrade.rollback_limits(operation)


def build_plan(
    op_type: OperationType,
    target: Target,
    params: OperationParams,
    operation_id: str,
    facts: object = None,
) -> Plan:
    """`facts` is what `rds_maint.planning.preflight` answered for `op_type` (None: no preflight facts)."""
    kind = target_kind(target)
    builder = BUILDERS.get((kind, op_type))
    if builder is None:
        raise BadInput(f"operation type '{op_type.value}' is not available for a {kind} in this version")
    return builder(target, params, operation_id, facts)


def unwind_steps(operation: Operation, kind: UnwindKind) -> list[Step]:
    """The steps that abort (restore the writer, remove what we created) or roll back (also undo changes)."""
    unwinder = UNWINDERS.get((operation.target_type, operation.type), unwind_temp_instance_operation)
    return unwinder(operation, kind)
