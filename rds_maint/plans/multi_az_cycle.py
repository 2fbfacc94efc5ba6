"""instance_cycle on a Multi-AZ DB cluster: members one at a time, or the whole cluster with RebootDBCluster.

One at a time: each reader is rebooted (a reader's reboot stops no writes), then, if the writer is to be
rebooted, the cluster fails over to a reader already rebooted (FailoverDBCluster, "typically less than 35
seconds") and the old writer, a reader now, is rebooted. The writer is not moved back: every member has
the same class and storage, and a second failover would be a second interruption.
`reboot_whole_cluster: true`: one RebootDBCluster restarts every member at once; writes stop while it does.
Reboots cannot be undone.
"""

from __future__ import annotations

from rds_maint.errors import BadInput
from rds_maint.model import InstanceCycleParams
from rds_maint.parameters import is_pending_reboot, parameter_statuses
from rds_maint.plans.base import Plan, StepBuilder
from rds_maint.snapshots import ClusterSnapshot, MemberSnapshot
from rds_maint.steps.cluster import FAILOVER, FailoverParams, RebootInstanceParams
from rds_maint.steps.multi_az_cluster import (
    REBOOT_MULTI_AZ_CLUSTER,
    REBOOT_MULTI_AZ_MEMBER,
    VERIFY_MULTI_AZ_CLUSTER,
    MultiAzShape,
    RebootMultiAzClusterParams,
    VerifyMultiAzClusterParams,
)

__all__ = ["plan_multi_az_cycle"]


def _statuses(member: MemberSnapshot) -> str:
    return ", ".join(parameter_statuses(member)) or "unknown"


def plan_multi_az_cycle(cluster: ClusterSnapshot, params: InstanceCycleParams, operation_id: str) -> Plan:
    writer = cluster.writer
    if writer is None:
        raise BadInput(f"cluster '{cluster.id}' shows no writer: plan once it has one")
    builder = StepBuilder()
    pending = [m.id for m in cluster.members if is_pending_reboot(m)]
    context = {"original_writer": writer.id, "multi_az_cycle": "whole" if params.reboot_whole_cluster else "members"}
    if params.reboot_whole_cluster:
        builder.step(
            REBOOT_MULTI_AZ_CLUSTER,
            RebootMultiAzClusterParams(cluster_id=cluster.id, only_if_pending=params.only_pending_reboot),
            name="reboot_cluster",
            description=f"Reboot cluster {cluster.id} with RebootDBCluster: every member restarts at once, "
            "writes and reads stop until they are back (downtime)",
        )
        builder.step(
            VERIFY_MULTI_AZ_CLUSTER,
            VerifyMultiAzClusterParams(
                cluster_id=cluster.id,
                expected=MultiAzShape(),
                rebooted=[m.id for m in cluster.members],
                require_in_sync=pending,
            ),
            name="verify",
            description=f"Verify cluster {cluster.id}: available, every member available"
            + (" with its parameters in-sync" if pending else ""),
        )
        return Plan(
            steps=builder.steps,
            notes=["reboot_whole_cluster: one RebootDBCluster; the cluster is down while its members restart"],
            context=context,
        )

    concerned = [m for m in cluster.members if not params.only_pending_reboot or is_pending_reboot(m)]
    readers = [m for m in concerned if not m.is_writer]
    notes = [
        f"{m.id}: parameters {_statuses(m)}, not rebooted (only_pending_reboot)"
        for m in cluster.members
        if m not in concerned
    ]

    def reboot(member: MemberSnapshot) -> None:
        why = f"parameters {_statuses(member)}" if member.id in pending else "rolling reboot"
        builder.step(
            REBOOT_MULTI_AZ_MEMBER,
            RebootInstanceParams(
                cluster_id=cluster.id, instance_id=member.id, only_if_pending=params.only_pending_reboot
            ),
            name=f"reboot:{member.id}",
            description=f"Reboot {member.id} ({why}), a reader; wait until it has restarted and is available",
        )

    for reader in readers:
        reboot(reader)
    if writer in concerned:
        others = [m for m in cluster.members if not m.is_writer]
        if not others:
            raise BadInput(f"cluster '{cluster.id}' has no reader to fail over to: reboot_whole_cluster: true")
        target = readers[0] if readers else others[0]
        builder.step(
            FAILOVER,
            FailoverParams(cluster_id=cluster.id, target=target.id),
            name="failover",
            description=f"Fail over {cluster.id} from {writer.id} to {target.id} (FailoverDBCluster; writes stop "
            "for up to about 35 s)",
        )
        reboot(writer)
        notes.append(f"the writer moves to {target.id} and stays there (the members are alike)")
    builder.step(
        VERIFY_MULTI_AZ_CLUSTER,
        VerifyMultiAzClusterParams(
            cluster_id=cluster.id,
            expected=MultiAzShape(),
            rebooted=[m.id for m in concerned],
            require_in_sync=[m.id for m in concerned if m.id in pending],
        ),
        name="verify",
        description=f"Verify cluster {cluster.id}: available, every rebooted member available",
    )
    notes.append("each member is rebooted once, one at a time; the writer only once it is a reader")
    return Plan(steps=builder.steps, notes=notes, context=context)
