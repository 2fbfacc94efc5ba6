"""How long a plan should take and when writes stop: what a person weighs before saying yes.

Figures come from the same typical durations the poller plans its looks by (`actions.polling`,
docs/aws-behaviour.md "Durations"): an estimate, not a promise; AWS often runs longer. A step that
only reads or tags takes a few seconds. Pure: it reads the steps, never AWS, so `plan`, the
confirmation before `run` and the progress display give the same figures.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rds_maint.actions import ACTIONS
from rds_maint.actions.polling import EXPECTED_SECONDS, class_factor
from rds_maint.model import Step
from rds_maint.steps.base import StepKind

__all__ = [
    "INTERRUPTION_SECONDS",
    "TRANSITIONS",
    "Interruption",
    "PlanEstimate",
    "StepEstimate",
    "estimate_steps",
    "interruption_of",
    "transition_of",
]

# A step that calls AWS once and does not wait: a describe or two, a tag, a save.
QUICK_SECONDS = 5.0

# Write interruptions, typical length in seconds (docs/aws-behaviour.md, "Durations"): a failover
# ~30 s, a Blue/Green switchover usually under a minute, a writer reboot ~60 s.
INTERRUPTION_SECONDS: dict[str, float] = {
    "failover": 35.0,
    "switchover": 60.0,
    "reboot": 60.0,
    # A Multi-AZ DB instance or cluster failing over to its standby: typically 60-120 s (FIELD_NOTES 5.3).
    "multi_az_failover": 90.0,
}

# Parameter groups: "wait at least 5 minutes" after creating or changing one before it is used (Aurora user
# guide, docs/aws-behaviour.md "Parameter groups"); the step waits out whatever is left of it, at most this.
SETTLE_SECONDS = 300.0

# Every step action -> the AWS transition it waits for (a key of EXPECTED_SECONDS), "settle" for the
# parameter group wait, or None: it calls AWS once or twice and does not wait (QUICK_SECONDS). Every
# action has an entry, so a new action cannot be estimated by accident (a test compares with ACTIONS).
TRANSITIONS: dict[str, str | None] = {
    "check_cluster": None,
    "check_cluster_storage": None,
    "check_proxies": None,
    "check_upgrade_ready": None,
    "create_blue_green_deployment": None,  # the call only; wait_blue_green_available waits for the build
    "create_temp_instance": "create",
    "delete_blue_green_deployment": "blue_green_delete",
    "delete_old_cluster": "cluster_delete",
    "delete_parameter_groups": None,
    "delete_temp_instance": "delete",
    "failover": "failover",
    "modify_cluster_storage": "storage",
    "modify_instance_class": "modify",
    "prepare_parameter_groups": None,
    "reboot_instance": "reboot",
    "record_note": None,
    "restore_promotion_tiers": None,
    "retain_old_cluster": None,  # time waited, not work: PlanEstimate.retained_seconds
    "switchover_blue_green": "switchover",
    "unwind_blue_green": "blue_green_delete_target",
    "verify_cluster_storage": None,
    "verify_engine_upgrade": None,
    "verify_instance_classes": None,
    "verify_instance_cycle": None,
    "verify_proxy_targets": None,
    "wait_blue_green_available": "blue_green_create",
    "wait_parameter_groups_settle": "settle",
}


@dataclass(frozen=True)
class Interruption:
    """A stop of writes the plan causes: which step, what kind, about how long."""

    step_id: str
    kind: str  # "failover", "switchover", "reboot" (of the writer), "multi_az_failover" or "downtime"
    seconds: float


@dataclass(frozen=True)
class StepEstimate:
    step_id: str
    seconds: float
    interruption: Interruption | None = None


@dataclass(frozen=True)
class PlanEstimate:
    steps: tuple[StepEstimate, ...]
    # The whole run, retention of an old cluster excluded (it is time waited, not work).
    total_seconds: float
    # Hours an old Blue/Green cluster is kept before it is deleted (0: none).
    retained_seconds: float
    interruptions: tuple[Interruption, ...]
    # A temporary instance: its class and about how long it is in the cluster (None: the plan has none).
    temp_instance_class: str | None
    temp_instance_seconds: float

    def for_step(self, step_id: str) -> StepEstimate | None:
        return next((s for s in self.steps if s.step_id == step_id), None)

    def remaining_after(self, step_id: str) -> float:
        """Seconds the steps after `step_id` should take."""
        ids = [s.step_id for s in self.steps]
        if step_id not in ids:
            return 0.0
        return sum(s.seconds for s in self.steps[ids.index(step_id) + 1 :])


def _kind(action: str) -> StepKind[Any, Any] | None:
    found = ACTIONS.get(action)
    return found.kind if found is not None else None


def transition_of(action: str) -> str | None:
    """The AWS transition a step action waits for (None: it does not wait)."""
    if action in TRANSITIONS:
        return TRANSITIONS[action]
    kind = _kind(action)
    return kind.transition if kind is not None else None


def interruption_of(action: str) -> str | None:
    """The stop of writes a step action causes, as its step kind says (None: none, or an Aurora action whose
    interruption depends on its parameters, e.g. a reboot of the writer)."""
    if action in ("failover", "switchover_blue_green"):
        return "failover" if action == "failover" else "switchover"
    kind = _kind(action)
    return kind.interruption if kind is not None else None


def _seconds(step: Step, expected: Mapping[str, float]) -> float:
    if step.action == "retain_old_cluster":
        return 0.0
    transition = transition_of(step.action)
    if transition is None:
        return QUICK_SECONDS
    if transition == "settle":
        return SETTLE_SECONDS
    base = expected.get(transition, 300.0)
    if transition in ("create", "modify"):
        base *= class_factor(_text(step.parameters, "instance_class"))
    if step.action == "delete_blue_green_deployment" and step.parameters.get("delete_target"):
        base = expected.get("blue_green_delete_target", base)
    return base


def _text(parameters: Mapping[str, Any], key: str) -> str | None:
    value = parameters.get(key)
    return value if isinstance(value, str) else None


def _interruption(step: Step, writer_id: str | None, seconds: float) -> Interruption | None:
    step_kind = _kind(step.action) if step.action not in TRANSITIONS else None
    if step_kind is not None and step_kind.interruption is not None:
        stop = step_kind.interruption
        return Interruption(step.id, stop, seconds if stop == "downtime" else INTERRUPTION_SECONDS[stop])
    if step.action in ("failover", "switchover_blue_green"):
        kind = "failover" if step.action == "failover" else "switchover"
        return Interruption(step.id, kind, INTERRUPTION_SECONDS[kind])
    if step.action == "reboot_instance" and writer_id and step.parameters.get("instance_id") == writer_id:
        return Interruption(step.id, "reboot", INTERRUPTION_SECONDS["reboot"])
    return None


def _estimate(step: Step, writer_id: str | None, expected: Mapping[str, float]) -> StepEstimate:
    seconds = _seconds(step, expected)
    return StepEstimate(step.id, seconds, _interruption(step, writer_id, seconds))


def estimate_steps(
    steps: Sequence[Step], *, writer_id: str | None = None, expected: Mapping[str, float] = EXPECTED_SECONDS
) -> PlanEstimate:
    """The estimate of a plan's steps (or an operation's, done steps included). `writer_id`: the
    cluster's writer when planned, so a reboot of it counts as an interruption."""
    estimates = tuple(_estimate(s, writer_id, expected) for s in steps)
    retained = sum(float(s.parameters.get("hours", 0)) * 3600 for s in steps if s.action == "retain_old_cluster")
    temp_class: str | None = None
    temp_seconds = 0.0
    inside = False
    for step, est in zip(steps, estimates, strict=True):
        if step.action == "create_temp_instance" and temp_class is None:
            temp_class = _text(step.parameters, "instance_class")
            inside = True
        if inside:
            temp_seconds += est.seconds
        if step.action == "delete_temp_instance":
            inside = False
    return PlanEstimate(
        steps=estimates,
        total_seconds=sum(e.seconds for e in estimates),
        retained_seconds=retained,
        interruptions=tuple(e.interruption for e in estimates if e.interruption is not None),
        temp_instance_class=temp_class,
        temp_instance_seconds=temp_seconds,
    )
