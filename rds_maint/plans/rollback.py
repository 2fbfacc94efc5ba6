"""Steps that unwind an operation, built from what it recorded (pure, like every plan).

abort: put the writer back on the original writer and delete the temp instance.
rollback: the same, after reverting every instance the operation began to change.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from rds_maint.model import Operation, Step, StepState
from rds_maint.plans.base import StepBuilder
from rds_maint.snapshots import ClusterSnapshot
from rds_maint.steps.cluster import (
    CREATE_TEMP_INSTANCE,
    DELETE_TEMP_INSTANCE,
    FAILOVER,
    MODIFY_INSTANCE_CLASS,
    DeleteTempInstanceParams,
    FailoverParams,
    ModifyInstanceClassParams,
)

__all__ = ["TOUCHED", "final_cleanup_steps", "final_state_problems", "unwind_temp_instance_operation"]

TOUCHED = frozenset({StepState.IN_PROGRESS, StepState.WAITING, StepState.COMPLETED, StepState.FAILED})


def _standby_for_writer_rollback(operation: Operation, rolled_back_readers: list[str]) -> str | None:
    """An instance to hold the writer while the original writer changes back: one already on the wanted class.

    First a reader this rollback puts back before the writer, then a planned reader never changed, then
    another member that had the writer's class; the temp instance (the target class) only as a last resort.
    """
    if rolled_back_readers:
        return rolled_back_readers[0]
    context = operation.context
    writer = context.get("original_writer")
    temp_id = context.get("temp_instance_id")
    classes: dict[str, str] = dict(context.get("original_classes") or {})
    wanted = classes.get(str(writer))
    untouched = [
        change.instance_id
        for change in _class_changes(operation, lambda state: state not in TOUCHED)
        if change.instance_id != writer
    ]
    others = [i for i, c in sorted(classes.items()) if c == wanted and i not in (writer, temp_id)]
    candidates = [*untouched, *others]
    if candidates:
        return candidates[0]
    temp_made = any(s.action == CREATE_TEMP_INSTANCE.action and s.state is StepState.COMPLETED for s in operation.steps)
    temp_gone = any(s.action == DELETE_TEMP_INSTANCE.action and s.state in TOUCHED for s in operation.steps)
    return str(temp_id) if temp_id and temp_made and not temp_gone else None


def unwind_temp_instance_operation(operation: Operation, kind: Literal["abort", "rollback"]) -> list[Step]:
    context = operation.context
    builder = StepBuilder(offset=len(operation.steps))
    writer = context.get("original_writer")
    if kind == "rollback":
        _add_class_rollbacks(builder, operation, writer)
    temp_id = context.get("temp_instance_id")
    failover_began = any(s.action == FAILOVER.action and s.state in TOUCHED for s in operation.steps)
    if writer and failover_began:
        builder.step(
            FAILOVER,
            FailoverParams(cluster_id=operation.cluster_id, target=writer),
            name=f"{kind}_failback",
            description=f"{kind.capitalize()}: make {writer} the writer again (if it is not)",
        )
    temp_began = any(s.action == CREATE_TEMP_INSTANCE.action and s.state in TOUCHED for s in operation.steps)
    if temp_id and temp_began:
        builder.step(
            DELETE_TEMP_INSTANCE,
            DeleteTempInstanceParams(cluster_id=operation.cluster_id, instance_id=temp_id),
            name=f"{kind}_delete_temp_instance",
            description=f"{kind.capitalize()}: delete temp instance {temp_id} (if it exists)",
        )
    return builder.steps


def _class_changes(operation: Operation, state_matches: Callable[[StepState], bool]) -> list[ModifyInstanceClassParams]:
    """The class-change steps of the operation whose state matches, in plan order."""
    return [
        MODIFY_INSTANCE_CLASS.parse_params(s.parameters)
        for s in operation.steps
        if s.action == MODIFY_INSTANCE_CLASS.action and state_matches(s.state)
    ]


def _add_class_rollbacks(builder: StepBuilder, operation: Operation, writer: str | None) -> None:
    """Every class change begun, undone: readers first, so that an instance on the original class can hold the
    writer while the original writer changes back (after the failback it is the writer, and a writer is never
    changed in place)."""
    changes = _class_changes(operation, lambda state: state in TOUCHED)
    readers = [c for c in changes if c.instance_id != writer]
    writer_change = [c for c in changes if c.instance_id == writer]
    for change in readers:
        _add_class_rollback(builder, operation, change)
    if not writer_change:
        return
    standby = _standby_for_writer_rollback(operation, [c.instance_id for c in readers])
    if standby:
        builder.step(
            FAILOVER,
            FailoverParams(cluster_id=operation.cluster_id, target=standby, only_if_writer=writer),
            name=f"rollback_failover_to:{standby}",
            description=f"Rollback: if {writer} is the writer, fail over to {standby} while {writer} changes back",
        )
    _add_class_rollback(builder, operation, writer_change[0])


def _add_class_rollback(builder: StepBuilder, operation: Operation, change: ModifyInstanceClassParams) -> None:
    builder.step(
        MODIFY_INSTANCE_CLASS,
        ModifyInstanceClassParams(
            cluster_id=operation.cluster_id,
            instance_id=change.instance_id,
            instance_class=change.original_class,
            original_class=change.instance_class,
        ),
        name=f"rollback_class:{change.instance_id}",
        description=f"Rollback: change {change.instance_id} back to {change.original_class}",
    )


def final_state_problems(operation: Operation, cluster: ClusterSnapshot) -> list[str]:
    """What breaks DESIGN section 9 in `cluster` now: the writer on the temp instance, the temp instance in it."""
    temp_id = operation.context.get("temp_instance_id")
    if not temp_id:
        return []
    problems = []
    if cluster.writer_id == temp_id:
        problems.append(f"temp instance {temp_id} is the writer of {cluster.id}")
    if cluster.member(temp_id) is not None:
        problems.append(f"temp instance {temp_id} is still in cluster {cluster.id}")
    return problems


def final_cleanup_steps(operation: Operation, cluster: ClusterSnapshot) -> list[Step]:
    """The unwind steps a final state still needs: fail back to the original writer, delete the temp instance.

    Appended by the engine when an answer (mark_complete, or an unwind that was cut short) would end the
    operation with the temp instance as writer or in the cluster.
    """
    temp_id = operation.context.get("temp_instance_id")
    writer = operation.context.get("original_writer")
    builder = StepBuilder(offset=len(operation.steps))
    if not temp_id:
        return []
    if cluster.writer_id == temp_id:
        target = writer if writer and cluster.member(writer) is not None else None
        if target is None:  # the original writer is gone: the best other member takes over
            others = [m for m in cluster.members if m.id != temp_id and not m.instance.operation_tag]
            target = others[0].id if others else None
        if target is not None:
            builder.step(
                FAILOVER,
                FailoverParams(cluster_id=operation.cluster_id, target=target),
                name="final_failback",
                description=f"Before the operation ends: make {target} the writer again (the temp instance is the "
                "writer)",
            )
    if cluster.member(temp_id) is not None:
        builder.step(
            DELETE_TEMP_INSTANCE,
            DeleteTempInstanceParams(cluster_id=operation.cluster_id, instance_id=temp_id),
            name="final_delete_temp_instance",
            description=f"Before the operation ends: delete temp instance {temp_id}",
        )
    return builder.steps
