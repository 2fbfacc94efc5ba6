"""People in the loop: status events on EventBridge, the task-token record, and answers.

- `StatusPublisher` is the engine listener the Lambda wires in (`Engine.listeners`): after every
  successful save it puts `OperationStatusChanged` events (source `rds-maint-machine`, like the
  state machine's `InterventionRequired`) on an EventBridge bus for each operation state change and
  before/after each failover or switchover, so teams can route them to chat, pagers or apps that
  drain connections. The detail carries ids, a short message, who caused the event (`actor`) and, at a
  pause, what each answer does there (`answers`), never the operation (payload limits:
  docs/aws-behaviour.md, "Durations, limits and notices"). Publishing never fails a step: errors are
  logged.
- `Answer` / `validate_answer`: the operator's answer to an intervention, checked before it is sent.
- `pending_intervention`, `mask_token`: the task token is a bearer credential (docs/aws-behaviour.md,
  "Durations, limits and notices"): it lives in the store and the event only, is masked wherever it
  is shown, and is cleared by the engine once the answer arrives.

This module loads no AWS SDK: the wiring (`rds_maint.wiring`) hands the publisher its EventBridge client
factory.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from rds_maint.errors import BadInput
from rds_maint.log import get_logger
from rds_maint.model import Event, Intervention, Operation, OperationState, ResumeAction

__all__ = [
    "ALLOWED_ACTIONS",
    "COMMENT_LIMIT",
    "INTERVENTION_DETAIL_TYPE",
    "PUBLISHED_EVENT_TYPES",
    "SOURCE",
    "STATUS_DETAIL_TYPE",
    "Answer",
    "StatusPublisher",
    "mask_token",
    "pending_intervention",
    "region_of_arn",
    "status_detail",
    "status_entries",
    "validate_answer",
]

log = get_logger("rds_maint.intervention")

SOURCE = "rds-maint-machine"
INTERVENTION_DETAIL_TYPE = "InterventionRequired"
STATUS_DETAIL_TYPE = "OperationStatusChanged"
ALLOWED_ACTIONS = tuple(action.value for action in ResumeAction)

# Engine event types that change the operation's state (DESIGN section 2 states).
STATE_EVENT_TYPES = frozenset(
    {
        "operation_created",
        "operation_started",
        "operation_paused",
        "operation_resumed",
        "operation_completed",
        "operation_failed",
        "operation_rolled_back",
        "operation_abort",
        "operation_rollback",
        "marked_complete",
        "operation_reset",
        "execution_failed",
    }
)
# Engine event types around a disruptive step (failover, switchover): before, during, after.
DISRUPTION_EVENT_TYPES = frozenset(
    {"disruption_starting", "failover_requested", "switchover_requested", "disruption_finished"}
)
PUBLISHED_EVENT_TYPES = STATE_EVENT_TYPES | DISRUPTION_EVENT_TYPES
# Event data worth passing on (ids and names only).
DETAIL_DATA_KEYS = ("action", "cluster_id", "instance_id", "from_writer", "to_writer", "target", "comment")
MESSAGE_LIMIT = 512
COMMENT_LIMIT = 1000
PUT_EVENTS_BATCH = 10  # EventBridge PutEvents takes at most 10 entries


def _short(text: str | None, limit: int = MESSAGE_LIMIT) -> str | None:
    if text is None or len(text) <= limit:
        return text
    return text[: limit - 3] + "..."


def status_detail(op: Operation, event: Event) -> dict[str, Any]:
    """The detail of one `OperationStatusChanged` event: ids, state and a short message.

    `campaign_id`: the campaign the operation is a target of (null for an operation of its own).
    The target: `cluster_id` (null for an operation on a DB instance, so that rules matching on it keep
    working for clusters), `instance_id` (null for a cluster's) and `target_type` (aurora_cluster,
    multi_az_cluster or db_instance)."""
    step_id = event.data.get("step")
    index = next((i for i, s in enumerate(op.steps) if s.id == step_id), None) if step_id else None
    if index is None and op.steps and not op.state.is_final:
        index = min(op.current_step_index, len(op.steps) - 1)
    step = op.steps[index] if index is not None else None
    data = {k: _short(str(v), 200) for k, v in event.data.items() if k in DETAIL_DATA_KEYS and v is not None}
    return {
        "operation_id": op.id,
        "campaign_id": op.campaign_id,
        "cluster_id": op.cluster_id,
        "instance_id": op.instance_id,
        "target_type": op.target_type,
        "region": op.region,
        "operation_type": op.type.value,
        "state": op.state.value,
        "event": event.type,
        "event_id": event.id,
        "message": _short(event.message),
        "step_name": step.name if step else None,
        "step_index": index,
        "step_action": step.action if step else None,
        "timestamp": event.timestamp.isoformat(),
        "data": data,
        "actor": _short(event.actor, 200),
        "answers": _answers_at_pause(op) if event.type == "operation_paused" else [],
    }


def _answers_at_pause(op: Operation) -> list[dict[str, Any]]:
    """At a pause: what each answer does there (`answer_options`), for whoever is told. Imported here, at a
    pause only: it reads the plans' unwinders, which a Lambda call that saves a step need not load."""
    from rds_maint.engine.answer_options import answer_options

    return [{"action": o.action.value, "effect": _short(o.effect, 300)} for o in answer_options(op)]


