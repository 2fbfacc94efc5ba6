"""How a person names a step of a plan (`--pause-before`, `pause_before_steps`): its id, its name or its action.

An id is `s04`; a name is what the plan prints (`failback`, `reboot:orders-prod-instance-2`); an action is a
word for what the step does (`reboot`, `failover`, `switchover`), which names every step of that kind. The
step actions stored in a record are internal identifiers (`switchover_blue_green`): people are given the
words below, never those. A stored ref that is an internal action (written by an older version) still
matches, so an operation created before keeps its pauses. Matching ignores case and takes `-` and `_` as the
same character (AWS identifiers never hold `_`, so no two steps become one by it).
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Any

from rds_maint.model import Step
from rds_maint.steps.base import StepKind
from rds_maint.steps.blue_green import (
    CHECK_PROXIES,
    CHECK_UPGRADE_READY,
    CREATE_BLUE_GREEN_DEPLOYMENT,
    DELETE_BLUE_GREEN_DEPLOYMENT,
    DELETE_OLD_CLUSTER,
    PREPARE_PARAMETER_GROUPS,
    RETAIN_OLD_CLUSTER,
    SWITCHOVER_BLUE_GREEN,
    VERIFY_ENGINE_UPGRADE,
    VERIFY_PROXY_TARGETS,
    WAIT_BLUE_GREEN_AVAILABLE,
    WAIT_PARAMETER_GROUPS_SETTLE,
)
from rds_maint.steps.cluster import (
    CHECK_CLUSTER,
    CHECK_CLUSTER_STORAGE,
    CREATE_TEMP_INSTANCE,
    DELETE_TEMP_INSTANCE,
    FAILOVER,
    MODIFY_CLUSTER_STORAGE,
    MODIFY_INSTANCE_CLASS,
    REBOOT_INSTANCE,
    RESTORE_PROMOTION_TIERS,
    VERIFY_CLUSTER_STORAGE,
    VERIFY_INSTANCE_CLASSES,
    VERIFY_INSTANCE_CYCLE,
)

__all__ = ["ACTION_WORDS", "action_words_of", "refusal_of_pause_ref", "step_matches"]

# The word a person types for each kind of planned step (the clean-up steps of abort and rollback never
# pause, so they have none).
_WORDS: dict[str, tuple[StepKind[Any, Any], ...]] = {
    "check": (CHECK_CLUSTER, CHECK_CLUSTER_STORAGE, CHECK_UPGRADE_READY),
    "create-temp-instance": (CREATE_TEMP_INSTANCE,),
    "failover": (FAILOVER,),
    "modify-class": (MODIFY_INSTANCE_CLASS,),
    "modify-storage": (MODIFY_CLUSTER_STORAGE,),
    "reboot": (REBOOT_INSTANCE,),
    "delete-temp-instance": (DELETE_TEMP_INSTANCE,),
    "restore-promotion-tiers": (RESTORE_PROMOTION_TIERS,),
    "prepare-parameter-groups": (PREPARE_PARAMETER_GROUPS,),
    "check-proxies": (CHECK_PROXIES,),
    "settle-parameter-groups": (WAIT_PARAMETER_GROUPS_SETTLE,),
    "create-blue-green": (CREATE_BLUE_GREEN_DEPLOYMENT,),
    "wait-green": (WAIT_BLUE_GREEN_AVAILABLE,),
    "switchover": (SWITCHOVER_BLUE_GREEN,),
    "verify-proxies": (VERIFY_PROXY_TARGETS,),
    "keep-old-cluster": (RETAIN_OLD_CLUSTER,),
    "delete-blue-green": (DELETE_BLUE_GREEN_DEPLOYMENT,),
    "delete-old-cluster": (DELETE_OLD_CLUSTER,),
    "verify": (VERIFY_INSTANCE_CLASSES, VERIFY_CLUSTER_STORAGE, VERIFY_INSTANCE_CYCLE, VERIFY_ENGINE_UPGRADE),
}
ACTION_WORDS: dict[str, frozenset[str]] = {word: frozenset(k.action for k in kinds) for word, kinds in _WORDS.items()}


def _folded(text: str) -> str:
    return text.strip().lower().replace("_", "-")


def step_matches(step: Step, ref: str) -> bool:
    """A ref names this step by its id, its name or the word (or, from an older record, the internal
    action) of what it does."""
    wanted = _folded(ref)
    if wanted in (_folded(step.id), _folded(step.name), _folded(step.action)):
        return True
    return step.action in ACTION_WORDS.get(wanted, frozenset())


def action_words_of(steps: Sequence[Step]) -> list[str]:
    """The action words that name at least one of these steps, in the order of the word list."""
    actions = {s.action for s in steps}
    return [word for word, kinds in ACTION_WORDS.items() if kinds & actions]


def refusal_of_pause_ref(ref: str, steps: Sequence[Step]) -> str:
    """The refusal of a ref that names no step of the plan: every way to name one, and the closest."""
    ids = [s.id for s in steps]
    names = [s.name for s in steps]
    words = action_words_of(steps)
    close = difflib.get_close_matches(_folded(ref), [_folded(c) for c in names + words], n=1)
    hint = ""
    if close:
        original = next(c for c in names + words if _folded(c) == close[0])
        hint = f" (did you mean '{original}'?)"
    span = f"{ids[0]}-{ids[-1]}" if ids else "none"
    return (
        f"cannot pause before '{ref}': no step of this plan matches it{hint}; name a step by id ({span}), by name "
        f"({', '.join(names)}) or by action ({', '.join(words)})"
    )
