"""Abort or rollback of an engine upgrade.

Before the switchover: delete the deployment *and* the green cluster (DeleteTarget), after making the
green cluster deletable (deletion protection off, this operation's tag on it and its instances). After
it: AWS cannot switch back, so the old blue cluster is kept; rollback explains how to go back and pauses.
"""

from __future__ import annotations

from typing import Any

from rds_maint.actions.base import ActionContext, ActionOutcome, Done, Retry, Wait
from rds_maint.actions.blue_green.common import (
    BAD_STATE,
    DELETING,
    POLL,
    PROVISIONING,
    SWITCHOVER_COMPLETED,
    SWITCHOVER_IN_PROGRESS,
    accepted,
    our_deployment,
    refused,
    tag_as_ours,
    tasks,
)
from rds_maint.actions.records import arn_name
from rds_maint.errors import NeedsPerson, PersonAwsError
from rds_maint.snapshots import ClusterSnapshot
from rds_maint.steps.blue_green import (
    CREATE_BLUE_GREEN_DEPLOYMENT,
    DELETE_OLD_CLUSTER,
    SWITCHOVER_BLUE_GREEN,
    UNWIND_BLUE_GREEN,
    UnwindParams,
    UnwindRecord,
)

__all__ = ["DELETE_CALL", "UnwindBlueGreen"]

Context = ActionContext[UnwindParams, UnwindRecord]
DELETE_CALL = "DeleteBlueGreenDeployment"


