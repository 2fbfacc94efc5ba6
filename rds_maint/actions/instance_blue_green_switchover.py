"""The switchover of a DB instance deployment, and the proxies after it.

The switchover is asked for once the deployment is AVAILABLE (SwitchoverBlueGreenDeployment, sent once);
it is done when SWITCHOVER_COMPLETED *and* the instance name answers at the target version. AWS may
refuse it while green is not ready (storage-optimization included: nothing is started): asked again on
later looks within the refusal budget. A failed switchover (AWS rolled it back) is reported once; a
`continue` after the report asks for a new one. Proxies are only looked at: re-registering a target
drops its connections.
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
    details,
    invalid,
    refused,
)
from rds_maint.actions.blue_green.common import members as member_statuses
from rds_maint.actions.instance_blue_green_common import (
    instance_problems,
    members,
    proxies_of_instance,
    renamed_old,
    require_instance_deployment,
)
from rds_maint.actions.proxies import SETTLE_GRACE_SECONDS
from rds_maint.actions.records import arn_name
from rds_maint.errors import NeedsPerson, PersonAwsError
from rds_maint.steps.instance_blue_green import (
    CHECK_INSTANCE_PROXIES,
    SWITCHOVER_INSTANCE_BLUE_GREEN,
    VERIFY_INSTANCE_PROXIES,
    InstanceStepParams,
    InstanceSwitchoverParams,
    InstanceSwitchoverRecord,
    VerifyInstanceProxiesRecord,
)

__all__ = ["CALL", "SwitchoverInstanceBlueGreen", "VerifyInstanceProxies", "old_names"]

Context = ActionContext[InstanceSwitchoverParams, InstanceSwitchoverRecord]
CALL = "SwitchoverBlueGreenDeployment"


def old_names(deployment: dict[str, Any], instance_id: str) -> tuple[str, list[str]]:
    """The old blue instance and its old replicas, as the switchover renamed them."""
    source = arn_name(str(deployment.get("Source", "")))
    old = source if source != instance_id else renamed_old(instance_id)
    replicas = [renamed_old(m) for m in members(deployment, "SourceMember") if m not in (source, instance_id, old)]
    return old, replicas


class SwitchoverInstanceBlueGreen:
    kind = SWITCHOVER_INSTANCE_BLUE_GREEN

    def run(self, ctx: Context) -> ActionOutcome:
        deployment = require_instance_deployment(ctx)
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

    def _request(self, ctx: Context, deployment: dict[str, Any]) -> ActionOutcome:
        p = ctx.params
        identifier = str(deployment["BlueGreenDeploymentIdentifier"])
        try:
            ctx.rds.switchover_blue_green_deployment(identifier, p.switchover_timeout)
        except PersonAwsError as exc:
            if exc.code not in BAD_STATE:
                raise
            # Green not ready (AWS refuses while green's storage is optimizing, nothing started), or an earlier
            # call of ours took effect and the status lags: the deployment tells.
            status = require_instance_deployment(ctx).get("Status")
            if status in (SWITCHOVER_IN_PROGRESS, SWITCHOVER_COMPLETED):
                accepted(ctx, CALL)
                ctx.note("switchover_adopted", f"Switchover of {identifier} is {status} (requested earlier)")
                return self._waiting(ctx, str(status))
            return refused(ctx, CALL, identifier, status, exc)
        accepted(ctx, CALL)
        ctx.note(
            "switchover_requested",
            f"Requested switchover of {identifier} (SwitchoverTimeout {p.switchover_timeout} s): writes stop for "
            f"about a minute while {p.instance_id} moves to {p.target_version}",
            deployment_id=identifier,
            instance_id=p.instance_id,
        )
        return self._waiting(
            ctx, "just requested", InstanceSwitchoverRecord(switchover_requested_at=ctx.now.isoformat())
        )

    def _waiting(self, ctx: Context, now_status: str, result: InstanceSwitchoverRecord | None = None) -> Wait:
        return Wait(
            condition=f"SWITCHOVER_COMPLETED and {ctx.params.instance_id} available at {ctx.params.target_version} "
            f"({now_status})",
            seconds=POLL["switchover"],
            result=result,
            transition="switchover",
        )

    def _failed(self, ctx: Context, deployment: dict[str, Any]) -> ActionOutcome:
        p = ctx.params
        identifier = deployment["BlueGreenDeploymentIdentifier"]
        report = f"{identifier}: {details(deployment)}"
        if ctx.so_far().failure_reported == report:
            ctx.keep(InstanceSwitchoverRecord(failure_reported=None))
            ctx.note("switchover_retried", f"Switchover of {identifier} failed before; requesting it again")
            return self._request(ctx, deployment)
        ctx.keep(InstanceSwitchoverRecord(failure_reported=report))
        raise NeedsPerson(
            f"Switchover of Blue/Green deployment {identifier} failed: {details(deployment)}. Members: "
            f"{member_statuses(deployment)}. AWS rolled the switchover back: {p.instance_id} still runs "
            f"{p.source_version} and serves as before. Resume with continue to request the switchover again "
            f"(SwitchoverTimeout {p.switchover_timeout} s), or with rollback to delete the deployment and the green "
            "instance"
        )

    def check(self, ctx: Context) -> ActionOutcome:
        p = ctx.params
        deployment = require_instance_deployment(ctx)
        status = deployment.get("Status")
        if status == SWITCHOVER_FAILED:
            return self._failed(ctx, deployment)
        if status == INVALID_CONFIGURATION:
            raise invalid(deployment)
        if status != SWITCHOVER_COMPLETED:
            return self._waiting(ctx, str(status))
        problems = instance_problems(ctx.rds.find_instance(p.instance_id), p.instance_id, p.target_version)
        if problems:
            return self._waiting(ctx, "SWITCHOVER_COMPLETED; " + "; ".join(problems))
        old, replicas = old_names(deployment, p.instance_id)
        return Done(
            f"{p.instance_id} runs {p.target_version}; the old blue instance is {old}"
            + (f" (old replicas {', '.join(replicas)})" if replicas else ""),
            result=InstanceSwitchoverRecord(
                old_instance_id=old, old_replicas=replicas, switchover_completed_at=ctx.now.isoformat()
            ),
        )


VerifyContext = ActionContext[InstanceStepParams, VerifyInstanceProxiesRecord]


class VerifyInstanceProxies:
    """After the switchover: each proxy checked before targets the upgraded instance, AVAILABLE. Only looks;
    past a grace period it pauses with the commands a person can run (after judging the connection drop)."""

    kind = VERIFY_INSTANCE_PROXIES

    def run(self, ctx: VerifyContext) -> ActionOutcome:
        return self.check(ctx)

    def check(self, ctx: VerifyContext) -> ActionOutcome:
        instance_id = ctx.params.instance_id
        checked = ctx.earlier(CHECK_INSTANCE_PROXIES)
        expected = {p.name for p in (checked.proxies if checked else [])}
        if not expected:
            return Done(f"No RDS Proxy targeted {instance_id} before the switchover")
        serving = {
            view.name
            for view in proxies_of_instance(ctx.rds, instance_id)
            if view.status == "available"
            and all(
                (t.get("TargetHealth") or {}).get("State") == "AVAILABLE"
                for t in view.targets
                if t.get("Type") == "RDS_INSTANCE" and t.get("RdsResourceId") == instance_id
            )
        }
        wrong = sorted(expected - serving)
        if not wrong:
            return Done(
                f"RDS Proxy {', '.join(sorted(expected))} targets {instance_id}, AVAILABLE",
                result=VerifyInstanceProxiesRecord(proxies_ok=sorted(expected)),
            )
        since = ctx.waiting_since or ctx.step.started_at or ctx.now
        waited = (ctx.now - since).total_seconds()
        if waited < SETTLE_GRACE_SECONDS:
            return Wait(condition=f"RDS Proxy {', '.join(wrong)} serving {instance_id}", seconds=15)
        region = ctx.operation.region
        commands = " ; ".join(
            f"aws rds register-db-proxy-targets --db-proxy-name {name} --db-instance-identifiers {instance_id} "
            f"--region {region}"
            for name in wrong
        )
        raise NeedsPerson(
            f"RDS Proxy {', '.join(wrong)} does not serve the upgraded {instance_id} after {int(waited)} s "
            "(aws rds describe-db-proxy-targets shows its targets). rds-maint does not change proxy targets itself: "
            "that drops the proxy's connections. If the target must be set again, run: "
            + commands
            + ". Then resume with continue to look again, or mark_complete to end here"
        )
