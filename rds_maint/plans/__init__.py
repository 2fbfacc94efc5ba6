"""Plans: which steps an operation has, from a cluster snapshot, its params and preflight facts.

Pure data, no I/O: each operation type registers a builder (and, where it differs from the
temp-instance default, an unwinder for abort and rollback).
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
)
from rds_maint.names import temp_instance_id
from rds_maint.plans.base import Plan
from rds_maint.plans.engine_upgrade import plan_engine_upgrade, unwind_engine_upgrade
from rds_maint.plans.instance_cycle import InstanceCycleFacts, plan_instance_cycle, unwind_instance_cycle
from rds_maint.plans.instance_type_change import plan_instance_type_change
from rds_maint.plans.rollback import unwind_temp_instance_operation
from rds_maint.plans.storage_type_change import (
    StorageTypeChangeFacts,
    plan_storage_type_change,
    unwind_storage_type_change,
)
from rds_maint.snapshots import ClusterSnapshot

__all__ = [
    "InstanceCycleFacts",
    "Plan",
    "StorageTypeChangeFacts",
    "build_plan",
    "temp_instance_id",
    "unwind_steps",
]

T = TypeVar("T")
UnwindKind = Literal["abort", "rollback"]
# Each builder takes the params and the preflight facts of its own type; the adapter below narrows them.
Builder = Callable[[ClusterSnapshot, OperationParams, str, object], Plan]
Unwinder = Callable[[Operation, UnwindKind], list[Step]]


def _narrow(value: object, expected: type[T], what: str) -> T:
    """The value as the type its operation type takes; a mismatch is a bug in the caller, never bad input."""
    if not isinstance(value, expected):
        raise TypeError(f"{what}: expected {expected.__name__}, got {type(value).__name__}")
    return value


def _instance_type_change(cluster: ClusterSnapshot, params: OperationParams, op_id: str, facts: object) -> Plan:
    return plan_instance_type_change(cluster, _narrow(params, InstanceTypeChangeParams, "params"), op_id)


def _storage_type_change(cluster: ClusterSnapshot, params: OperationParams, op_id: str, facts: object) -> Plan:
    typed = StorageTypeChangeFacts() if facts is None else _narrow(facts, StorageTypeChangeFacts, "facts")
    return plan_storage_type_change(cluster, _narrow(params, StorageTypeChangeParams, "params"), op_id, typed)


def _instance_cycle(cluster: ClusterSnapshot, params: OperationParams, op_id: str, facts: object) -> Plan:
    typed = InstanceCycleFacts() if facts is None else _narrow(facts, InstanceCycleFacts, "facts")
    return plan_instance_cycle(cluster, _narrow(params, InstanceCycleParams, "params"), op_id, typed)


def _engine_upgrade(cluster: ClusterSnapshot, params: OperationParams, op_id: str, facts: object) -> Plan:
    return plan_engine_upgrade(cluster, _narrow(params, EngineUpgradeParams, "params"), op_id, facts)


BUILDERS: dict[OperationType, Builder] = {
    OperationType.INSTANCE_TYPE_CHANGE: _instance_type_change,
    OperationType.STORAGE_TYPE_CHANGE: _storage_type_change,
    OperationType.INSTANCE_CYCLE: _instance_cycle,
    OperationType.ENGINE_UPGRADE: _engine_upgrade,
}
UNWINDERS: dict[OperationType, Unwinder] = {
    OperationType.STORAGE_TYPE_CHANGE: unwind_storage_type_change,
    OperationType.INSTANCE_CYCLE: unwind_instance_cycle,
    OperationType.ENGINE_UPGRADE: unwind_engine_upgrade,
}


def build_plan(
    op_type: OperationType,
    cluster: ClusterSnapshot,
    params: OperationParams,
    operation_id: str,
    facts: object = None,
) -> Plan:
    """`facts` is what `rds_maint.preflight.preflight` answered for `op_type` (None: no preflight facts)."""
    builder = BUILDERS.get(op_type)
    if builder is None:
        raise BadInput(f"operation type '{op_type.value}' is not available in this version")
    return builder(cluster, params, operation_id, facts)


def unwind_steps(operation: Operation, kind: UnwindKind) -> list[Step]:
    """The steps that abort (restore the writer, remove what we created) or roll back (also undo changes)."""
    unwinder = UNWINDERS.get(operation.type, unwind_temp_instance_operation)
    return unwinder(operation, kind)