class UnwindBlueGreen:
    """Before the switchover: delete the deployment *and* the green cluster. After it: AWS cannot
    switch back, so the old blue cluster is kept; rollback explains how to go back and pauses."""

    kind = UNWIND_BLUE_GREEN

    def run(self, ctx: Context) -> ActionOutcome:
        return self.check(ctx)

    def check(self, ctx: Context) -> ActionOutcome:
        deployment = our_deployment(ctx)
        if deployment is not None:
            return self._unwind(ctx, deployment)
        created = ctx.earlier(CREATE_BLUE_GREEN_DEPLOYMENT)
        green_id = ctx.so_far().green_cluster_id or (created.green_cluster_id if created else None)
        if green_id and ctx.rds.find_cluster(green_id) is not None:
            return self._waiting("the deployment", green_id)
        p = ctx.params
        cluster = ctx.rds.describe_cluster(p.cluster_id)
        if cluster.engine_version == p.target_version and p.target_version != p.source_version:
            return self._after_switchover(ctx, None)
        return Done(
            f"No Blue/Green deployment left; {cluster.id} runs {cluster.engine_version}"
            + (f"; green cluster {green_id} deleted" if green_id else "")
        )

    def _unwind(self, ctx: Context, deployment: dict[str, Any]) -> ActionOutcome:
        """The deployment is still there: follow what it is doing, or delete it with its green cluster."""
        identifier = str(deployment["BlueGreenDeploymentIdentifier"])
        status = deployment.get("Status")
        green = arn_name(str(deployment["Target"]))
        if status == SWITCHOVER_COMPLETED:
            return self._after_switchover(ctx, deployment)
        if status == SWITCHOVER_IN_PROGRESS:
            return Wait(
                condition=f"the switchover of {identifier} to end",
                seconds=POLL["switchover"],
                transition="switchover",
            )
        if status == DELETING:
            return self._waiting(identifier, green)
        if status == PROVISIONING and ctx.so_far().refused_while_provisioning:
            return self._provisioning(deployment, "AWS refused to delete it while PROVISIONING")
        unready = self._prepare_green(ctx, deployment, green)
        if unready is not None:
            return unready
        return self._delete(ctx, identifier, green)

    def _delete(self, ctx: Context, identifier: str, green: str) -> ActionOutcome:
        try:
            ctx.rds.delete_blue_green_deployment(identifier, delete_target=True)
        except PersonAwsError as exc:
            if exc.code not in BAD_STATE:
                raise
            now = our_deployment(ctx)
            if now is None or now.get("Status") == DELETING:  # an earlier call of ours took effect
                accepted(ctx, DELETE_CALL)
                return self._waiting(identifier, green)
            if now.get("Status") == PROVISIONING:
                # AWS may refuse to delete a deployment whose green environment is still being built: ask
                # again once the build ends (AWS reports progress, so the wait timeout does not apply).
                ctx.keep(UnwindRecord(refused_while_provisioning=True))
                return self._provisioning(now, f"AWS: {exc.aws_message}")
            return refused(ctx, DELETE_CALL, identifier, now.get("Status"), exc)
        accepted(ctx, DELETE_CALL)
        ctx.note(
            "blue_green_delete_requested",
            f"Requested deletion of Blue/Green deployment {identifier} and its green cluster {green}",
            deployment_id=identifier,
            green_cluster_id=green,
        )
        return self._waiting(identifier, green)

    def _prepare_green(self, ctx: Context, deployment: dict[str, Any], green_id: str) -> ActionOutcome | None:
        """Make the green cluster of *this* deployment (never the blue one) deletable with DeleteTarget; look
        first (idempotent). None: nothing in the way, delete now.

        DeleteTarget=true fails while the green cluster has deletion protection, which green copies from blue
        (Aurora user guide): turn it off. And RDS deletes the green cluster and its instances under the
        caller's own DeleteDBCluster / DeleteDBInstance permissions (IAM: Blue/Green's dependent actions); the
        role deletes only what carries this operation's tag, and green copies blue's tags, not ours: tag the
        green cluster and each green instance first."""
        cluster_id = ctx.params.cluster_id
        if not green_id or green_id == cluster_id or arn_name(str(deployment.get("Source", ""))) != cluster_id:
            identifier = deployment["BlueGreenDeploymentIdentifier"]
            raise NeedsPerson(
                f"refusing to delete the target of Blue/Green deployment {identifier}: its green cluster "
                f"{green_id or '(none)'} is not a green copy of {cluster_id}"
            )
        green = ctx.rds.find_cluster(green_id)
        if green is None:
            return None
        if not green.raw.get("DeletionProtection"):
            tag_as_ours(ctx, green)
            return None
        if green.status != "available":
            if deployment.get("Status") == PROVISIONING:
                return self._provisioning(deployment, f"the green cluster {green_id} has deletion protection")
            return Retry(
                f"the green cluster {green_id} has deletion protection (copied from {cluster_id}) and is "
                f"{green.status}; turning it off once it is available",
                POLL["delete"],
            )
        self._turn_off_protection(ctx, green)
        # Delete on the next look, once the cluster shows the change (look before acting).
        return Retry(f"deletion protection turned off on {green_id}; deleting the deployment next", 15)

    def _turn_off_protection(self, ctx: Context, green: ClusterSnapshot) -> None:
        cluster_id = ctx.params.cluster_id
        try:
            ctx.rds.turn_off_cluster_deletion_protection(green.id)
        except PersonAwsError as exc:
            raise NeedsPerson(
                f"the green cluster {green.id} of this operation's deployment has deletion protection (copied from "
                f"{cluster_id}), which keeps AWS from deleting it, and rds-maint could not turn it off "
                f"({exc.code}: {exc.aws_message}). Run: aws rds modify-db-cluster --db-cluster-identifier "
                f"{green.id} --no-deletion-protection --apply-immediately --region {ctx.operation.region} ; then "
                "resume with continue"
            ) from None
        ctx.note(
            "green_deletion_protection_off",
            f"Turned off deletion protection on the green cluster {green.id} (copied from {cluster_id}) so that it "
            f"can be deleted with the deployment; {cluster_id} keeps its own",
            cluster_id=green.id,
        )

    def _provisioning(self, deployment: dict[str, Any], why: str) -> Wait:
        return Wait(
            condition=f"{deployment['BlueGreenDeploymentIdentifier']} to finish PROVISIONING ({tasks(deployment)}) "
            f"before it is deleted ({why})",
            seconds=POLL["provisioning"],
            transition="blue_green_create",
            progressing=True,
        )

    def _waiting(self, what: str, green: str) -> Wait:
        return Wait(
            condition=f"{what} and green cluster {green} deleted",
            seconds=POLL["delete"],
            result=UnwindRecord(green_cluster_id=green),
            transition="blue_green_delete_target",
        )

    def _after_switchover(self, ctx: Context, deployment: dict[str, Any] | None) -> ActionOutcome:
        p = ctx.params
        cluster_id = p.cluster_id
        switched = ctx.earlier(SWITCHOVER_BLUE_GREEN)
        old_id = str(
            (arn_name(str(deployment["Source"])) if deployment else None)
            or (switched.old_cluster_id if switched else None)
            or p.old_cluster_id
        )
        cluster = ctx.rds.describe_cluster(cluster_id)
        old = ctx.rds.find_cluster(old_id)
        left = f" and deployment {deployment['BlueGreenDeploymentIdentifier']} remains" if deployment else ""
        if p.kind == "abort":
            return Done(
                f"The switchover had happened: {cluster_id} runs {cluster.engine_version}; "
                + (f"the old blue cluster {old_id} is kept" if old else f"the old blue cluster {old_id} is gone")
                + left
            )
        if cluster.engine_version == p.source_version:
            return Done(f"{cluster_id} runs {cluster.engine_version} again (switched back by hand)")
        raise NeedsPerson(
            f"Rollback after the switchover: {cluster_id} already runs {cluster.engine_version}, and AWS cannot "
            f"switch a Blue/Green deployment back. {self._where_old(ctx, old_id, old)}. Writes made since the "
            f"switchover exist only on {cluster_id}. To go back: stop writes; rename {cluster_id} (modify-db-cluster "
            f"--db-cluster-identifier {cluster_id} --new-db-cluster-identifier {cluster_id}-upgraded "
            f"--apply-immediately, and its instances likewise), then rename {old_id} to {cluster_id} (and each "
            f"instance back to its name without -old1); check that RDS Proxy tracks {cluster_id}; copy any data "
            f"written since the switchover. Then resume with continue (rds-maint checks {cluster_id} runs "
            f"{p.source_version} and ends rolled_back), or mark_complete to end here"
            + (f". The deployment {deployment['BlueGreenDeploymentIdentifier']} is left as it is" if deployment else "")
        )

    def _where_old(self, ctx: Context, old_id: str, old: ClusterSnapshot | None) -> str:
        """Where the old blue cluster is: kept as it was, or gone (with its final snapshot, if one was taken)."""
        if old is not None:
            return (
                f"The old blue cluster {old_id} ({old.engine_version}, instances "
                f"{', '.join(m.id for m in old.members) or 'none'}) is kept, unchanged since the switchover"
            )
        deleted = ctx.earlier(DELETE_OLD_CLUSTER)
        snapshot = deleted.final_snapshot if deleted else None
        return f"The old blue cluster {old_id} no longer exists" + (
            f"; its final snapshot is {snapshot} (restore-db-cluster-from-snapshot)" if snapshot else ""
        )
