"""After the switchover: keep the old blue cluster for a while, delete the deployment, delete the old
blue cluster (its instances, then the cluster with a final snapshot).

Only what this operation's switchover made old is deleted: the cluster the deployment named as its
source, at the version it was upgraded from, with the instances it had then. A deletion under way is
followed, not asked for again; the final snapshot's name is derived from the cluster and the operation,
so a retried deletion finds its own snapshot name taken only if someone else took it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from rds_maint.actions.base import ActionContext, ActionOutcome, Done, Retry, Wait
from rds_maint.actions.blue_green.common import (
    BAD_STATE,
    DELETING,
    POLL,
    SNAPSHOT_EXISTS,
    SWITCHOVER_COMPLETED,
    accepted,
    our_deployment,
    refused,
    tag_as_ours,
)
from rds_maint.errors import NeedsPerson, PersonAwsError
from rds_maint.names import final_snapshot_name
from rds_maint.snapshots import ClusterSnapshot
from rds_maint.steps.blue_green import (
    DELETE_BLUE_GREEN_DEPLOYMENT,
    DELETE_OLD_CLUSTER,
    RETAIN_OLD_CLUSTER,
    SWITCHOVER_BLUE_GREEN,
    DeleteDeploymentParams,
    DeleteOldClusterParams,
    DeleteOldClusterRecord,
    RefusalsRecord,
    RetainParams,
    RetainRecord,
    SwitchoverRecord,
)

__all__ = [
    "DELETE_CALL",
    "RETENTION_POLL_MAX",
    "DeleteBlueGreenDeployment",
    "DeleteContext",
    "DeleteOldCluster",
    "OldContext",
    "RetainOldCluster",
]

RETENTION_POLL_MAX = 3600
DELETE_CALL = "DeleteBlueGreenDeployment"


class RetainOldCluster:
    """Keep the old blue cluster for `hours` after the switchover (a wait on the clock, not on AWS)."""

    kind = RETAIN_OLD_CLUSTER

    def run(self, ctx: ActionContext[RetainParams, RetainRecord]) -> ActionOutcome:
        return self.check(ctx)

    def check(self, ctx: ActionContext[RetainParams, RetainRecord]) -> ActionOutcome:
        switched = ctx.earlier(SWITCHOVER_BLUE_GREEN) or SwitchoverRecord()
        at = switched.switchover_completed_at
        start = datetime.fromisoformat(at) if at else (ctx.step.started_at or ctx.now)
        until = start + timedelta(hours=ctx.params.hours)
        old = switched.old_cluster_id or "the old cluster"
        if ctx.now >= until:
            return Done(f"Kept {old} for {ctx.params.hours} h after the switchover")
        remaining = (until - ctx.now).total_seconds()
        return Wait(
            condition=f"keeping {old} until {until:%Y-%m-%d %H:%M} UTC (old_cluster_retention_hours)",
            seconds=max(1, min(RETENTION_POLL_MAX, int(remaining) + 1)),
            result=RetainRecord(keep_until=until.isoformat()),
            # a planned wait, not a stuck change: the operation's wait_timeout does not apply
            progressing=True,
        )


DeleteContext = ActionContext[DeleteDeploymentParams, RefusalsRecord]


class DeleteBlueGreenDeployment:
    """Clean-up: delete the switched-over deployment (never its target: that is the upgraded cluster)."""

    kind = DELETE_BLUE_GREEN_DEPLOYMENT

    def run(self, ctx: DeleteContext) -> ActionOutcome:
        deployment = our_deployment(ctx)
        if deployment is None:
            ctx.note("already_done", "The Blue/Green deployment is already deleted")
            return Done("The Blue/Green deployment is deleted")
        identifier = str(deployment["BlueGreenDeploymentIdentifier"])
        status = deployment.get("Status")
        if status == DELETING:
            return self._waiting(identifier)
        if status != SWITCHOVER_COMPLETED:
            raise NeedsPerson(
                f"refusing to clean up: Blue/Green deployment {identifier} is {status}, not SWITCHOVER_COMPLETED"
            )
        try:
            # No DeleteTarget: AWS refuses the parameter, even false, once SWITCHOVER_COMPLETED (API reference).
            ctx.rds.delete_switched_over_blue_green_deployment(identifier)
        except PersonAwsError as exc:
            if exc.code not in BAD_STATE:
                raise
            now = our_deployment(ctx)
            if now is None or now.get("Status") == DELETING:  # an earlier call of ours took effect
                accepted(ctx, DELETE_CALL)
                return self._waiting(identifier)
            return refused(ctx, DELETE_CALL, identifier, now.get("Status"), exc)
        accepted(ctx, DELETE_CALL)
        ctx.note("blue_green_delete_requested", f"Requested deletion of Blue/Green deployment {identifier}")
        return self._waiting(identifier)

    def _waiting(self, identifier: str) -> Wait:
        return Wait(
            condition=f"Blue/Green deployment {identifier} deleted",
            seconds=POLL["delete"],
            transition="blue_green_delete",
        )

    def check(self, ctx: DeleteContext) -> ActionOutcome:
        deployment = our_deployment(ctx)
        if deployment is None:
            return Done("The Blue/Green deployment is deleted")
        return self._waiting(str(deployment["BlueGreenDeploymentIdentifier"]))


OldContext = ActionContext[DeleteOldClusterParams, DeleteOldClusterRecord]


def _old_cluster_id(switched: SwitchoverRecord, cluster_id: str) -> str:
    """The old blue cluster the switchover recorded; a refusal if it recorded none, or one not named for it."""
    old_id = switched.old_cluster_id
    if not old_id:
        raise NeedsPerson("the switchover step recorded no old cluster; rds-maint will not guess which to delete")
    if old_id == cluster_id or not old_id.startswith(f"{cluster_id}-old"):
        raise NeedsPerson(f"refusing to delete {old_id}: it is not the old blue cluster of {cluster_id}")
    return old_id


def _refuse_if_changed(old: ClusterSnapshot, source_version: str, old_members: set[str]) -> None:
    """The old cluster must be as the switchover left it: at the version upgraded from, no instance added."""
    if old.engine_version != source_version:
        raise NeedsPerson(
            f"refusing to delete {old.id}: it runs {old.engine_version}, not {source_version} "
            "(the old blue cluster of this upgrade would)"
        )
    strangers = sorted({m.id for m in old.members} - old_members)
    if strangers:
        raise NeedsPerson(
            f"refusing to delete {old.id}: it has instances that were not part of the switchover "
            f"({', '.join(strangers)}); remove them, then resume with continue"
        )


def _cluster_deleting(old_id: str) -> Wait:
    return Wait(
        condition=f"{old_id} deleted (now deleting)", seconds=POLL["cluster_delete"], transition="cluster_delete"
    )


def _deleted(old_id: str) -> Done:
    return Done(f"The old blue cluster {old_id} is deleted", result=DeleteOldClusterRecord(old_cluster_deleted=old_id))


class DeleteOldCluster:
    """Delete the old blue cluster of this operation's deployment: its instances, then the cluster
    with a final snapshot. Only the cluster the deployment named as its source after the switchover,
    only at the version it was upgraded from, only with the instances it had then."""

    kind = DELETE_OLD_CLUSTER

    def run(self, ctx: OldContext) -> ActionOutcome:
        return self.check(ctx)

    def check(self, ctx: OldContext) -> ActionOutcome:
        p = ctx.params
        switched = ctx.earlier(SWITCHOVER_BLUE_GREEN) or SwitchoverRecord()
        old_id = _old_cluster_id(switched, p.cluster_id)
        following = self._follow(ctx, old_id)
        if following is not None:
            return following
        old = ctx.rds.find_cluster(old_id)
        if old is None:
            return _deleted(old_id)
        _refuse_if_changed(old, p.source_version, set(switched.old_members))
        if old.status == "deleting":
            return _cluster_deleting(old.id)
        if old.raw.get("DeletionProtection"):
            raise NeedsPerson(
                f"the old blue cluster {old.id} has deletion protection; turn it off (modify-db-cluster "
                "--no-deletion-protection) if it may go, then resume with continue; or mark_complete to keep it"
            )
        tag_as_ours(ctx, old)
        if old.members:
            return self._delete_members(ctx, old)
        if old.status != "available":
            return Retry(f"{old.id} is {old.status}; deleting it once it is available", POLL["cluster_delete"])
        return self._delete_cluster(ctx, old)

    def _delete_members(self, ctx: OldContext, old: ClusterSnapshot) -> Wait:
        """Ask for each available instance's deletion, readers first (no failover); wait for them all."""
        busy = []
        for member in sorted(old.members, key=lambda m: m.is_writer):
            status = member.instance.status
            if status == "deleting":
                continue
            if status != "available":
                busy.append(f"{member.id} is {status}")
                continue
            ctx.rds.delete_instance(member.id)
            ctx.note("delete_requested", f"Requested deletion of old instance {member.id}", instance=member.id)
        remaining = ", ".join(m.id for m in old.members)
        return Wait(
            condition=f"old instances deleted ({remaining})" + (f"; {'; '.join(busy)}" if busy else ""),
            seconds=POLL["cluster_delete"],
            transition="delete",
            result=DeleteOldClusterRecord(deleting_members=[] if busy else sorted(m.id for m in old.members)),
        )

    def _delete_cluster(self, ctx: OldContext, old: ClusterSnapshot) -> Wait:
        snapshot = final_snapshot_name(old.id, ctx.operation.id)
        try:
            ctx.rds.delete_cluster(old.id, snapshot)
        except PersonAwsError as exc:
            if exc.code not in SNAPSHOT_EXISTS:
                raise
            raise NeedsPerson(
                f"a snapshot named {snapshot} already exists, so {old.id} cannot take its final snapshot under that "
                "name; check whose it is, then delete it and resume with continue"
            ) from None
        ctx.note(
            "old_cluster_delete_requested",
            f"Requested deletion of the old blue cluster {old.id} with final snapshot {snapshot}",
            cluster_id=old.id,
            snapshot=snapshot,
        )
        return Wait(
            condition=f"{old.id} deleted (final snapshot {snapshot})",
            seconds=POLL["cluster_delete"],
            result=DeleteOldClusterRecord(final_snapshot=snapshot),
            transition="cluster_delete",
        )

    def _follow(self, ctx: OldContext, old_id: str) -> ActionOutcome | None:
        """A deletion under way is followed with one DescribeDBClusters per look; None: look at everything.

        The safety checks ran when the deletions were asked for; the cluster's member list shows any
        instance added since (then the full look refuses it), and the end of each phase.
        """
        so_far = ctx.so_far()
        deleting = set(so_far.deleting_members)
        if not deleting and so_far.final_snapshot is None:
            return None
        roles = ctx.rds.find_cluster_roles(old_id)
        if roles is None:
            return _deleted(old_id)
        if roles.status == "deleting":
            return _cluster_deleting(old_id)
        if roles.member_ids and set(roles.member_ids) <= deleting:
            return Wait(
                condition=f"old instances deleted ({', '.join(roles.member_ids)})",
                seconds=POLL["cluster_delete"],
                transition="delete",
            )
        return None
