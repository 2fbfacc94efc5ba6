"""Step actions for engine_upgrade of an RDS DB instance through Blue/Green."""

from __future__ import annotations

from typing import Any

from rds_maint.actions.base import Action

__all__ = ["INSTANCE_BLUE_GREEN_ACTIONS"]

# Every action of this module, registered in `rds_maint.actions.ACTIONS`.
INSTANCE_BLUE_GREEN_ACTIONS: tuple[Action[Any, Any], ...] = ()
