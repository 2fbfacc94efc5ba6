"""instance_type_change: every concerned member moves to the target class, one at a time."""

from __future__ import annotations

from rds_maint.errors import BadInput
from rds_maint.model import InstanceTypeChangeParams
from rds_maint.plans.base import Plan, StepBuilder
from rds_maint.plans.temp_instance import build_rolling_plan, select_members
from rds_maint.snapshots import ClusterSnapshot, MemberSnapshot
from rds_maint.steps.cluster import (
    MODIFY_INSTANCE_CLASS,
    VERIFY_INSTANCE_CLASSES,
    ModifyInstanceClassParams,
    VerifyInstanceClassesParams,
)

__all__ = ["plan_instance_type_change"]


def plan_instance_type_change(cluster: ClusterSnapshot, params: InstanceTypeChangeParams, operation_id: str) -> Plan:
    target = params.target_instance_type
    selection = select_members(cluster, params.exclude_instances)
    notes = list(selection.notes)
    to_change = [m for m in selection.concerned if m.instance.instance_class != target]
    for member in selection.concerned:
        if member.instance.instance_class == target:
            notes.append(f"{member.id}: already {target}, left as it is")
    if not to_change:
        raise BadInput(
            f"target_instance_type {target} is already the class of every instance concerned "
            f"({', '.join(m.id for m in selection.concerned)}); nothing to change"
        )

    def change(builder: StepBuilder, member: MemberSnapshot) -> None:
        builder.step(
            MODIFY_INSTANCE_CLASS,
            ModifyInstanceClassParams(
                cluster_id=cluster.id,
                instance_id=member.id,
                instance_class=target,
                original_class=member.instance.instance_class,
            ),
            name=f"modify_class:{member.id}",
            description=f"Change {member.id} from {member.instance.instance_class} to {target}",
        )

    def verify(builder: StepBuilder, writer: MemberSnapshot) -> None:
        builder.step(
            VERIFY_INSTANCE_CLASSES,
            VerifyInstanceClassesParams(
                cluster_id=cluster.id,
                expected_writer=writer.id,
                expected_classes={m.id: target for m in to_change},
            ),
            name="verify",
            description=f"Verify cluster {cluster.id}: writer {writer.id}, every changed instance in its new shape",
        )

    return build_rolling_plan(
        cluster=cluster,
        operation_id=operation_id,
        to_change=to_change,
        temp_class=target,
        skip_temp_instance=params.skip_temp_instance,
        change=change,
        verify=verify,
        notes=notes,
    )
