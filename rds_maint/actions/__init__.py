"""Step actions by name: the only code with side effects on AWS.

`ACTIONS` maps each step action's name to its implementation, and imports an action's module (and with
it that module's step kinds, pydantic models built at import) only when the name is first looked up.
Why: a Lambda invocation runs or checks one step, and its cold start is the import of what it touches;
importing every action would build every step kind's models for the one step it runs (docs/cold-start.md).

`SOURCES` is the registry, the one list of every action: name -> "module:attribute", where the attribute
is the action's class (made with no arguments) or a tuple of action instances (for a module whose actions
share a class, made with a step kind each) that holds one whose `kind.action` is the name.
tests/units/test_cold_start_imports.py loads every entry and checks that it registers the name it is listed
under, and that every step kind in `rds_maint.steps` has an entry: a typo or a new kind left out fails a
test, not a step at 2 a.m.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping, MutableMapping
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

__all__ = [
    "ACTIONS",
    "SOURCES",
    "Action",
    "ActionContext",
    "ActionOutcome",
    "ActionRegistry",
    "Done",
    "Note",
    "Retry",
    "Wait",
    "is_disruptive",
]

_DB_INSTANCE = "rds_maint.actions.db_instance:DB_INSTANCE_ACTIONS"
_DB_INSTANCE_STORAGE = "rds_maint.actions.db_instance_storage:DB_INSTANCE_STORAGE_ACTIONS"
_MULTI_AZ = "rds_maint.actions.multi_az_cluster:MULTI_AZ_CLUSTER_ACTIONS"
_IBG_CREATE = "rds_maint.actions.instance_blue_green_create"
_IBG_SWITCHOVER = "rds_maint.actions.instance_blue_green_switchover"
_IBG_CLEANUP = "rds_maint.actions.instance_blue_green_cleanup"

SOURCES: dict[str, str] = {
    # Aurora: checks, temp instance, failover, storage, reboots (step kinds: rds_maint.steps.cluster)
    "check_cluster": "rds_maint.actions.checks:CheckCluster",
    "verify_instance_classes": "rds_maint.actions.checks:VerifyInstanceClasses",
    "failover": "rds_maint.actions.failover:Failover",
    "create_temp_instance": "rds_maint.actions.instances:CreateTempInstance",
    "modify_instance_class": "rds_maint.actions.instances:ModifyInstanceClass",
    "delete_temp_instance": "rds_maint.actions.instances:DeleteTempInstance",
    "check_cluster_storage": "rds_maint.actions.storage:CheckClusterStorage",
    "modify_cluster_storage": "rds_maint.actions.storage:ModifyClusterStorage",
    "verify_cluster_storage": "rds_maint.actions.storage:VerifyClusterStorage",
    "reboot_instance": "rds_maint.actions.reboot:RebootInstance",
    "restore_promotion_tiers": "rds_maint.actions.cycle:RestorePromotionTiers",
    "verify_instance_cycle": "rds_maint.actions.cycle:VerifyInstanceCycle",
    "record_note": "rds_maint.actions.cycle:RecordNote",
    # Aurora engine_upgrade through Blue/Green (rds_maint.steps.blue_green)
    "check_upgrade_ready": "rds_maint.actions.blue_green.create:CheckUpgradeReady",
    "prepare_parameter_groups": "rds_maint.actions.parameter_groups:PrepareParameterGroups",
    "wait_parameter_groups_settle": "rds_maint.actions.parameter_groups:WaitParameterGroupsSettle",
    "check_proxies": "rds_maint.actions.proxies:CheckProxies",
    "create_blue_green_deployment": "rds_maint.actions.blue_green.create:CreateBlueGreenDeployment",
    "wait_blue_green_available": "rds_maint.actions.blue_green.create:WaitBlueGreenAvailable",
    "switchover_blue_green": "rds_maint.actions.blue_green.switchover:SwitchoverBlueGreen",
    "verify_proxy_targets": "rds_maint.actions.proxies:VerifyProxyTargets",
    "retain_old_cluster": "rds_maint.actions.blue_green.cleanup:RetainOldCluster",
    "delete_blue_green_deployment": "rds_maint.actions.blue_green.cleanup:DeleteBlueGreenDeployment",
    "delete_old_cluster": "rds_maint.actions.blue_green.cleanup:DeleteOldCluster",
    "verify_engine_upgrade": "rds_maint.actions.blue_green.verify:VerifyEngineUpgrade",
    "unwind_blue_green": "rds_maint.actions.blue_green.unwind:UnwindBlueGreen",
    "delete_parameter_groups": "rds_maint.actions.parameter_groups:DeleteParameterGroups",
    # RDS DB instance (rds_maint.steps.db_instance)
    "check_db_instance": _DB_INSTANCE,
    "modify_db_instance_class": _DB_INSTANCE,
    "modify_db_instance_class_offline": _DB_INSTANCE,
    "reboot_db_instance": _DB_INSTANCE,
    "reboot_db_instance_offline": _DB_INSTANCE,
    "upgrade_db_instance_in_place": _DB_INSTANCE,
    "verify_db_instance": _DB_INSTANCE,
    # RDS DB instance storage (rds_maint.steps.db_instance_storage)
    "check_db_instance_storage": _DB_INSTANCE_STORAGE,
    "modify_db_instance_storage": _DB_INSTANCE_STORAGE,
    "wait_db_instance_storage_optimization": _DB_INSTANCE_STORAGE,
    "verify_db_instance_storage": _DB_INSTANCE_STORAGE,
    # Multi-AZ DB cluster (rds_maint.steps.multi_az_cluster)
    "modify_multi_az_storage": _MULTI_AZ,
    "modify_multi_az_class": _MULTI_AZ,
    "upgrade_multi_az_engine": _MULTI_AZ,
    "upgrade_multi_az_engine_major": _MULTI_AZ,
    "reboot_multi_az_cluster": _MULTI_AZ,
    "reboot_multi_az_member": _MULTI_AZ,
    "verify_multi_az_cluster": _MULTI_AZ,
    # RDS DB instance engine upgrade through Blue/Green (rds_maint.steps.instance_blue_green)
    "check_instance_upgrade_ready": f"{_IBG_CREATE}:CheckInstanceUpgradeReady",
    "check_instance_proxies": f"{_IBG_CREATE}:CheckInstanceProxies",
    "create_instance_blue_green": f"{_IBG_CREATE}:CreateInstanceBlueGreen",
    "wait_instance_green": f"{_IBG_CREATE}:WaitInstanceGreen",
    "switchover_instance_blue_green": f"{_IBG_SWITCHOVER}:SwitchoverInstanceBlueGreen",
    "verify_instance_proxies": f"{_IBG_SWITCHOVER}:VerifyInstanceProxies",
    "retain_old_instance": f"{_IBG_CLEANUP}:RetainOldInstance",
    "delete_instance_blue_green": f"{_IBG_CLEANUP}:DeleteInstanceBlueGreen",
    "delete_old_instance": f"{_IBG_CLEANUP}:DeleteOldInstance",
    "verify_instance_upgrade": f"{_IBG_CLEANUP}:VerifyInstanceUpgrade",
    "unwind_instance_blue_green": "rds_maint.actions.instance_blue_green_unwind:UnwindInstanceBlueGreen",
}


def load_action(name: str, source: str) -> Action[Any, Any]:
    """Import `source` ("module:attribute") and find the action registered there under `name`.

    An entry that does not lead to its action raises ImportError, as a missing module does: a bug in this
    package, never bad input, and not a KeyError, so that `ACTIONS.get(name)` does not take it for an unknown
    name (the engine pauses a step of an unknown action for a person; a broken entry is ours to fix)."""
    module_name, _, attribute = source.partition(":")
    module = importlib.import_module(module_name)
    try:
        found = getattr(module, attribute)
    except AttributeError:
        raise ImportError(f"action {name!r}: {module_name} has no {attribute!r}") from None
    candidates: tuple[Any, ...] = found if isinstance(found, tuple) else (found(),)
    for candidate in candidates:
        if getattr(getattr(candidate, "kind", None), "action", None) == name:
            action: Action[Any, Any] = candidate
            return action
    raise ImportError(f"action {name!r}: {source} registers no action of that name")


class ActionRegistry(MutableMapping[str, Action[Any, Any]]):
    """The actions by name, each imported on its first lookup and kept.

    `name in ACTIONS` and iterating over the names import nothing; looking one up imports its module once.
    A test may set an action of its own (`monkeypatch.setitem`), which then wins over the registry's.
    """

    def __init__(self, sources: Mapping[str, str]) -> None:
        self._sources = dict(sources)
        self._loaded: dict[str, Action[Any, Any]] = {}

    def __getitem__(self, name: str) -> Action[Any, Any]:
        action = self._loaded.get(name)
        if action is None:
            source = self._sources.get(name)
            if source is None:
                raise KeyError(name)
            action = self._loaded[name] = load_action(name, source)
        return action

    def __setitem__(self, name: str, action: Action[Any, Any]) -> None:
        self._loaded[name] = action

    def __delitem__(self, name: str) -> None:
        if name not in self:
            raise KeyError(name)
        self._loaded.pop(name, None)
        self._sources.pop(name, None)

    def __contains__(self, name: object) -> bool:
        return name in self._sources or name in self._loaded

    def __iter__(self) -> Iterator[str]:
        yield from self._sources
        yield from (name for name in self._loaded if name not in self._sources)

    def __len__(self) -> int:
        return len(self._sources.keys() | self._loaded.keys())


ACTIONS = ActionRegistry(SOURCES)
