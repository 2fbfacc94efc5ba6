"""Read-only checks before a Blue/Green engine upgrade of an RDS DB instance.

Not built yet: refuses with a clear message.
"""

from __future__ import annotations

from datetime import datetime

from rds_maint.errors import BadInput
from rds_maint.model import EngineUpgradeParams
from rds_maint.ports import RdsPort
from rds_maint.snapshots import InstanceSnapshot

__all__ = ["preflight_db_instance_blue_green"]


def preflight_db_instance_blue_green(
    rds: RdsPort, instance: InstanceSnapshot, params: EngineUpgradeParams, now: datetime
) -> object:
    raise BadInput("engine_upgrade is not available for a DB instance yet")
