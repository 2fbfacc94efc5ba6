"""The switchover: asked for once the deployment is AVAILABLE, done when SWITCHOVER_COMPLETED *and* the
cluster runs the target version.

AWS may refuse the call while green members are not ready (nothing is started): it is asked again on
later looks, within a budget. A failed switchover (AWS rolled it back) is reported once; a `continue`
after that report asks for a new one.
"""

from __future__ import annotations

from typing import Any

from rds_maint.actions.base import ActionContext, ActionOutcome, Done, Retry, Wait
from rds_maint.actions.blue_green.common import (
    AVAILABLE,
    BAD_STATE,
    INVALID_CONFIGURATION,
    POLL,
    PROVISIONING,
    SWITCHOVER_COMPLETED,
    SWITCHOVER_FAILED,
    SWITCHOVER_IN_PROGRESS,
    accepted,
    cluster_at,
    details,
    invalid,
    members,
    refused,
    require_deployment,
)
from rds_maint.actions.records import arn_name
from rds_maint.errors import NeedsPerson, PersonAwsError
from rds_maint.steps.blue_green import SWITCHOVER_BLUE_GREEN, SwitchoverParams, SwitchoverRecord

__all__ = ["CALL", "SwitchoverBlueGreen"]

Context = ActionContext[SwitchoverParams, SwitchoverRecord]
CALL = "SwitchoverBlueGreenDeployment"


class SwitchoverBlueGreen:
    kind = SWITCHOVER_BLUE_GREEN

    def run(self, ctx: Context) -> ActionOutcome:
        deployment = require_deployment(ctx)
        status = deployment.get("Status")
        if status == AVAILABLE:
            return self._request(ctx, deployment)
        if status in (SWITCHOVER_IN_PROGRESS, SWITCHOVER_COMPLETED):
            ctx.note("switchover_adopted", f"Switchover of {deployment['BlueGreenDeploymentIdentifier']} is {status}")
            return self.check(ctx)
        if status == SWITCHOVER_FAILED:
            return self._failed(ctx, deployment)
        if status == INVALID_CONFIGURATION:
            raise invalid(deployment)
        if status == PROVISIONING:
            return Retry(f"{deployment['BlueGreenDeploymentIdentifier']} is PROVISIONING", POLL["available"])
        raise NeedsPerson(f"Blue/Green deployment {deployment['BlueGreenDeploymentIdentifier']} is {status}")

    def _request(self, ctx: Context, deployment: dict[str, Any]) -> ActionOutcome:
        p = ctx.params
        identifier = str(deployment["BlueGreenDeploymentIdentifier"])
        try:
            ctx.rds.switchover_blue_green_deployment(identifier, p.switchover_timeout)
        except PersonAwsError as exc:
            if exc.code not in BAD_STATE:
                raise
            # Either green is not ready yet (AWS refuses even while the deployment reads AVAILABLE, and nothing
            # was started), or an earlier call of ours took effect and the status lags. The deployment tells:
            # a switchover under way is followed; one still AVAILABLE is asked again on a later look.
            status = require_deployment(ctx).get("Status")
            if status in (SWITCHOVER_IN_PROGRESS, SWITCHOVER_COMPLETED):
                accepted(ctx, CALL)
                ctx.note("switchover_adopted", f"Switchover of {identifier} is {status} (requested earlier)")
                return self._waiting(ctx, str(status))
            return refused(ctx, CALL, identifier, status, exc)
        accepted(ctx, CALL)
        ctx.note(
            "switchover_requested",
            f"Requested switchover of {identifier} (SwitchoverTimeout {p.switchover_timeout} s): writes pause for a "
            f"moment while {p.cluster_id} moves to {p.target_version}",
            deployment_id=identifier,
            cluster_id=p.cluster_id,
        )
        return self._waiting(ctx, "just requested", SwitchoverRecord(switchover_requested_at=ctx.now.isoformat()))

    def _waiting(self, ctx: Context, now_status: str, result: SwitchoverRecord | None = None) -> Wait:
        return Wait(
            condition=f"SWITCHOVER_COMPLETED and {ctx.params.cluster_id} available at "
            f"{ctx.params.target_version} ({now_status})",
            seconds=POLL["switchover"],
            result=result,
            transition="switchover",
        )

    def _failed(self, ctx: Context, deployment: dict[str, Any]) -> ActionOutcome:
        """Report a failed switchover once (pause); a `continue` after that asks for a new switchover."""
        p = ctx.params
        identifier = deployment["BlueGreenDeploymentIdentifier"]
        report = f"{identifier}: {details(deployment)}"
        if ctx.so_far().failure_reported == report:
            ctx.keep(SwitchoverRecord(failure_reported=None))
            ctx.note("switchover_retried", f"Switchover of {identifier} failed before; requesting it again")
            return self._request(ctx, deployment)
        ctx.keep(SwitchoverRecord(failure_reported=report))  # saved with the pause
        raise NeedsPerson(
            f"Switchover of Blue/Green deployment {identifier} failed: {details(deployment)}. Members: "
            f"{members(deployment)}. AWS rolled the switchover back: {p.cluster_id} still runs "
            f"{p.source_version} and serves as before. Resume with continue to request the switchover "
            f"again (SwitchoverTimeout {p.switchover_timeout} s), or with rollback to delete the "
            "deployment and the green cluster"
        )

    def check(self, ctx: Context) -> ActionOutcome:
        deployment = require_deployment(ctx)
        status = deployment.get("Status")
        if status == SWITCHOVER_FAILED:
            return self._failed(ctx, deployment)
        if status == INVALID_CONFIGURATION:
            raise invalid(deployment)
        if status != SWITCHOVER_COMPLETED:
            return self._waiting(ctx, str(status))
        cluster = ctx.rds.describe_cluster(ctx.params.cluster_id)
        problems = cluster_at(cluster, ctx.params.target_version)
        if problems:
            return self._waiting(ctx, "SWITCHOVER_COMPLETED; " + "; ".join(problems))
        old_cluster = arn_name(str(deployment["Source"]))
        old_members = [
            arn_name(str(d["SourceMember"]))
            for d in deployment.get("SwitchoverDetails") or []
            if ":db:" in str(d.get("SourceMember", ""))
        ]
        return Done(
            f"{cluster.id} runs {cluster.engine_version} (writer {cluster.writer_id}); the old blue cluster is "
            f"{old_cluster}",
            result=SwitchoverRecord(
                old_cluster_id=old_cluster,
                old_members=old_members,
                switchover_completed_at=ctx.now.isoformat(),
            ),
        )
