"""Blue/Green before the switchover: validate the cluster, create the deployment, wait for green.

The create call is made once: a retried step finds the deployment by this operation's tag (or, after
AWS answers that the name exists, by its name, and adopts it only if the tag is this operation's).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from rds_maint.actions.base import ActionContext, ActionOutcome, Done, ImmediateAction, Retry, Wait
from rds_maint.actions.blue_green.common import (
    ALREADY_EXISTS,
    AVAILABLE,
    INVALID_CONFIGURATION,
    POLL,
    PROVISIONING,
    cluster_at,
    details,
    invalid,
    require_deployment,
    tasks,
)
from rds_maint.actions.records import arn_name, tagged_by
from rds_maint.errors import NeedsPerson, PersonAwsError
from rds_maint.snapshots import TAG_OPERATION_ID
from rds_maint.steps.base import NoRecord
from rds_maint.steps.blue_green import (
    CHECK_UPGRADE_READY,
    CREATE_BLUE_GREEN_DEPLOYMENT,
    WAIT_BLUE_GREEN_AVAILABLE,
    CheckUpgradeReadyParams,
    CreateBlueGreenParams,
    CreateBlueGreenRecord,
    WaitGreenParams,
    WaitGreenRecord,
)

__all__ = [
    "GREEN_BUDGET",
    "CheckUpgradeReady",
    "CreateBlueGreenDeployment",
    "CreateContext",
    "WaitBlueGreenAvailable",
    "WaitContext",
]

# AWS takes about 40 minutes to build an Aurora green environment, longer for large clusters; while
# AWS reports progress (PROVISIONING), the wait may run this long before the operation's own
# wait_timeout starts counting.
GREEN_BUDGET = timedelta(hours=6)


class CheckUpgradeReady(ImmediateAction):
    """At start: the cluster is still as planned and no other deployment is in the way."""

    kind = CHECK_UPGRADE_READY

    def run(self, ctx: ActionContext[CheckUpgradeReadyParams, NoRecord]) -> ActionOutcome:
        p = ctx.params
        cluster = ctx.rds.describe_cluster(p.cluster_id)
        if cluster.engine_version != p.source_version:
            raise NeedsPerson(
                f"{cluster.id} runs {cluster.engine_version}, not {p.source_version} as planned; check the "
                "cluster, then abort and create a new operation"
            )
        for deployment in ctx.rds.blue_green_deployments(source_arn=p.cluster_arn):
            if not tagged_by(deployment, ctx.operation.id):
                raise NeedsPerson(
                    f"{cluster.id} already has Blue/Green deployment {deployment['BlueGreenDeploymentIdentifier']} "
                    f"({deployment.get('Status')}), not made by this operation; AWS allows one per cluster. Delete "
                    "it (or let it finish), then resume with continue"
                )
        if cluster.status != "available":
            return Retry(f"{cluster.id} is {cluster.status}; starting once it is available", POLL["available"])
        return Done(f"{cluster.id} is available at {cluster.engine_version}, writer {cluster.writer_id}")


CreateContext = ActionContext[CreateBlueGreenParams, CreateBlueGreenRecord]


class CreateBlueGreenDeployment(ImmediateAction):
    kind = CREATE_BLUE_GREEN_DEPLOYMENT

    def _adopt(self, ctx: CreateContext, deployment: dict[str, Any]) -> ActionOutcome:
        ctx.note(
            "blue_green_adopted",
            f"Blue/Green deployment {deployment['BlueGreenDeploymentIdentifier']} already exists for this "
            "operation; adopting it",
        )
        return self._done(deployment)

    def _done(self, deployment: dict[str, Any]) -> Done:
        return Done(
            f"Blue/Green deployment {deployment['BlueGreenDeploymentIdentifier']} "
            f"({deployment.get('BlueGreenDeploymentName')}): green cluster {arn_name(str(deployment['Target']))}",
            result=CreateBlueGreenRecord(
                deployment_id=str(deployment["BlueGreenDeploymentIdentifier"]),
                green_cluster_id=arn_name(str(deployment["Target"])),
            ),
        )

    def _existing(self, ctx: CreateContext) -> dict[str, Any] | None:
        p = ctx.params
        for deployment in ctx.rds.blue_green_deployments(source_arn=p.cluster_arn):
            if tagged_by(deployment, ctx.operation.id):
                return deployment
            raise NeedsPerson(
                f"{p.cluster_id} already has Blue/Green deployment {deployment['BlueGreenDeploymentIdentifier']} "
                f"({deployment.get('Status')}), not made by this operation; delete it, then resume with continue"
            )
        return None

    def run(self, ctx: CreateContext) -> ActionOutcome:
        p = ctx.params
        existing = self._existing(ctx)
        if existing is not None:
            return self._adopt(ctx, existing)
        cluster = ctx.rds.describe_cluster(p.cluster_id)
        if cluster.status != "available":
            return Retry(f"{cluster.id} is {cluster.status}; creating the deployment once it is available", 30)
        try:
            created = ctx.rds.create_blue_green_deployment(
                name=p.deployment_name,
                source_arn=p.cluster_arn,
                target_engine_version=p.target_version,
                cluster_parameter_group=p.cluster_parameter_group,
                instance_parameter_group=p.instance_parameter_group,
                tags={TAG_OPERATION_ID: ctx.operation.id},
            )
        except PersonAwsError as exc:
            if exc.code not in ALREADY_EXISTS:
                raise
            return self._adopt(ctx, self._named(ctx))
        ctx.note(
            "blue_green_created",
            f"Created Blue/Green deployment {created['BlueGreenDeploymentIdentifier']}: green "
            f"{arn_name(str(created['Target']))} at {p.target_version}",
            deployment_id=created["BlueGreenDeploymentIdentifier"],
        )
        return self._done(created)

    def _named(self, ctx: CreateContext) -> dict[str, Any]:
        """AWS says a deployment of this name exists: ours (made by an earlier try), or a refusal."""
        name = ctx.params.deployment_name
        found = next((d for d in ctx.rds.blue_green_deployments() if d.get("BlueGreenDeploymentName") == name), None)
        if found is None or not tagged_by(found, ctx.operation.id):
            raise NeedsPerson(
                f"a Blue/Green deployment named {name} exists but is not this operation's; "
                "delete or rename it, then resume with continue"
            ) from None
        return found


WaitContext = ActionContext[WaitGreenParams, WaitGreenRecord]


class WaitBlueGreenAvailable:
    """Green is ready: AVAILABLE seen on two checks in a row, green cluster available at the target."""

    kind = WAIT_BLUE_GREEN_AVAILABLE

    def run(self, ctx: WaitContext) -> ActionOutcome:
        return self.check(ctx)

    def check(self, ctx: WaitContext) -> ActionOutcome:
        deployment = require_deployment(ctx)
        status = deployment.get("Status")
        identifier = deployment["BlueGreenDeploymentIdentifier"]
        if status == INVALID_CONFIGURATION:
            raise invalid(deployment)
        if status == PROVISIONING:
            started = ctx.step.started_at
            return Wait(
                condition=f"{identifier} AVAILABLE (now PROVISIONING: {tasks(deployment)})",
                seconds=POLL["provisioning"],
                result=WaitGreenRecord(available_seen=0),
                transition="blue_green_create",
                # AWS reports progress: not stuck, within the budget of a green build
                progressing=started is None or ctx.now - started < GREEN_BUDGET,
            )
        if status != AVAILABLE:
            raise NeedsPerson(
                f"Blue/Green deployment {identifier} is {status} ({details(deployment)}) while its green "
                "environment was being built; check it, then resume with continue or rollback"
            )
        target = ctx.params.target_version
        green = ctx.rds.find_cluster(arn_name(str(deployment["Target"])))
        if green is None or (problems := cluster_at(green, target)):
            why = "the green cluster is missing" if green is None else "; ".join(problems)
            return Wait(
                condition=f"green cluster available at {target} ({why})",
                seconds=POLL["available"],
                result=WaitGreenRecord(available_seen=0),
            )
        seen = ctx.so_far().available_seen + 1
        if seen < 2:
            return Wait(
                condition=f"{identifier} AVAILABLE on the next look too (seen once)",
                seconds=POLL["available"],
                result=WaitGreenRecord(available_seen=seen),
            )
        return Done(
            f"Green cluster {green.id} is available at {green.engine_version} with "
            f"{len(green.members)} instance(s); deployment {identifier} AVAILABLE",
            result=WaitGreenRecord(
                available_seen=seen,
                green_cluster_id=green.id,
                green_writer_endpoint=green.endpoint,
                green_reader_endpoint=green.reader_endpoint,
            ),
        )
