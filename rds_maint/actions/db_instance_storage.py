"""Step actions for storage_type_change on an RDS DB instance (ModifyDBInstance of its storage)."""

from __future__ import annotations

from typing import Any

from rds_maint.actions.base import Action

__all__ = ["DB_INSTANCE_STORAGE_ACTIONS"]

# Every action of this module, registered in `rds_maint.actions.ACTIONS`.
DB_INSTANCE_STORAGE_ACTIONS: tuple[Action[Any, Any], ...] = ()
