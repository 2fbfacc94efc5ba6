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
from rds_maint.actions.failover import Failover
from rds_maint.actions.instances import CreateTempInstance, DeleteTempInstance, ModifyInstanceClass
from rds_maint.actions.parameter_groups import (
    DeleteParameterGroups,
    PrepareParameterGroups,
    WaitParameterGroupsSettle,
)
from rds_maint.actions.proxies import CheckProxies, VerifyProxyTargets
from rds_maint.actions.reboot import RebootInstance
from rds_maint.actions.storage import CheckClusterStorage, ModifyClusterStorage, VerifyClusterStorage

ACTIONS: dict[str, Action[Any, Any]] = {
    action.kind.action: action
    for action in (
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
    )
}

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
