"""Read-only checks before a storage_type_change of an RDS DB instance.

Not built yet: refuses with a clear message.
"""

from __future__ import annotations

from datetime import datetime

from rds_maint.errors import BadInput
from rds_maint.model import StorageTypeChangeParams
from rds_maint.ports import RdsPort
from rds_maint.snapshots import InstanceSnapshot

__all__ = ["preflight_db_instance_storage"]


def preflight_db_instance_storage(
    rds: RdsPort, instance: InstanceSnapshot, params: StorageTypeChangeParams, now: datetime
) -> object:
    raise BadInput("storage_type_change is not available for a DB instance yet")
