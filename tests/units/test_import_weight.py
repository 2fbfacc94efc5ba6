"""Plans, actions and the engine see ports, not the SDK: importing them must not load boto3 or botocore.

A plan (`rds-maint plan`, a preview, a unit test of the planner) needs the snapshot types, not boto3;
actions and the engine talk to RDS through `rds_maint.ports.RdsPort` and get the real gateway from
the wiring (`rds_maint.wiring`, the one place that builds it). Loading boto3 and botocore costs
start-up time and ties these layers to the SDK. Each module is
imported in a fresh interpreter, since this test process has long since loaded boto3 through moto.
The import-linter contract in pyproject.toml says the same about the import graph.
"""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import rds_maint.actions
import rds_maint.plans

SDK = ("boto3", "botocore")
PLAN_MODULES = sorted(
    ["rds_maint.plans"] + [f"rds_maint.plans.{m.name}" for m in pkgutil.iter_modules(rds_maint.plans.__path__)]
)
ACTION_MODULES = sorted(
    ["rds_maint.actions"] + [f"rds_maint.actions.{m.name}" for m in pkgutil.iter_modules(rds_maint.actions.__path__)]
)
PURE_MODULES = [
    *PLAN_MODULES,
    *ACTION_MODULES,
    "rds_maint.model",
    "rds_maint.errors",
    "rds_maint.snapshots",
    "rds_maint.ports",
    "rds_maint.rds_shapes",
    "rds_maint.intervention",
    "rds_maint.config",
]


def sdk_modules_loaded_by(*modules: str) -> list[str]:
    """The boto3/botocore modules in `sys.modules` after a fresh interpreter imports `modules`."""
    imports = "".join(f"import {module}; " for module in modules)
    probe = (
        f"import json, sys; {imports}print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {SDK!r})))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60)
    loaded: list[str] = json.loads(done.stdout)
    return loaded


def test_every_plan_and_action_module_is_probed() -> None:
    assert {"rds_maint.plans.temp_instance", "rds_maint.plans.engine_upgrade"} <= set(PLAN_MODULES)
    assert {"rds_maint.actions.failover", "rds_maint.actions.blue_green"} <= set(ACTION_MODULES)


def test_importing_the_pure_layer_the_engine_or_the_planner_loads_no_aws_sdk() -> None:
    """All of them in one fresh interpreter; one interpreter per module only to name the culprits.

    Merged: one case per module (49 interpreters) became one interpreter. What a module imports is the
    same whoever imports it first, so the SDK is absent after importing them all exactly when it is
    absent after importing each alone; when it is present, each module is probed alone and the ones
    that load it are named, as the per-module cases did.
    """
    modules = [*PURE_MODULES, "rds_maint.engine", "rds_maint.planning", "rds_maint.store"]
    loaded = sdk_modules_loaded_by(*modules)
    culprits = {module: sdk_modules_loaded_by(module) for module in modules} if loaded else {}
    assert loaded == [], {module: found for module, found in culprits.items() if found}


def test_the_probe_sees_the_sdk_when_it_is_loaded() -> None:
    # The gateway is the SDK's home: the probe must report botocore there, or the test above proves nothing.
    assert "botocore" in sdk_modules_loaded_by("rds_maint.rds")
    # and among the pure modules too: one heavy module is not hidden by the others
    assert "botocore" in sdk_modules_loaded_by(*PURE_MODULES, "rds_maint.rds")
