"""Read-only checks before a plan on an RDS DB instance: storage, class, reboot, in-place upgrade.

Not built yet: refuses with a clear message.
"""

from __future__ import annotations

from datetime import datetime

from rds_maint.errors import BadInput
from rds_maint.model import OperationParams, OperationType
from rds_maint.ports import RdsPort
from rds_maint.snapshots import InstanceSnapshot

__all__ = ["preflight_db_instance"]


def preflight_db_instance(
    op_type: OperationType, rds: RdsPort, instance: InstanceSnapshot, params: OperationParams, now: datetime
) -> object:
    raise BadInput(f"{op_type.value} is not available for a DB instance yet")
