"""Small helpers the engine_upgrade actions share: what an earlier step recorded, names from ARNs."""

from __future__ import annotations

from typing import Any

from rds_maint.actions.base import ActionContext
from rds_maint.snapshots import TAG_OPERATION_ID


def recorded(ctx: ActionContext[Any, Any], action: str, key: str) -> Any:
    """A value an earlier step of this operation saved in its result (the latest one), or None."""
    for step in reversed(ctx.operation.steps):
        if step.action == action and key in step.result:
            return step.result[key]
    return None


def arn_name(arn: str) -> str:
    """arn:aws:rds:us-east-1:123456789012:cluster:orders-prod -> orders-prod."""
    return arn.rsplit(":", 1)[-1]


def tagged_by(resource: dict[str, Any], operation_id: str) -> bool:
    tags = {str(t.get("Key")): str(t.get("Value", "")) for t in resource.get("TagList") or []}
    return tags.get(TAG_OPERATION_ID) == operation_id


def instance_arn(cluster_arn: str, instance_id: str) -> str:
    """The ARN of an instance in the same account and region as a cluster ARN."""
    return f"{cluster_arn.rsplit(':cluster:', 1)[0]}:db:{instance_id}"
