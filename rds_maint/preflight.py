"""Read-only checks against the live cluster before a plan is made (bad input changes nothing).

Plans are pure; what they need to know from AWS beyond the cluster snapshot (is a class
orderable, which versions are valid targets, which proxies exist) is gathered here, per
operation type, and handed to the plan as `facts`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rds_maint.errors import BadInput
from rds_maint.model import InstanceTypeChangeParams, OperationParams, OperationType
from rds_maint.rds import ClusterSnapshot, RdsGateway

Facts = dict[str, Any]
Preflight = Callable[[RdsGateway, ClusterSnapshot, Any], Facts]


def _instance_type_change(rds: RdsGateway, cluster: ClusterSnapshot, params: InstanceTypeChangeParams) -> Facts:
    target = params.target_instance_type
    if not rds.is_orderable(cluster.engine, cluster.engine_version, target):
        raise BadInput(
            f"target_instance_type {target} is not orderable for {cluster.engine} {cluster.engine_version} "
            "in this region"
        )
    return {}


PREFLIGHTS: dict[OperationType, Preflight] = {
    OperationType.INSTANCE_TYPE_CHANGE: _instance_type_change,
}


def preflight(op_type: OperationType, rds: RdsGateway, cluster: ClusterSnapshot, params: OperationParams) -> Facts:
    check = PREFLIGHTS.get(op_type)
    return check(rds, cluster, params) if check else {}
