"""What the DB instance Blue/Green actions share: finding this operation's deployment, the instances it
names, the proxies that target an instance, tagging what may be deleted.

Every action looks at the deployment first: a crash between an AWS call and the save makes the engine
run the step again, and the deployment (found by the id the create step recorded, or by the
`rds-maint:operation-id` tag) tells whether the call took effect.
"""

from __future__ import annotations

from typing import Any

from rds_maint.actions.base import ActionContext
from rds_maint.actions.proxies import ProxyView, proxy_view
from rds_maint.actions.records import arn_name, tagged_by
from rds_maint.errors import NeedsPerson
from rds_maint.ports import RdsPort
from rds_maint.snapshots import TAG_OPERATION_ID, InstanceSnapshot
from rds_maint.steps.instance_blue_green import CREATE_INSTANCE_BLUE_GREEN

__all__ = [
    "GREEN_BUDGET_HOURS",
    "instance",
    "instance_problems",
    "members",
    "our_instance_deployment",
    "proxies_of_instance",
    "renamed_old",
    "require_instance_deployment",
    "tag_instance_as_ours",
]

# A green build with a storage change, then green's storage-optimization, may take many hours (FIELD_NOTES
# 5.3: 4+ hours; optimization "hours, up to days"): while AWS reports progress the operation's wait_timeout
# does not count, for this long.
GREEN_BUDGET_HOURS = 48


def our_instance_deployment(ctx: ActionContext[Any, Any]) -> dict[str, Any] | None:
    """The deployment this operation created: by the id the create step recorded, else by tag."""
    created = ctx.earlier(CREATE_INSTANCE_BLUE_GREEN)
    if created and created.deployment_id:
        return ctx.rds.find_blue_green_deployment(created.deployment_id)
    return next((d for d in ctx.rds.blue_green_deployments() if tagged_by(d, ctx.operation.id)), None)


def require_instance_deployment(ctx: ActionContext[Any, Any]) -> dict[str, Any]:
    deployment = our_instance_deployment(ctx)
    if deployment is None:
        created = ctx.earlier(CREATE_INSTANCE_BLUE_GREEN)
        raise NeedsPerson(
            f"the Blue/Green deployment of this operation is gone (id "
            f"{(created.deployment_id if created else None) or 'unknown'}); check the instance, then abort, or "
            "mark_complete if the upgrade was finished by hand"
        )
    return deployment


def members(deployment: dict[str, Any], side: str) -> list[str]:
    """The DB instances of one side ("SourceMember" or "TargetMember") the deployment lists."""
    return [arn_name(str(d[side])) for d in deployment.get("SwitchoverDetails") or [] if ":db:" in str(d.get(side, ""))]


def renamed_old(name: str) -> str:
    """A blue instance's name after the switchover: AWS appends -old1 (a name that has it already is kept)."""
    return name if "-old" in name else f"{name}-old1"


def instance(rds: RdsPort, instance_id: str) -> InstanceSnapshot:
    found = rds.find_instance(instance_id)
    if found is None:
        raise NeedsPerson(f"the DB instance {instance_id} no longer exists; check it, then abort or mark_complete")
    return found


def instance_problems(found: InstanceSnapshot | None, instance_id: str, version: str | None) -> list[str]:
    """What keeps the instance from being available at `version` (empty: nothing)."""
    if found is None:
        return [f"{instance_id} does not exist"]
    problems = []
    if found.engine_version != version:
        problems.append(f"{found.id} runs {found.engine_version}")
    if found.status != "available":
        problems.append(f"{found.id} is {found.status}")
    return problems


def tag_instance_as_ours(ctx: ActionContext[Any, Any], found: InstanceSnapshot) -> None:
    """Tag an instance as this operation's: the IAM policy deletes only tagged ones (the old blue instance
    after a switchover, the green one before DeleteTarget). Looks first."""
    arn = str(found.arn or found.raw.get("DBInstanceArn") or "")
    if arn and found.status != "deleting" and found.tags.get(TAG_OPERATION_ID) != ctx.operation.id:
        ctx.rds.add_tags(arn, {TAG_OPERATION_ID: ctx.operation.id})


def proxies_of_instance(rds: RdsPort, instance_id: str) -> list[ProxyView]:
    """The RDS Proxies whose default target group has the instance as an RDS_INSTANCE target."""
    found = []
    for proxy in rds.db_proxies():
        view = proxy_view(rds, str(proxy["DBProxyName"]), str(proxy.get("Status", "unknown")))
        if any(t.get("Type") == "RDS_INSTANCE" and t.get("RdsResourceId") == instance_id for t in view.targets):
            found.append(view)
    return found
