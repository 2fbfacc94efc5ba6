"""`DescribePendingMaintenanceActions`, which moto does not implement.

AWS lists, per resource ARN, the maintenance it has scheduled (a system update, an engine minor
upgrade, a CA rotation). Pending actions can block an engine upgrade, so the engine reports them;
a test (or the demo) adds them with `add`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rds_sim.errors import ApiError
from rds_sim.paging import page
from rds_sim.world_protocol import World

_ACCOUNT = "123456789012"


@dataclass(frozen=True)
class _Pending:
    resource_arn: str
    action: str
    description: str
    auto_applied_after: datetime | None
    forced_apply: datetime | None


class MaintenanceSim:
    """Pending maintenance actions of one simulated region (`sim.maintenance`)."""

    def __init__(self, world: World) -> None:
        self.world = world
        self._pending: list[_Pending] = []

    def handlers(self) -> dict[str, Any]:
        return {"DescribePendingMaintenanceActions": self.describe_pending_maintenance_actions}

    def add(
        self,
        *,
        cluster_id: str | None = None,
        instance_id: str | None = None,
        action: str = "system-update",
        description: str = "New Operating System update is available",
        auto_applied_after: datetime | None = None,
        forced_apply: datetime | None = None,
    ) -> None:
        """Schedule an action on a cluster or an instance (by identifier)."""
        if (cluster_id is None) == (instance_id is None):
            raise ValueError("give exactly one of cluster_id, instance_id")
        region = self.world.moto.region
        arn = (
            f"arn:aws:rds:{region}:{_ACCOUNT}:cluster:{cluster_id}"
            if cluster_id
            else f"arn:aws:rds:{region}:{_ACCOUNT}:db:{instance_id}"
        )
        self._pending.append(_Pending(arn, action, description, auto_applied_after, forced_apply))

    def describe_pending_maintenance_actions(self, params: dict[str, Any]) -> dict[str, Any]:
        filters = {str(f["Name"]): [str(v) for v in f.get("Values", [])] for f in params.get("Filters") or []}
        for name in filters:
            if name not in ("db-cluster-id", "db-instance-id"):
                raise ApiError("InvalidParameterValue", f"Unrecognized filter name: {name}")
        wanted = params.get("ResourceIdentifier")
        by_resource: dict[str, list[dict[str, Any]]] = {}
        for pending in self._pending:
            kind = "cluster" if ":cluster:" in pending.resource_arn else "db"
            name = pending.resource_arn.rsplit(":", 1)[-1]
            if wanted and wanted != pending.resource_arn:
                continue
            if "db-cluster-id" in filters and not (
                kind == "cluster" and {name, pending.resource_arn} & set(filters["db-cluster-id"])
            ):
                continue
            if "db-instance-id" in filters and not (
                kind == "db" and {name, pending.resource_arn} & set(filters["db-instance-id"])
            ):
                continue
            detail: dict[str, Any] = {"Action": pending.action, "Description": pending.description}
            if pending.auto_applied_after:
                detail["AutoAppliedAfterDate"] = pending.auto_applied_after
            if pending.forced_apply:
                detail["ForcedApplyDate"] = pending.forced_apply
            by_resource.setdefault(pending.resource_arn, []).append(detail)
        rows = [
            {"ResourceIdentifier": arn, "PendingMaintenanceActionDetails": details}
            for arn, details in by_resource.items()
        ]
        return page(rows, params, "PendingMaintenanceActions")
