"""Plans: which steps an operation has, from a target's snapshot, its params and preflight facts.

Pure data, no I/O: `rds_maint.plans.registry` maps each (kind of target, operation type) to its builder
and unwinder (DESIGN section 10's kinds: an Aurora cluster, a Multi-AZ DB cluster, an RDS DB instance);
each plan type is a module of this package.

This package's names are the registry's, imported on first use (PEP 562 `__getattr__`): any import of a
plan module (`rds_maint.plans.rollback`, which an Aurora operation's last step reads) runs this file first,
and an eager registry here would build every plan type and every step kind's models for it, in the engine's
Lambda calls too (docs/cold-start.md).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rds_maint.plans.registry import (
        BUILDERS,
        UNWINDERS,
        InstanceCycleFacts,
        Plan,
        StorageTypeChangeFacts,
        build_plan,
        rollback_limits,
        temp_instance_id,
        unwind_steps,
    )

__all__ = [
    "BUILDERS",
    "UNWINDERS",
    "InstanceCycleFacts",
    "Plan",
    "StorageTypeChangeFacts",
    "build_plan",
    "rollback_limits",
    "temp_instance_id",
    "unwind_steps",
]

_REGISTRY = "rds_maint.plans.registry"


def __getattr__(name: str) -> object:
    """A registry name, imported once; anything else is not here (a plan module is imported as a submodule)."""
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value: object = getattr(importlib.import_module(_REGISTRY), name)
    globals()[name] = value
    return value
