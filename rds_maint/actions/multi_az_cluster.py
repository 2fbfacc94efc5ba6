"""Step actions for Multi-AZ DB clusters: ModifyDBCluster, RebootDBCluster, member reboots."""

from __future__ import annotations

from typing import Any

from rds_maint.actions.base import Action

__all__ = ["MULTI_AZ_CLUSTER_ACTIONS"]

# Every action of this module, registered in `rds_maint.actions.ACTIONS`.
MULTI_AZ_CLUSTER_ACTIONS: tuple[Action[Any, Any], ...] = ()