def status_entries(op: Operation, events: Sequence[Event], bus: str = "default") -> list[dict[str, Any]]:
    """PutEvents entries for the events of one save that people may act on."""
    return [
        {
            "Source": SOURCE,
            "DetailType": STATUS_DETAIL_TYPE,
            "Detail": json.dumps(status_detail(op, event), separators=(",", ":")),
            "EventBusName": bus,
        }
        for event in events
        if event.type in PUBLISHED_EVENT_TYPES
    ]


class StatusPublisher:
    """Engine listener: publish the saved operation's notable events; log, never raise.

    `client_factory` makes the EventBridge client on first use (`rds_maint.wiring.events_client` in
    the real wiring), so this module loads no AWS SDK.
    """

    def __init__(self, bus: str = "default", *, client_factory: Callable[[], Any]) -> None:
        self.bus = bus
        self._factory = client_factory
        self._client: Any = None

    def __call__(self, op: Operation, events: Sequence[Event]) -> None:
        entries = status_entries(op, events, self.bus)
        if not entries:
            return
        try:
            if self._client is None:
                self._client = self._factory()
            for start in range(0, len(entries), PUT_EVENTS_BATCH):
                batch = entries[start : start + PUT_EVENTS_BATCH]
                response = self._client.put_events(Entries=batch)
                failed = int(response.get("FailedEntryCount", 0) or 0)
                if failed:
                    codes = sorted({str(e.get("ErrorCode")) for e in response.get("Entries", []) if e.get("ErrorCode")})
                    log.warning("status_events_rejected", operation_id=op.id, failed=failed, codes=codes)
        except Exception as exc:  # publishing is best effort: the step already happened and is saved
            log.warning("status_events_unpublished", operation_id=op.id, error=f"{type(exc).__name__}: {exc}")


# -- answers ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """An operator's answer to an intervention, validated: who gave it and whether they confirmed it."""

    action: ResumeAction
    comment: str | None = None
    actor: str | None = None
    confirm: bool = False

    def task_output(self) -> str:
        """The `send-task-success --task-output` the state machine hands to `resume` (its `params`)."""
        output: dict[str, str | bool] = {"action": self.action.value}
        if self.comment:
            output["comment"] = self.comment
        if self.actor:
            output["actor"] = self.actor
        if self.confirm:
            output["confirm"] = True
        return json.dumps(output)


def validate_answer(action: Any, comment: Any = None) -> Answer:
    try:
        answer = ResumeAction(action)
    except ValueError:
        raise BadInput(f"--action must be one of {', '.join(ALLOWED_ACTIONS)}, not {action!r}") from None
    if comment is not None and not isinstance(comment, str):
        raise BadInput("--comment must be text")
    if comment is not None and len(comment) > COMMENT_LIMIT:
        raise BadInput(f"--comment is {len(comment)} characters; keep it under {COMMENT_LIMIT}")
    return Answer(answer, comment or None)


def pending_intervention(op: Operation) -> Intervention:
    """The recorded task token of a paused operation, or a precise refusal."""
    if op.intervention is not None and op.state is OperationState.PAUSED:
        return op.intervention
    if op.state is OperationState.PAUSED:
        raise BadInput(
            f"operation '{op.id}' is paused but no Step Functions execution has recorded a task token for it "
            f"(paused by a local run, or the notice is not delivered yet); answer a local pause with "
            f"`rds-maint resume {op.id} --action ...`, or start an execution for it"
        )
    raise BadInput(f"operation '{op.id}' is {op.state.value}: no intervention is pending, nothing to answer")


def mask_token(token: str | None) -> str | None:
    """Enough to tell two tokens apart in a log, never enough to use one."""
    if not token:
        return token
    return f"****{token[-6:]} ({len(token)} chars)" if len(token) > 12 else "****"


def region_of_arn(arn: str | None) -> str | None:
    parts = (arn or "").split(":")
    return parts[3] if len(parts) > 5 and parts[0] == "arn" and parts[3] else None
