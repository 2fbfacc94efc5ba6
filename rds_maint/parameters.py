"""Parameter apply status of a cluster member: what tells whether it waits for a reboot.

An instance reports its DB parameter group's `ParameterApplyStatus` (DescribeDBInstances) and,
as a cluster member, the cluster parameter group's status (DescribeDBClusters
`DBClusterMembers[].DBClusterParameterGroupStatus`). Either may be `pending-reboot`.
"""

from __future__ import annotations

from rds_maint.snapshots import MemberSnapshot

__all__ = ["APPLYING", "IN_SYNC", "PENDING_REBOOT", "is_pending_reboot", "parameter_statuses"]

PENDING_REBOOT = "pending-reboot"
IN_SYNC = "in-sync"
APPLYING = "applying"


def parameter_statuses(member: MemberSnapshot) -> list[str]:
    """The instance parameter group's apply status and the cluster group's status for this member."""
    return [s for s in (member.instance.parameter_apply_status, member.cluster_parameter_group_status) if s]


def is_pending_reboot(member: MemberSnapshot) -> bool:
    return PENDING_REBOOT in parameter_statuses(member)
