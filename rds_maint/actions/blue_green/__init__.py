"""Blue/Green actions for engine_upgrade, one module per phase: create and wait, switchover, clean-up
and retention, verify, unwind (abort and rollback); what they share is in `common`."""

from rds_maint.actions.blue_green.cleanup import DeleteBlueGreenDeployment, DeleteOldCluster, RetainOldCluster
from rds_maint.actions.blue_green.create import CheckUpgradeReady, CreateBlueGreenDeployment, WaitBlueGreenAvailable
from rds_maint.actions.blue_green.switchover import SwitchoverBlueGreen
from rds_maint.actions.blue_green.unwind import UnwindBlueGreen
from rds_maint.actions.blue_green.verify import VerifyEngineUpgrade

__all__ = [
    "CheckUpgradeReady",
    "CreateBlueGreenDeployment",
    "DeleteBlueGreenDeployment",
    "DeleteOldCluster",
    "RetainOldCluster",
    "SwitchoverBlueGreen",
    "UnwindBlueGreen",
    "VerifyEngineUpgrade",
    "WaitBlueGreenAvailable",
]
