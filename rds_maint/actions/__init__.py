"""Step actions by name: the only code with side effects on AWS."""

from __future__ import annotations

from typing import Any

from rds_maint.actions.base import (
    Action,
    ActionContext,
    ActionOutcome,
    Done,
    Note,
    Retry,
    Wait,
    is_disruptive,
)
from rds_maint.actions.blue_green import (
    CheckUpgradeReady,
    CreateBlueGreenDeployment,
    DeleteBlueGreenDeployment,
    DeleteOldCluster,
    RetainOldCluster,
    SwitchoverBlueGreen,
    UnwindBlueGreen,
    VerifyEngineUpgrade,
    WaitBlueGreenAvailable,
)
from rds_maint.actions.checks import CheckCluster, VerifyInstanceClasses
from rds_maint.actions.cycle import RecordNote, RestorePromotionTiers, VerifyInstanceCycle
from rds_maint.actions.db_instance import DB_INSTANCE_ACTIONS
from rds_maint.actions.db_instance_storage import DB_INSTANCE_STORAGE_ACTIONS
from rds_maint.actions.failover import Failover
from rds_maint.actions.instance_blue_green import INSTANCE_BLUE_GREEN_ACTIONS
from rds_maint.actions.instances import CreateTempInstance, DeleteTempInstance, ModifyInstanceClass
from rds_maint.actions.multi_az_cluster import MULTI_AZ_CLUSTER_ACTIONS
from rds_maint.actions.parameter_groups import (
    DeleteParameterGroups,
    PrepareParameterGroups,
    WaitParameterGroupsSettle,
)
from rds_maint.actions.proxies import CheckProxies, VerifyProxyTargets
from rds_maint.actions.reboot import RebootInstance
from rds_maint.actions.storage import CheckClusterStorage, ModifyClusterStorage, VerifyClusterStorage

_ALL: tuple[Action[Any, Any], ...] = (
    CheckCluster(),
    VerifyInstanceClasses(),
    Failover(),
    CreateTempInstance(),
    ModifyInstanceClass(),
    DeleteTempInstance(),
    CheckClusterStorage(),
    ModifyClusterStorage(),
    VerifyClusterStorage(),
    RebootInstance(),
    RestorePromotionTiers(),
    VerifyInstanceCycle(),
    RecordNote(),
    # engine_upgrade (Blue/Green)
    CheckUpgradeReady(),
    PrepareParameterGroups(),
    WaitParameterGroupsSettle(),
    CheckProxies(),
    CreateBlueGreenDeployment(),
    WaitBlueGreenAvailable(),
    SwitchoverBlueGreen(),
    VerifyProxyTargets(),
    RetainOldCluster(),
    DeleteBlueGreenDeployment(),
    DeleteOldCluster(),
    VerifyEngineUpgrade(),
    UnwindBlueGreen(),
    DeleteParameterGroups(),
    *DB_INSTANCE_ACTIONS,
    *DB_INSTANCE_STORAGE_ACTIONS,
    *MULTI_AZ_CLUSTER_ACTIONS,
    *INSTANCE_BLUE_GREEN_ACTIONS,
)
ACTIONS: dict[str, Action[Any, Any]] = {action.kind.action: action for action in _ALL}

__all__ = [
    "ACTIONS",
    "Action",
    "ActionContext",
    "ActionOutcome",
    "Done",
    "Note",
    "Retry",
    "Wait",
    "is_disruptive",
]
