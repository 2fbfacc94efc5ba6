"""Events the engine records with each save, and the listeners told after the save.

An event says what happened to an operation in words a person reads in `rds-maint status`; it is written
in the same conditional save as the state change it describes, so a lost race loses both. Listeners (the
Lambda's status publisher) hear of a save only after it succeeded.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any

from rds_maint.actions import ACTIONS, ActionContext, is_disruptive
from rds_maint.clock import Clock
from rds_maint.log import get_logger
from rds_maint.model import Event, Operation, Step

__all__ = [
    "DISRUPTIONS",
    "Listener",
    "disruption_event",
    "is_disruptive_step",
    "make_event",
    "note_events",
    "tell_listeners",
]

log = get_logger("rds_maint.engine")

# Called after every successful save with the saved operation and the events of that save
# (the Lambda wires in rds_maint.intervention.StatusPublisher). A listener must not raise;
# the engine logs and ignores it if one does.
Listener = Callable[[Operation, Sequence[Event]], None]


def make_event(
    clock: Clock, op: Operation, type_: str, message: str, *, actor: str | None = None, **data: Any
) -> Event:
    log.info(type_, operation_id=op.id, message=message, actor=actor)
    return Event(
        actor=actor,
        id=uuid.uuid4().hex,
        operation_id=op.id,
        type=type_,
        message=message,
        data={k: v for k, v in data.items() if v is not None},
        timestamp=clock.now(),
    )


def is_disruptive_step(step: Step) -> bool:
    """Steps that move the writer (failover, switchover) or stop writes (a step kind's `interruption`: a
    reboot, a Multi-AZ failover, the downtime of a whole step): announced before and after, so that whoever
    listens can drain connections first."""
    action = ACTIONS.get(step.action)
    return is_disruptive(action) or (action is not None and action.kind.interruption is not None)


# What a person calls each step that moves the writer (the step actions are internal identifiers). By name,
# not by step kind: importing the kinds (steps.cluster, steps.blue_green) would load both families' models
# into every cold start; tests/units/test_cold_start_imports.py checks that these name the disruptive kinds.
DISRUPTIONS = {"failover": "Failover", "switchover_blue_green": "Blue/Green switchover"}
# ... and a step of a new kind, by the interruption its kind declares (steps/base.py StepKind.interruption).
_INTERRUPTIONS = {
    "failover": "Failover",
    "multi_az_failover": "Multi-AZ failover",
    "switchover": "Blue/Green switchover",
    "reboot": "Reboot",
    "downtime": "Downtime",
}


def _disruption_name(step: Step) -> str:
    if step.action in DISRUPTIONS:
        return DISRUPTIONS[step.action]
    action = ACTIONS.get(step.action)
    interruption = action.kind.interruption if action is not None else None
    if interruption is not None:
        return f"{_INTERRUPTIONS.get(interruption, interruption.capitalize())} (step {step.name})"
    return f"Step {step.name}"


def disruption_event(clock: Clock, op: Operation, step: Step, type_: str, what: str) -> Event:
    """Before and after a step that stops writes; names the target (`cluster X` / `instance Y`) and carries
    its id as `cluster_id` or `instance_id`, so that a listener matches it to its applications."""
    target = step.parameters.get("target")
    return make_event(
        clock,
        op,
        type_,
        f"{_disruption_name(step)} of {op.target_label}" + (f" to {target}" if target else "") + f" {what}",
        step=step.id,
        action=step.action,
        cluster_id=op.cluster_id,
        instance_id=op.instance_id,
        target=target,
    )


def note_events(clock: Clock, op: Operation, ctx: ActionContext[Any, Any]) -> list[Event]:
    """The notes an action took (adoptions, no-ops) as events of this save; the context forgets them."""
    events = [make_event(clock, op, note.type, note.message, step=ctx.step.id, **note.data) for note in ctx.notes]
    ctx.notes.clear()
    return events


def tell_listeners(listeners: Sequence[Listener], op: Operation, events: Sequence[Event]) -> None:
    for listener in listeners:
        try:
            listener(op, events)
        except Exception as exc:  # a listener never fails a saved step
            log.warning("listener_failed", operation_id=op.id, error=f"{type(exc).__name__}: {exc}")
