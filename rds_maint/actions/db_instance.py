"""Step actions for RDS DB instances: storage, class, reboot, in-place upgrade."""

from __future__ import annotations

from typing import Any

from rds_maint.actions.base import Action

__all__ = ["DB_INSTANCE_ACTIONS"]

# Every action of this module, registered in `rds_maint.actions.ACTIONS`.
DB_INSTANCE_ACTIONS: tuple[Action[Any, Any], ...] = ()
