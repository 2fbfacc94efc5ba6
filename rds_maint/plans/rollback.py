"""Steps that unwind an operation, built from what it recorded (pure, like every plan).

abort: put the writer back on the original writer and delete the temp instance.
rollback: the same, after reverting every instance the operation began to change.
"""

from __future__ import annotations

from typing import Literal

from rds_maint.model import Operation, Step, StepState
from rds_maint.plans.base import StepBuilder

TOUCHED = frozenset({StepState.IN_PROGRESS, StepState.WAITING, StepState.COMPLETED, StepState.FAILED})


def unwind_temp_instance_operation(operation: Operation, kind: Literal["abort", "rollback"]) -> list[Step]:
    context = operation.context
    builder = StepBuilder(offset=len(operation.steps))
    if kind == "rollback":
        for step in operation.steps:
            if step.action == "modify_instance_class" and step.state in TOUCHED:
                instance_id = step.parameters["instance_id"]
                original = step.parameters["original_class"]
                builder.add(
                    f"rollback_class:{instance_id}",
                    "modify_instance_class",
                    f"Rollback: change {instance_id} back to {original}",
                    cluster_id=operation.cluster_id,
                    instance_id=instance_id,
                    instance_class=original,
                    original_class=step.parameters["instance_class"],
                )
    writer = context.get("original_writer")
    temp_id = context.get("temp_instance_id")
    failover_began = any(s.action == "failover" and s.state in TOUCHED for s in operation.steps)
    if writer and failover_began:
        builder.add(
            f"{kind}_failback",
            "failover",
            f"{kind.capitalize()}: make {writer} the writer again (if it is not)",
            cluster_id=operation.cluster_id,
            target=writer,
        )
    temp_began = any(s.action == "create_temp_instance" and s.state in TOUCHED for s in operation.steps)
    if temp_id and temp_began:
        builder.add(
            f"{kind}_delete_temp_instance",
            "delete_temp_instance",
            f"{kind.capitalize()}: delete temp instance {temp_id} (if it exists)",
            cluster_id=operation.cluster_id,
            instance_id=temp_id,
        )
    return builder.steps
