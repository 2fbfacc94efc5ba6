"""Step actions for engine_upgrade of an RDS DB instance through Blue/Green, one module per phase:
create and wait (`instance_blue_green_create`), switchover and proxies (`..._switchover`), clean-up and
verify (`..._cleanup`), abort and rollback (`..._unwind`); what they share is in `..._common`. The
parameter-group steps are the Aurora upgrade's (`actions.parameter_groups`)."""

from __future__ import annotations

from typing import Any

from rds_maint.actions.base import Action
from rds_maint.actions.instance_blue_green_cleanup import (
    DeleteInstanceBlueGreen,
    DeleteOldInstance,
    RetainOldInstance,
    VerifyInstanceUpgrade,
)
from rds_maint.actions.instance_blue_green_create import (
    CheckInstanceProxies,
    CheckInstanceUpgradeReady,
    CreateInstanceBlueGreen,
    WaitInstanceGreen,
)
from rds_maint.actions.instance_blue_green_switchover import SwitchoverInstanceBlueGreen, VerifyInstanceProxies
from rds_maint.actions.instance_blue_green_unwind import UnwindInstanceBlueGreen

__all__ = ["INSTANCE_BLUE_GREEN_ACTIONS"]

# Every action of this module, registered in `rds_maint.actions.ACTIONS`.
INSTANCE_BLUE_GREEN_ACTIONS: tuple[Action[Any, Any], ...] = (
    CheckInstanceUpgradeReady(),
    CheckInstanceProxies(),
    CreateInstanceBlueGreen(),
    WaitInstanceGreen(),
    SwitchoverInstanceBlueGreen(),
    VerifyInstanceProxies(),
    RetainOldInstance(),
    DeleteInstanceBlueGreen(),
    DeleteOldInstance(),
    VerifyInstanceUpgrade(),
    UnwindInstanceBlueGreen(),
)
