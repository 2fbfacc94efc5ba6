"""Read-only checks before a plan on a Multi-AZ DB cluster.

Not built yet: refuses with a clear message.
"""

from __future__ import annotations

from datetime import datetime

from rds_maint.errors import BadInput
from rds_maint.model import OperationParams, OperationType
from rds_maint.ports import RdsPort
from rds_maint.snapshots import ClusterSnapshot

__all__ = ["preflight_multi_az_cluster"]


def preflight_multi_az_cluster(
    op_type: OperationType, rds: RdsPort, cluster: ClusterSnapshot, params: OperationParams, now: datetime
) -> object:
    raise BadInput(f"{op_type.value} is not available for a Multi-AZ DB cluster yet")
