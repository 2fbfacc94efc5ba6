"""Small helpers the engine_upgrade actions share: names from ARNs, whose a resource is by its tag."""

from __future__ import annotations

from typing import Any

from rds_maint.snapshots import TAG_OPERATION_ID

__all__ = ["arn_name", "instance_arn", "tagged_by"]


def arn_name(arn: str) -> str:
    """arn:aws:rds:us-east-1:123456789012:cluster:orders-prod -> orders-prod."""
    return arn.rsplit(":", 1)[-1]


def tagged_by(resource: dict[str, Any], operation_id: str) -> bool:
    tags = {str(t.get("Key")): str(t.get("Value", "")) for t in resource.get("TagList") or []}
    return tags.get(TAG_OPERATION_ID) == operation_id


def instance_arn(cluster_arn: str, instance_id: str) -> str:
    """The ARN of an instance in the same account and region as a cluster ARN."""
    return f"{cluster_arn.rsplit(':cluster:', 1)[0]}:db:{instance_id}"
