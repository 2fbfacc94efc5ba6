"""instance_cycle: a rolling reboot, to apply parameter changes that wait for a restart.

temp instance (the writer's class) -> fail over to it -> reboot the original writer -> each reader
in turn -> fail back -> delete the temp instance -> restore promotion tiers -> verify. Each
instance is rebooted once, one at a time. Rollback cannot undo a reboot: it puts the writer back,
removes the temp instance and restores the tiers, and says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from rds_maint.errors import BadInput
from rds_maint.model import InstanceCycleParams, Operation, Step, StepState
from rds_maint.parameters import is_pending_reboot, parameter_statuses
from rds_maint.plans.base import Plan, StepBuilder
from rds_maint.plans.rollback import unwind_temp_instance_operation
from rds_maint.plans.temp_instance import build_rolling_plan, select_members
from rds_maint.snapshots import ClusterSnapshot, MemberSnapshot
from rds_maint.steps.cluster import (
    REBOOT_INSTANCE,
    RECORD_NOTE,
    RESTORE_PROMOTION_TIERS,
    VERIFY_INSTANCE_CYCLE,
    RebootInstanceParams,
    RecordNoteParams,
    RestorePromotionTiersParams,
    VerifyInstanceCycleParams,
)

__all__ = ["InstanceCycleFacts", "plan_instance_cycle", "unwind_instance_cycle"]


@dataclass(frozen=True)
class InstanceCycleFacts:
    """What the preflight learnt from AWS: whether the writer's class is still sold (None: not asked,
    as no temp instance is made)."""

    writer_class_orderable: bool | None = None


def _statuses(member: MemberSnapshot) -> str:
    return ", ".join(parameter_statuses(member)) or "unknown"


def plan_instance_cycle(
    cluster: ClusterSnapshot, params: InstanceCycleParams, operation_id: str, facts: InstanceCycleFacts
) -> Plan:
    selection = select_members(cluster, params.exclude_instances, what="instance")
    notes = list(selection.notes)
    to_reboot = list(selection.concerned)
    if params.only_pending_reboot:
        to_reboot = [m for m in selection.concerned if is_pending_reboot(m)]
        if not to_reboot:
            states = "; ".join(f"{m.id}: {_statuses(m)}" for m in selection.concerned)
            raise BadInput(
                f"only_pending_reboot: no instance of cluster '{cluster.id}' has parameter changes pending a "
                f"reboot ({states}); nothing to reboot"
            )
        notes += [
            f"{m.id}: parameters {_statuses(m)}, not rebooted (only_pending_reboot)"
            for m in selection.concerned
            if m not in to_reboot
        ]
    writer = cluster.writer
    if (
        writer is not None
        and writer in to_reboot
        and not params.skip_temp_instance
        and facts.writer_class_orderable is False
    ):
        raise BadInput(
            f"the temp instance would take the writer's class {writer.instance.instance_class}, which AWS no longer "
            f"sells for {cluster.engine} {cluster.engine_version}; pass skip_temp_instance=true to fail over to a "
            "reader instead"
        )
    pending = [m.id for m in to_reboot if is_pending_reboot(m)]
    tiers = {m.id: m.instance.promotion_tier for m in selection.concerned}

    def reboot(builder: StepBuilder, member: MemberSnapshot) -> None:
        why = f"parameters {_statuses(member)}" if member.id in pending else "rolling reboot"
        builder.step(
            REBOOT_INSTANCE,
            RebootInstanceParams(
                cluster_id=cluster.id, instance_id=member.id, only_if_pending=params.only_pending_reboot
            ),
            name=f"reboot:{member.id}",
            description=f"Reboot {member.id} ({why}); wait until it has restarted and is available"
            + (" with its parameters in-sync" if member.id in pending else ""),
        )

    def restore_tiers(builder: StepBuilder) -> None:
        builder.step(
            RESTORE_PROMOTION_TIERS,
            RestorePromotionTiersParams(cluster_id=cluster.id, tiers=tiers),
            name="restore_promotion_tiers",
            description="Put back any promotion tier that changed: "
            + ", ".join(f"{k}={v}" for k, v in sorted(tiers.items())),
        )

    def verify(builder: StepBuilder, writer: MemberSnapshot) -> None:
        builder.step(
            VERIFY_INSTANCE_CYCLE,
            VerifyInstanceCycleParams(
                cluster_id=cluster.id,
                expected_writer=writer.id,
                rebooted=[m.id for m in to_reboot],
                expected_tiers=tiers,
                require_in_sync=pending,
            ),
            name="verify",
            description=f"Verify cluster {cluster.id}: writer {writer.id}, no temp instance, promotion tiers as "
            "before, every rebooted instance available" + (" with its parameters in-sync" if pending else ""),
        )

    notes.append("each instance is rebooted once, one at a time; the writer only while it is not the writer")
    plan = build_rolling_plan(
        cluster=cluster,
        operation_id=operation_id,
        to_change=to_reboot,
        temp_class=writer.instance.instance_class if writer else "",
        skip_temp_instance=params.skip_temp_instance,
        change=reboot,
        verify=verify,
        notes=notes,
        before_verify=restore_tiers,
    )
    plan.context["cycle_tiers"] = tiers
    return plan


def unwind_instance_cycle(operation: Operation, kind: Literal["abort", "rollback"]) -> list[Step]:
    """Fail back to the original writer, delete the temp instance, restore tiers; reboots stay done."""
    offset = len(operation.steps)
    head = StepBuilder(offset=offset)
    if kind == "rollback":
        marked = [
            s
            for s in operation.steps
            if s.action == REBOOT_INSTANCE.action and REBOOT_INSTANCE.parse_record(s.result).reboot_marked_at
        ]
        done = [
            REBOOT_INSTANCE.parse_params(s.parameters).instance_id for s in marked if s.state is StepState.COMPLETED
        ]
        maybe = [
            REBOOT_INSTANCE.parse_params(s.parameters).instance_id for s in marked if s.state is not StepState.COMPLETED
        ]
        rebooted = ", ".join(done) if done else "no instance"
        message = f"Reboots cannot be undone: {rebooted} {'was' if len(done) == 1 else 'were'} rebooted"
        if maybe:
            message += f" ({', '.join(maybe)} may have been)"
        message += (
            f". Rollback puts the writer back on {operation.context.get('original_writer')}, deletes the temp "
            "instance (if any) and restores promotion tiers"
        )
        head.step(
            RECORD_NOTE,
            RecordNoteParams(type="rollback_limits", message=message),
            name="reboots_not_undone",
            description="Rollback: reboots cannot be undone (recorded as an event)",
        )
    tail = StepBuilder()
    tiers = operation.context.get("cycle_tiers")
    if tiers:
        tail.step(
            RESTORE_PROMOTION_TIERS,
            RestorePromotionTiersParams(cluster_id=operation.cluster_id, tiers=tiers),
            name=f"{kind}_restore_promotion_tiers",
            description=f"{kind.capitalize()}: put back any promotion tier that changed",
        )
    steps = head.steps + unwind_temp_instance_operation(operation, kind) + tail.steps
    for number, step in enumerate(steps, start=offset + 1):
        step.id = f"s{number:02d}"
    return steps
