"""What the Blue/Green actions share: finding this operation's deployment, reading its status, and
asking AWS again after a refusal.

Every action looks at the deployment first: a crash between an AWS call and the save makes the
engine run the step again, and the deployment (found by the id recorded in the create step, or by
the `rds-maint:operation-id` tag) tells whether the call already took effect. Statuses lag after a
call (a switchover still reads AVAILABLE for a moment), so a wait ends only on what the end state
looks like: AVAILABLE seen twice, SWITCHOVER_COMPLETED *and* the cluster at the target version.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, TypeVar

from rds_maint.actions.base import ActionContext, Retry
from rds_maint.actions.records import arn_name, instance_arn, tagged_by
from rds_maint.errors import NeedsPerson, PersonAwsError
from rds_maint.snapshots import TAG_OPERATION_ID, ClusterSnapshot
from rds_maint.steps.blue_green import CREATE_BLUE_GREEN_DEPLOYMENT, Refusal, RefusalsRecord

__all__ = [
    "ALREADY_EXISTS",
    "AVAILABLE",
    "BAD_STATE",
    "DELETING",
    "INVALID_CONFIGURATION",
    "POLL",
    "PROVISIONING",
    "REFUSAL_BACKOFF_MAX",
    "REFUSAL_BACKOFF_MIN",
    "REFUSAL_BACKOFF_SHARE",
    "REFUSAL_BUDGET",
    "SNAPSHOT_EXISTS",
    "SWITCHOVER_COMPLETED",
    "SWITCHOVER_FAILED",
    "SWITCHOVER_IN_PROGRESS",
    "accepted",
    "cluster_at",
    "created_deployment_id",
    "details",
    "invalid",
    "members",
    "our_deployment",
    "refusal_backoff",
    "refused",
    "require_deployment",
    "tag_as_ours",
    "tasks",
]

PROVISIONING = "PROVISIONING"
AVAILABLE = "AVAILABLE"
SWITCHOVER_IN_PROGRESS = "SWITCHOVER_IN_PROGRESS"
SWITCHOVER_COMPLETED = "SWITCHOVER_COMPLETED"
SWITCHOVER_FAILED = "SWITCHOVER_FAILED"
INVALID_CONFIGURATION = "INVALID_CONFIGURATION"
DELETING = "DELETING"

BAD_STATE = frozenset({"InvalidBlueGreenDeploymentStateFault", "InvalidBlueGreenDeploymentState"})
ALREADY_EXISTS = frozenset({"BlueGreenDeploymentAlreadyExistsFault", "BlueGreenDeploymentAlreadyExists"})
SNAPSHOT_EXISTS = frozenset({"DBClusterSnapshotAlreadyExistsFault", "DBClusterSnapshotAlreadyExists"})
POLL = {"provisioning": 60, "available": 30, "switchover": 10, "delete": 30, "cluster_delete": 30}
# AWS refuses a switchover (or a deletion) with InvalidBlueGreenDeploymentStateFault while green members are
# not ready, even as the deployment reads AVAILABLE; nothing was started. Ask again on later looks, backing off,
# for this long (Terraform retries a refused switchover for 10 minutes: terraform-provider-aws#36241), then pause.
REFUSAL_BUDGET = timedelta(minutes=15)
# How long until the next ask: a tenth of the time the refusals have lasted (the poll policy's promise: the
# moment AWS accepts is missed by at most ~10 % of the wait), kept between 15 s and 2 min. A fixed ladder
# (15, 30, 60, 120 s) missed green's readiness by up to 2 min after a wait of 3: a switchover that could have
# started 80 s sooner, in bench/operation_cost.py's engine_upgrade.
REFUSAL_BACKOFF_SHARE = 0.1
REFUSAL_BACKOFF_MIN, REFUSAL_BACKOFF_MAX = 15, 120

R = TypeVar("R", bound=RefusalsRecord)


# -- finding our deployment ------------------------------------------------------------------


def created_deployment_id(ctx: ActionContext[Any, Any]) -> str | None:
    """The id the create step recorded (None before it ran)."""
    created = ctx.earlier(CREATE_BLUE_GREEN_DEPLOYMENT)
    return created.deployment_id if created else None


def our_deployment(ctx: ActionContext[Any, Any]) -> dict[str, Any] | None:
    """The deployment this operation created: by the id the create step recorded, else by tag."""
    deployment_id = created_deployment_id(ctx)
    if deployment_id:
        return ctx.rds.find_blue_green_deployment(deployment_id)
    return next((d for d in ctx.rds.blue_green_deployments() if tagged_by(d, ctx.operation.id)), None)


def require_deployment(ctx: ActionContext[Any, Any]) -> dict[str, Any]:
    deployment = our_deployment(ctx)
    if deployment is None:
        raise NeedsPerson(
            f"the Blue/Green deployment of this operation is gone (id "
            f"{created_deployment_id(ctx) or 'unknown'}); check the cluster, "
            "then abort, or mark_complete if the upgrade was finished by hand"
        )
    return deployment


# -- reading a deployment ----------------------------------------------------------------------------


def members(deployment: dict[str, Any]) -> str:
    return "; ".join(
        f"{arn_name(str(d.get('SourceMember', '?')))} -> {arn_name(str(d.get('TargetMember', '?')))}: "
        f"{d.get('Status', '?')}"
        for d in deployment.get("SwitchoverDetails") or []
    )


def details(deployment: dict[str, Any]) -> str:
    return str(deployment.get("StatusDetails") or "no details given")


def tasks(deployment: dict[str, Any]) -> str:
    listed = deployment.get("Tasks") or []
    done = sum(1 for t in listed if t.get("Status") == "COMPLETED")
    current = next((t.get("Name") for t in listed if t.get("Status") == "IN_PROGRESS"), None)
    return f"{done}/{len(listed)} tasks" + (f", {current}" if current else "") if listed else "no tasks listed"


def invalid(deployment: dict[str, Any]) -> NeedsPerson:
    return NeedsPerson(
        f"Blue/Green deployment {deployment['BlueGreenDeploymentIdentifier']} is INVALID_CONFIGURATION: "
        f"{details(deployment)}. Members: {members(deployment)}. AWS cannot switch it over and cannot repair "
        "it: resume with rollback to delete the deployment and the green cluster (then create a new operation "
        "once the cause is fixed)"
    )


def cluster_at(cluster: ClusterSnapshot, version: str | None) -> list[str]:
    """What keeps `cluster` from being available at `version` (empty: nothing)."""
    problems = []
    if cluster.engine_version != version:
        problems.append(f"{cluster.id} runs {cluster.engine_version}")
    if cluster.status != "available":
        problems.append(f"{cluster.id} is {cluster.status}")
    for member in cluster.members:
        if member.instance.status != "available":
            problems.append(f"{member.id} is {member.instance.status}")
        elif member.instance.engine_version and member.instance.engine_version != version:
            problems.append(f"{member.id} runs {member.instance.engine_version}")
    if not cluster.members:
        problems.append(f"{cluster.id} has no instances")
    return problems


# -- refusals --------------------------------------------------------------------------------------


def refused(ctx: ActionContext[Any, R], call: str, identifier: str, status: object, exc: PersonAwsError) -> Retry:
    """AWS refused `call` while the deployment reads `status`, a state that should accept it: ask again on a
    later look (backing off), and pause with AWS's message once the refusals have lasted REFUSAL_BUDGET.

    The first refusal's time is kept in the step's record (saved with the step), so a crash or a new
    process does not restart the budget; a pause clears it, so `continue` asks again with a fresh one.
    """
    so_far = ctx.so_far()
    refusals = dict(so_far.refusals)
    seen = refusals.get(call)
    first = datetime.fromisoformat(seen.first_at) if seen else ctx.now
    count = (seen.count if seen else 0) + 1
    if ctx.now - first >= REFUSAL_BUDGET:
        refusals.pop(call, None)
        ctx.keep(type(so_far)(refusals=refusals))
        minutes = int((ctx.now - first).total_seconds() // 60)
        raise NeedsPerson(
            f"AWS keeps refusing {call} of Blue/Green deployment {identifier} while it reads {status} "
            f"({count} tries over {minutes} min): {exc.code}: {exc.aws_message}. Nothing was started. Check the "
            "green environment's members (aws rds describe-blue-green-deployments --blue-green-deployment-identifier "
            f"{identifier}), then resume with continue to ask again, or with rollback"
        )
    refusals[call] = Refusal(first_at=first.isoformat(), count=count)
    ctx.keep(type(so_far)(refusals=refusals))
    seconds = refusal_backoff((ctx.now - first).total_seconds())
    return Retry(f"AWS refused {call} while {identifier} reads {status} ({exc.aws_message}); asking again", seconds)


def refusal_backoff(refused_for: float) -> int:
    """Seconds until asking again after refusals that have lasted `refused_for` seconds."""
    return int(min(REFUSAL_BACKOFF_MAX, max(REFUSAL_BACKOFF_MIN, REFUSAL_BACKOFF_SHARE * refused_for)))


def accepted(ctx: ActionContext[Any, R], call: str) -> None:
    """The call went through: forget its refusals."""
    so_far = ctx.so_far()
    if call in so_far.refusals:
        ctx.keep(type(so_far)(refusals={k: v for k, v in so_far.refusals.items() if k != call}))


# -- tagging what may be deleted ---------------------------------------------------------------------


def tag_as_ours(ctx: ActionContext[Any, Any], cluster: ClusterSnapshot) -> None:
    """Tag a cluster and its instances as this operation's: the IAM policy deletes only tagged ones (the old
    blue cluster after a switchover, the green one before DeleteTarget). Looks first; a member already
    deleting was tagged before its deletion was asked for."""
    tag = {TAG_OPERATION_ID: ctx.operation.id}
    arn = str(cluster.raw.get("DBClusterArn", ""))
    if not arn:
        return
    if cluster.tags.get(TAG_OPERATION_ID) != ctx.operation.id:
        ctx.rds.add_tags(arn, tag)
    for member in cluster.members:
        if member.instance.status != "deleting" and member.instance.tags.get(TAG_OPERATION_ID) != ctx.operation.id:
            ctx.rds.add_tags(instance_arn(arn, member.id), tag)
