"""The switchover of a DB instance deployment, and the proxies after it.

The switchover follows the Aurora one's protocol (`actions.blue_green.switchover.SwitchoverFlow`: asked for
once AVAILABLE and sent once, refusals while green is not ready asked again within a budget, a failure
reported once); it is done when SWITCHOVER_COMPLETED *and* the instance name answers at the target
version. Proxies are only looked at: re-registering a target drops its connections.
"""

from __future__ import annotations

from typing import Any

from rds_maint.actions.base import ActionContext, ActionOutcome, Done, Wait
from rds_maint.actions.blue_green.switchover import SwitchoverFlow
from rds_maint.actions.instance_blue_green_common import (
    instance_problems,
    members,
    proxies_of_instance,
    renamed_old,
    require_instance_deployment,
)
from rds_maint.actions.proxies import SETTLE_GRACE_SECONDS
from rds_maint.actions.records import arn_name
from rds_maint.errors import NeedsPerson
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


class SwitchoverInstanceBlueGreen(SwitchoverFlow[InstanceSwitchoverParams, InstanceSwitchoverRecord]):
    """A DB instance's switchover: done when the instance's name answers at the target version."""

    kind = SWITCHOVER_INSTANCE_BLUE_GREEN
    green_kind = "instance"
    writes_stop = "writes stop for about a minute"

    def deployment(self, ctx: Context) -> dict[str, Any]:
        return require_instance_deployment(ctx)

    def target(self, ctx: Context) -> str:
        return ctx.params.instance_id

    def progress(self, ctx: Context, **fields: Any) -> InstanceSwitchoverRecord:
        return InstanceSwitchoverRecord(**fields)

    def note_data(self, ctx: Context) -> dict[str, Any]:
        return {"instance_id": ctx.params.instance_id}

    def switched_over(self, ctx: Context, deployment: dict[str, Any]) -> ActionOutcome:
        p = ctx.params
        problems = instance_problems(ctx.rds.find_instance(p.instance_id), p.instance_id, p.target_version)
        if problems:
            return self.waiting(ctx, "SWITCHOVER_COMPLETED; " + "; ".join(problems))
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
