"""The switchover: asked for once the deployment is AVAILABLE, done when SWITCHOVER_COMPLETED *and* the
target (the cluster, or the DB instance's name) runs the target version.

AWS may refuse the call while green is not ready (green members, or a green DB instance still in
storage-optimization; nothing is started): it is asked again on later looks, within a budget. A failed
switchover (AWS rolled it back) is reported once; a `continue` after that report asks for a new one.
`SwitchoverFlow` is that protocol, the same for an Aurora cluster and a DB instance; each source says how
its deployment is found and what "switched over" means for it.
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

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
from rds_maint.steps.blue_green import (
    SWITCHOVER_BLUE_GREEN,
    SwitchoverParams,
    SwitchoverProgress,
    SwitchoverRecord,
    SwitchoverVersions,
)

__all__ = ["CALL", "SwitchoverBlueGreen", "SwitchoverFlow"]

CALL = "SwitchoverBlueGreenDeployment"
P = TypeVar("P", bound=SwitchoverVersions)
R = TypeVar("R", bound=SwitchoverProgress)


class SwitchoverFlow(Generic[P, R]):
    """Request, follow and judge one switchover; the subclass names its source and checks the end state."""

    # what the target is called in messages ("cluster" / "instance"), and how long writes stop
    green_kind = "cluster"
    writes_stop = "writes pause for a moment"

    def deployment(self, ctx: ActionContext[P, R]) -> dict[str, Any]:
        raise NotImplementedError

    def target(self, ctx: ActionContext[P, R]) -> str:
        raise NotImplementedError

    def progress(self, ctx: ActionContext[P, R], **fields: Any) -> R:
        """A record of this switchover's type with the given fields."""
        raise NotImplementedError

    def note_data(self, ctx: ActionContext[P, R]) -> dict[str, Any]:
        raise NotImplementedError

    def switched_over(self, ctx: ActionContext[P, R], deployment: dict[str, Any]) -> ActionOutcome:
        """Once SWITCHOVER_COMPLETED: Done when the target runs the target version, else Wait."""
        raise NotImplementedError

    def run(self, ctx: ActionContext[P, R]) -> ActionOutcome:
        deployment = self.deployment(ctx)
        status = deployment.get("Status")
        identifier = deployment["BlueGreenDeploymentIdentifier"]
        if status == AVAILABLE:
            return self._request(ctx, deployment)
        if status in (SWITCHOVER_IN_PROGRESS, SWITCHOVER_COMPLETED):
            ctx.note("switchover_adopted", f"Switchover of {identifier} is {status}")
            return self.check(ctx)
        if status == SWITCHOVER_FAILED:
            return self._failed(ctx, deployment)
        if status == INVALID_CONFIGURATION:
            raise invalid(deployment)
        if status == PROVISIONING:
            return Retry(f"{identifier} is PROVISIONING", POLL["available"])
        raise NeedsPerson(f"Blue/Green deployment {identifier} is {status}")

    def _request(self, ctx: ActionContext[P, R], deployment: dict[str, Any]) -> ActionOutcome:
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
            status = self.deployment(ctx).get("Status")
            if status in (SWITCHOVER_IN_PROGRESS, SWITCHOVER_COMPLETED):
                accepted(ctx, CALL)
                ctx.note("switchover_adopted", f"Switchover of {identifier} is {status} (requested earlier)")
                return self.waiting(ctx, str(status))
            return refused(ctx, CALL, identifier, status, exc)
        accepted(ctx, CALL)
        ctx.note(
            "switchover_requested",
            f"Requested switchover of {identifier} (SwitchoverTimeout {p.switchover_timeout} s): {self.writes_stop} "
            f"while {self.target(ctx)} moves to {p.target_version}",
            deployment_id=identifier,
            **self.note_data(ctx),
        )
        return self.waiting(ctx, "just requested", self.progress(ctx, switchover_requested_at=ctx.now.isoformat()))

    def waiting(self, ctx: ActionContext[P, R], now_status: str, result: R | None = None) -> Wait:
        return Wait(
            condition=f"SWITCHOVER_COMPLETED and {self.target(ctx)} available at {ctx.params.target_version} "
            f"({now_status})",
            seconds=POLL["switchover"],
            result=result,
            transition="switchover",
        )

    def _failed(self, ctx: ActionContext[P, R], deployment: dict[str, Any]) -> ActionOutcome:
        """Report a failed switchover once (pause); a `continue` after that asks for a new switchover."""
        p = ctx.params
        identifier = deployment["BlueGreenDeploymentIdentifier"]
        report = f"{identifier}: {details(deployment)}"
        if ctx.so_far().failure_reported == report:
            ctx.keep(self.progress(ctx, failure_reported=None))
            ctx.note("switchover_retried", f"Switchover of {identifier} failed before; requesting it again")
            return self._request(ctx, deployment)
        ctx.keep(self.progress(ctx, failure_reported=report))  # saved with the pause
        raise NeedsPerson(
            f"Switchover of Blue/Green deployment {identifier} failed: {details(deployment)}. Members: "
            f"{members(deployment)}. AWS rolled the switchover back: {self.target(ctx)} still runs "
            f"{p.source_version} and serves as before. Resume with continue to request the switchover "
            f"again (SwitchoverTimeout {p.switchover_timeout} s), or with rollback to delete the "
            f"deployment and the green {self.green_kind}"
        )

    def check(self, ctx: ActionContext[P, R]) -> ActionOutcome:
        deployment = self.deployment(ctx)
        status = deployment.get("Status")
        if status == SWITCHOVER_FAILED:
            return self._failed(ctx, deployment)
        if status == INVALID_CONFIGURATION:
            raise invalid(deployment)
        if status != SWITCHOVER_COMPLETED:
            return self.waiting(ctx, str(status))
        return self.switched_over(ctx, deployment)


Context = ActionContext[SwitchoverParams, SwitchoverRecord]


class SwitchoverBlueGreen(SwitchoverFlow[SwitchoverParams, SwitchoverRecord]):
    """An Aurora cluster's switchover: done when the cluster (its writer and members) runs the target version."""

    kind = SWITCHOVER_BLUE_GREEN

    def deployment(self, ctx: Context) -> dict[str, Any]:
        return require_deployment(ctx)

    def target(self, ctx: Context) -> str:
        return ctx.params.cluster_id

    def progress(self, ctx: Context, **fields: Any) -> SwitchoverRecord:
        return SwitchoverRecord(**fields)

    def note_data(self, ctx: Context) -> dict[str, Any]:
        return {"cluster_id": ctx.params.cluster_id}

    def switched_over(self, ctx: Context, deployment: dict[str, Any]) -> ActionOutcome:
        cluster = ctx.rds.describe_cluster(ctx.params.cluster_id)
        problems = cluster_at(cluster, ctx.params.target_version)
        if problems:
            return self.waiting(ctx, "SWITCHOVER_COMPLETED; " + "; ".join(problems))
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
