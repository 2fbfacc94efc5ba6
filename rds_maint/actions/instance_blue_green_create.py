"""DB instance Blue/Green before the switchover: validate the instance, check its proxies, create the
deployment with the Target* settings, wait for the green instance.

CreateBlueGreenDeployment is sent once (the gateway never resends it): a retried step finds the
deployment by this operation's tag, or, after AWS answers that the name exists, by its name, and
adopts it only if the tag is this operation's.
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
    details,
    invalid,
    tasks,
)
from rds_maint.actions.instance_blue_green_common import (
    GREEN_BUDGET_HOURS,
    instance,
    instance_problems,
    members,
    proxies_of_instance,
    require_instance_deployment,
)
from rds_maint.actions.proxies import ProxyView
from rds_maint.actions.records import arn_name, tagged_by
from rds_maint.errors import NeedsPerson, PersonAwsError
from rds_maint.snapshots import TAG_OPERATION_ID
from rds_maint.steps.base import NoRecord
from rds_maint.steps.blue_green import ProxyRef
from rds_maint.steps.instance_blue_green import (
    CHECK_INSTANCE_PROXIES,
    CHECK_INSTANCE_UPGRADE_READY,
    CREATE_INSTANCE_BLUE_GREEN,
    WAIT_INSTANCE_GREEN,
    CheckInstanceProxiesRecord,
    CreateInstanceBlueGreenParams,
    InstanceBlueGreenCreated,
    InstanceStepParams,
    InstanceUpgradeReadyParams,
    WaitInstanceGreenParams,
    WaitInstanceGreenRecord,
)

__all__ = ["CheckInstanceProxies", "CheckInstanceUpgradeReady", "CreateInstanceBlueGreen", "WaitInstanceGreen"]

# Statuses of a green instance AWS is still working on (a switchover is refused until it is `available`):
# the build, its backup, and after a storage change the optimization of the new volume (FIELD_NOTES 5.3).
GREEN_BUSY = frozenset(
    {
        "creating",
        "backing-up",
        "modifying",
        "storage-optimization",
        "configuring-enhanced-monitoring",
        "configuring-log-exports",
        "upgrading",
        "rebooting",
        "maintenance",
    }
)
# Statuses an instance does not leave by itself (DeleteDBInstance reference; FIELD_NOTES 5.2).
GREEN_BROKEN_PREFIXES = ("failed", "incompatible-", "inaccessible-encryption-credentials", "storage-full", "stopped")


def _foreign(ctx: ActionContext[Any, Any], instance_id: str, arn: str) -> None:
    """Refuse a deployment of the instance that this operation did not make (AWS allows one)."""
    for deployment in ctx.rds.blue_green_deployments(source_arn=arn):
        if not tagged_by(deployment, ctx.operation.id):
            raise NeedsPerson(
                f"{instance_id} already has Blue/Green deployment {deployment['BlueGreenDeploymentIdentifier']} "
                f"({deployment.get('Status')}), not made by this operation; AWS allows one per instance. Delete it "
                "(or let it finish), then resume with continue"
            )


class CheckInstanceUpgradeReady(ImmediateAction):
    """At start: the instance is still as planned and no other deployment is in the way."""

    kind = CHECK_INSTANCE_UPGRADE_READY

    def run(self, ctx: ActionContext[InstanceUpgradeReadyParams, NoRecord]) -> ActionOutcome:
        p = ctx.params
        found = instance(ctx.rds, p.instance_id)
        if found.engine_version != p.source_version:
            raise NeedsPerson(
                f"{found.id} runs {found.engine_version}, not {p.source_version} as planned; check the instance, "
                "then abort and create a new operation"
            )
        _foreign(ctx, found.id, p.instance_arn)
        if found.status != "available":
            return Retry(f"{found.id} is {found.status}; starting once it is available", POLL["available"])
        return Done(f"{found.id} is available at {found.engine_version} ({found.instance_class})")


class CheckInstanceProxies(ImmediateAction):
    """Before the deployment is created: every proxy targeting the instance is available and healthy (AWS:
    the blue instance must be a proxy target before the deployment is created, and RDS checks that the proxy
    reaches both environments before a switchover)."""

    kind = CHECK_INSTANCE_PROXIES

    def run(self, ctx: ActionContext[InstanceStepParams, CheckInstanceProxiesRecord]) -> ActionOutcome:
        instance_id = ctx.params.instance_id
        proxies = proxies_of_instance(ctx.rds, instance_id)
        if not proxies:
            return Done(f"No RDS Proxy targets {instance_id}", result=CheckInstanceProxiesRecord(proxies=[]))
        problems = [problem for proxy in proxies for problem in _unhealthy(proxy, instance_id)]
        registering = [p for p in problems if "REGISTERING" in p]
        if len(registering) < len(problems):
            raise NeedsPerson(
                f"RDS Proxy is not healthy for {instance_id}: " + "; ".join(problems) + ". A proxy follows a "
                "Blue/Green switchover only if it can reach the instance: fix the proxy (credentials, network), then "
                "resume with continue; or set skip_proxy_retarget in a new operation"
            )
        if registering:
            return Retry(f"proxy targets still registering: {'; '.join(registering)}", 15)
        return Done(
            f"RDS Proxy healthy for {instance_id}: " + ", ".join(p.name for p in proxies),
            result=CheckInstanceProxiesRecord(
                proxies=[ProxyRef(name=p.name, target_group=p.target_group) for p in proxies]
            ),
        )


def _unhealthy(proxy: ProxyView, instance_id: str) -> list[str]:
    problems = [f"proxy {proxy.name} is {proxy.status}"] if proxy.status != "available" else []
    for target in proxy.targets:
        if target.get("Type") != "RDS_INSTANCE" or target.get("RdsResourceId") != instance_id:
            continue
        health = target.get("TargetHealth") or {}
        state = str(health.get("State", "UNKNOWN"))
        if state != "AVAILABLE":
            reason = ": ".join(str(health[k]) for k in ("Reason", "Description") if health.get(k))
            problems.append(f"proxy {proxy.name} target {instance_id}: {state}" + (f" ({reason})" if reason else ""))
    return problems


CreateContext = ActionContext[CreateInstanceBlueGreenParams, InstanceBlueGreenCreated]


class CreateInstanceBlueGreen(ImmediateAction):
    kind = CREATE_INSTANCE_BLUE_GREEN

    def run(self, ctx: CreateContext) -> ActionOutcome:
        p = ctx.params
        existing = self._existing(ctx)
        if existing is not None:
            return self._adopt(ctx, existing)
        found = instance(ctx.rds, p.instance_id)
        if found.status != "available":
            return Retry(f"{found.id} is {found.status}; creating the deployment once it is available", 30)
        try:
            created = ctx.rds.create_blue_green_deployment(
                name=p.deployment_name,
                source_arn=p.instance_arn,
                target_engine_version=p.target_version,
                cluster_parameter_group=None,
                instance_parameter_group=p.instance_parameter_group,
                tags={TAG_OPERATION_ID: ctx.operation.id},
                target_settings=dict(p.target_settings),
            )
        except PersonAwsError as exc:
            if exc.code not in ALREADY_EXISTS:
                raise
            return self._adopt(ctx, self._named(ctx))
        ctx.note(
            "blue_green_created",
            f"Created Blue/Green deployment {created['BlueGreenDeploymentIdentifier']}: green instance "
            f"{arn_name(str(created.get('Target', '')))} at {p.target_version}",
            deployment_id=created["BlueGreenDeploymentIdentifier"],
        )
        return self._done(created)

    def _existing(self, ctx: CreateContext) -> dict[str, Any] | None:
        p = ctx.params
        _foreign(ctx, p.instance_id, p.instance_arn)
        return next(iter(ctx.rds.blue_green_deployments(source_arn=p.instance_arn)), None)

    def _adopt(self, ctx: CreateContext, deployment: dict[str, Any]) -> ActionOutcome:
        ctx.note(
            "blue_green_adopted",
            f"Blue/Green deployment {deployment['BlueGreenDeploymentIdentifier']} already exists for this "
            "operation; adopting it",
        )
        return self._done(deployment)

    def _done(self, deployment: dict[str, Any]) -> Done:
        green = arn_name(str(deployment.get("Target", "")))
        return Done(
            f"Blue/Green deployment {deployment['BlueGreenDeploymentIdentifier']} "
            f"({deployment.get('BlueGreenDeploymentName')}): green instance {green}",
            result=InstanceBlueGreenCreated(
                deployment_id=str(deployment["BlueGreenDeploymentIdentifier"]), green_instance_id=green
            ),
        )

    def _named(self, ctx: CreateContext) -> dict[str, Any]:
        """AWS says a deployment of this name exists: ours (made by an earlier try), or a refusal."""
        name = ctx.params.deployment_name
        found = next((d for d in ctx.rds.blue_green_deployments() if d.get("BlueGreenDeploymentName") == name), None)
        if found is None or not tagged_by(found, ctx.operation.id):
            raise NeedsPerson(
                f"a Blue/Green deployment named {name} exists but is not this operation's; delete or rename it, "
                "then resume with continue"
            ) from None
        return found


WaitContext = ActionContext[WaitInstanceGreenParams, WaitInstanceGreenRecord]


class WaitInstanceGreen:
    """Green is ready: the deployment AVAILABLE and every green instance available at the target (out of
    storage-optimization, with the asked class and storage type), seen on two looks in a row."""

    kind = WAIT_INSTANCE_GREEN

    def run(self, ctx: WaitContext) -> ActionOutcome:
        return self.check(ctx)

    def check(self, ctx: WaitContext) -> ActionOutcome:
        deployment = require_instance_deployment(ctx)
        status = deployment.get("Status")
        identifier = deployment["BlueGreenDeploymentIdentifier"]
        if status == INVALID_CONFIGURATION:
            raise invalid(deployment)
        if status == PROVISIONING:
            return self._waiting(ctx, f"{identifier} AVAILABLE (now PROVISIONING: {tasks(deployment)})", progress=True)
        if status != AVAILABLE:
            raise NeedsPerson(
                f"Blue/Green deployment {identifier} is {status} ({details(deployment)}) while its green "
                "environment was being built; check it, then resume with continue or rollback"
            )
        green_id = arn_name(str(deployment.get("Target", "")))
        problems, busy = self._green_problems(ctx, deployment, green_id)
        if problems:
            return self._waiting(ctx, f"green instance ready ({'; '.join(problems)})", progress=busy)
        seen = ctx.so_far().available_seen + 1
        if seen < 2:
            return Wait(
                condition=f"{identifier} AVAILABLE on the next look too (seen once)",
                seconds=POLL["available"],
                result=WaitInstanceGreenRecord(available_seen=seen),
            )
        green = instance(ctx.rds, green_id)
        replicas = [g for g in members(deployment, "TargetMember") if g != green_id]
        return Done(
            f"Green instance {green.id} is available at {green.engine_version} ({green.instance_class}, "
            f"{green.storage_type} {green.allocated_storage} GiB)"
            + (f" with green replicas {', '.join(replicas)}" if replicas else "")
            + f"; deployment {identifier} AVAILABLE",
            result=WaitInstanceGreenRecord(
                available_seen=seen, green_instance_id=green.id, green_endpoint=green.endpoint, green_replicas=replicas
            ),
        )

    def _green_problems(self, ctx: WaitContext, deployment: dict[str, Any], green_id: str) -> tuple[list[str], bool]:
        """What keeps green from a switchover, and whether AWS is still working on it (a green instance
        that cannot recover pauses at once: only a rollback, deleting it, helps)."""
        p = ctx.params
        problems: list[str] = []
        busy = False
        for green_member in [green_id] + [g for g in members(deployment, "TargetMember") if g != green_id]:
            found = ctx.rds.find_instance(green_member)
            problems += instance_problems(found, green_member, p.target_version)
            if found is not None and found.status.startswith(GREEN_BROKEN_PREFIXES):
                raise NeedsPerson(
                    f"the green instance {found.id} of Blue/Green deployment "
                    f"{deployment['BlueGreenDeploymentIdentifier']} is {found.status}, which it does not leave by "
                    f"itself; {p.instance_id} is untouched and keeps serving. Check it (aws rds describe-events "
                    f"--source-identifier {found.id} --source-type db-instance), then resume with rollback to delete "
                    "the deployment and the green instance"
                )
            if found is not None and found.status in GREEN_BUSY:
                busy = True
        green = ctx.rds.find_instance(green_id)
        if green is not None and p.instance_class and green.instance_class != p.instance_class:
            problems.append(f"{green.id} is {green.instance_class}, not {p.instance_class}")
        if green is not None and p.storage_type and green.storage_type != p.storage_type:
            problems.append(f"{green.id} has {green.storage_type} storage, not {p.storage_type}")
        return problems, busy

    def _waiting(self, ctx: WaitContext, condition: str, *, progress: bool) -> Wait:
        started = ctx.step.started_at
        within = started is None or ctx.now - started < timedelta(hours=GREEN_BUDGET_HOURS)
        return Wait(
            condition=condition,
            seconds=POLL["provisioning"],
            result=WaitInstanceGreenRecord(available_seen=0),
            transition="instance_blue_green_create",
            # AWS reports progress (building, or optimizing green's storage): not stuck, within the budget
            progressing=progress and within,
        )
