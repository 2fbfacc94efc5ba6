"""The step-at-a-time engine: load, do one unit of work, save conditionally, report.

It knows operations, steps and the store; it reaches AWS only through actions and the RDS port
it is given, so the same engine serves the CLI loop, the Lambda, and tests on the simulator or an
in-memory fake. Every state change is saved before it is reported.

`Engine` is a facade over the parts: the planner (`rds_maint.planning`: request, describe,
preflight, plan), `advance` (the loop and its error mapping), `answers` (resume, reset and the
Step Functions bookkeeping), `final_state` (the DESIGN section 9 hold before a final state),
`coordination` (step lease, cluster lock; `cluster_mark`, the lock's half in AWS), `schedule` (every
interval and timeout), `events`, and `control` (a person's requests while it runs: new settings, a
pause at the next step boundary).

What a call imports is what it runs: the planner (every preflight check and plan type) is imported by
`preview` and `create`, the unwind plans by an abort or a rollback, a step's action
(`rds_maint.actions.ACTIONS`) by the step; so a Lambda call that runs or checks one step loads the engine
core, the model, that step's kind and action, the store and the gateway (docs/cold-start.md). The planner's
names re-exported here (`CreateRequest`, `PlanPreview`, `parse_request`, `DEFAULT_WAIT_TIMEOUT`) are
imported on first use.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Literal

from rds_maint.config import Settings
from rds_maint.engine import advance as _advance
from rds_maint.engine import answers as _answers
from rds_maint.engine import control as _control
from rds_maint.engine import coordination as _coordination
from rds_maint.engine.cluster_mark import mark_of, mark_refusal, read_mark
from rds_maint.engine.control import PauseAnswer, WithdrawAnswer
from rds_maint.engine.coordination import LEASE_SECONDS, Unlocked
from rds_maint.engine.core import AttemptHook, EngineCore
from rds_maint.engine.events import Listener, tell_listeners
from rds_maint.engine.schedule import LEASE_POLL_SECONDS
from rds_maint.errors import BadInput
from rds_maint.log import get_logger
from rds_maint.model import Event, Operation, OperationState, Outcome, StepResult
from rds_maint.request_tally import RequestTally
from rds_maint.store.base import check_operation_id

if TYPE_CHECKING:
    from rds_maint.planning import DEFAULT_WAIT_TIMEOUT, CreateRequest, PlanPreview, parse_request

__all__ = [
    "DEFAULT_WAIT_TIMEOUT",
    "LEASE_POLL_SECONDS",
    "LEASE_SECONDS",
    "AttemptHook",
    "CreateRequest",
    "Engine",
    "EngineFactory",
    "Listener",
    "PauseAnswer",
    "PlanPreview",
    "TargetLockKind",
    "Unlocked",
    "WithdrawAnswer",
    "parse_request",
]

log = get_logger("rds_maint.engine")

_FROM_PLANNING = frozenset({"DEFAULT_WAIT_TIMEOUT", "CreateRequest", "PlanPreview", "parse_request"})


def __getattr__(name: str) -> object:
    """The planner's names of `__all__`, imported on first use (the module docstring says why)."""
    if name not in _FROM_PLANNING:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value: object = getattr(importlib.import_module("rds_maint.planning"), name)
    globals()[name] = value
    return value


class Engine(EngineCore):
    """The operations of one store, on the RDS ports `rds_for_region` gives (one per region, made once).

    `on_attempt`, if given, is told of each action call ("run" or "check") just before it.
    """

    # -- create ---------------------------------------------------------------------------

    def preview(self, data: Any, default_region: str | None = None, *, operation_id: str | None = None) -> PlanPreview:
        """Validate against the live cluster and plan; changes nothing anywhere.

        `operation_id`: plan under this id instead of a new one (a saved plan checked again), so the
        names derived from it (temp instance, parameter groups) come out as they did then."""
        from rds_maint.planning import request as planner

        self.forget_unsaved_requests()  # what a new operation's tally starts with: its own preview
        request = planner.parse_request(data, default_region)
        new_id: Callable[[str], str] = self._new_id
        if operation_id is not None:
            fixed = check_operation_id(operation_id)

            def new_id(_cluster_id: str) -> str:
                return fixed

        rds = self.rds(request.region)
        try:
            preview = planner.plan_request(request, rds, self.clock.now(), new_id)
        except BadInput:
            # a busy target fails a plan in many ways (not available, another's temp instance): say who holds it
            marked = read_mark(rds, request.target_id, "instance" if request.instance_id else "cluster")
            refusal = mark_refusal(self.store, marked, request.region, None) if marked else None
            if refusal is not None:
                raise refusal from None
            raise
        # at most one active operation per cluster or DB instance, whatever store holds it (DESIGN section 9)
        refusal = mark_refusal(self.store, mark_of(preview.target), request.region, preview.operation_id)
        if refusal is not None:
            raise refusal
        return preview

    def create(self, data: Any, default_region: str | None = None) -> Operation:
        """Plan and store in one go, for callers that show no plan first (the Lambda)."""
        return self.create_from_preview(self.preview(data, default_region))

    def create_from_preview(
        self, preview: PlanPreview, *, campaign_id: str | None = None, min_look_seconds: int = 0
    ) -> Operation:
        """Store exactly the plan a person was shown: its id, steps and names, not a fresh plan.

        `campaign_id`, `min_look_seconds`: the operation is a campaign's target (rds_maint.campaign)."""
        request, plan = preview.request, preview.plan
        kind: TargetLockKind = "instance" if request.instance_id else "cluster"
        busy = _coordination.live_holder(self.store, request.target_id, request.region, kind)
        if busy is not None:
            raise _coordination.locked_error(request.target_id, request.region, busy, kind)
        now = self.clock.now()
        operation = Operation(
            id=preview.operation_id,
            type=request.type,
            cluster_id=request.cluster_id,
            instance_id=request.instance_id,
            target_type=preview.kind,
            region=request.region,
            parameters=request.raw_params,
            steps=plan.steps,
            wait_timeout=request.wait_timeout,
            pause_before_steps=list(dict.fromkeys([*plan.pause_before, *request.pause_before_steps])),
            created_at=now,
            updated_at=now,
            context={**plan.context, "notes": plan.notes},
            campaign_id=campaign_id,
            min_look_seconds=min_look_seconds,
            requests=RequestTally() if campaign_id is not None else None,
        )
        events = [
            self.event(
                operation,
                "operation_created",
                f"Created {request.type.value} on {request.target_label} with {len(plan.steps)} steps",
                notes=plan.notes,
            )
        ]
        self.count_requests(operation)  # the preview's requests: a campaign target's start begins with them
        stored = self.store.create(operation, events)
        log.info("operation_created", operation_id=stored.id, target=stored.target_id, type=stored.type)
        tell_listeners(self.listeners, stored, events)
        return stored

    # -- lifecycle ------------------------------------------------------------------------

    def start(self, operation_id: str) -> StepResult:
        self.forget_unsaved_requests()
        op = self.store.load(operation_id)
        if op.state is not OperationState.CREATED:
            return self.report(op)
        # at most one active operation per target, whatever its store: the store's lock and the target's mark
        events = _coordination.take_lock(self.store, self.clock, op, self.rds(op.region))
        op.state = OperationState.RUNNING
        op.started_at = self.clock.now()
        events.append(self.event(op, "operation_started", f"Started on {op.target_label}"))
        return self.save_and_report(op, events, Outcome.CONTINUE)

    def status(self, operation_id: str) -> StepResult:
        return self.report(self.store.load(operation_id))

    def advance(self, operation_id: str) -> StepResult:
        """Exactly one unit of work: run the current step's action once, or check it once."""
        self.forget_unsaved_requests()
        return _advance.advance(self, operation_id)

    # -- a person's answers, Step Functions bookkeeping ---------------------------------------

    def resume(
        self,
        operation_id: str,
        action: Any,
        comment: str | None = None,
        *,
        actor: Any = None,
        confirm: Any = False,
    ) -> StepResult:
        self.forget_unsaved_requests()
        return _answers.resume(self, operation_id, action, comment, actor=actor, confirm=confirm)

    def record_refused_answer(self, operation_id: str, action: Any, refusal: str, actor: str) -> None:
        _answers.record_refused_answer(self, operation_id, action, refusal, actor)

    def reset(self, operation_id: str, step_ref: str, *, actor: str | None = None) -> StepResult:
        return _answers.reset(self, operation_id, step_ref, actor=actor)

    def record_intervention(
        self,
        operation_id: str,
        task_token: Any,
        step_name: Any = None,
        step_index: Any = None,
        execution_arn: Any = None,
    ) -> StepResult:
        return _answers.record_intervention(self, operation_id, task_token, step_name, step_index, execution_arn)

    def fail(self, operation_id: str, error: Any, cause: Any = None) -> StepResult:
        """The state machine caught an error: make the store say so instead of `running`."""
        return _answers.fail(self, operation_id, error, cause)

    # -- a person's requests while it runs ---------------------------------------------------

    def update_settings(
        self,
        operation_id: str,
        *,
        wait_timeout: int | None = None,
        pause_before: Sequence[str] = (),
        actor: str | None = None,
    ) -> list[Event]:
        """A new wait timeout or pauses before later steps of an existing operation; the events saved."""
        return _control.update_settings(
            self, operation_id, wait_timeout=wait_timeout, pause_before=pause_before, actor=actor
        )

    def request_pause(self, operation_id: str, *, actor: str, comment: str | None = None) -> PauseAnswer:
        """Ask the operation to pause at its next step boundary, whichever process drives it."""
        return _control.request_pause(self, operation_id, actor=actor, comment=comment)

    def withdraw_pause_request(
        self, operation_id: str, *, actor: str, comment: str | None = None, asked_with: str | None = None
    ) -> WithdrawAnswer:
        """Take back a pause asked for that has not happened yet (only one with comment `asked_with`)."""
        return _control.withdraw_pause_request(self, operation_id, actor=actor, comment=comment, asked_with=asked_with)

    # -- target lock ------------------------------------------------------------------------

    def lock_holder(self, target_id: str, region: str, *, kind: TargetLockKind = "cluster") -> str | None:
        """The store's lock holder, else the operation the target's mark in AWS names (None: free).

        `kind`: "cluster" (an Aurora or Multi-AZ DB cluster) or "instance" (an RDS DB instance)."""
        return _coordination.lock_holder(self.store, lambda: self.rds(region), target_id, region, _kind(kind))

    def force_unlock(
        self, target_id: str, region: str, comment: str | None = None, *, kind: TargetLockKind = "cluster"
    ) -> Unlocked | None:
        """An operator frees a target: the store's lock (recorded on the operation that held it) and the
        target's mark in AWS (the tag on the cluster or on the DB instance)."""
        return _coordination.force_unlock(
            self.store, self.clock, lambda: self.rds(region), target_id, region, comment, _kind(kind)
        )


TargetLockKind = Literal["cluster", "instance"]
"""Which kind of target a lock is asked about: a DB cluster (Aurora, Multi-AZ) or an RDS DB instance."""


def _kind(kind: object) -> TargetLockKind:
    if kind == "cluster":
        return "cluster"
    if kind == "instance":
        return "instance"
    raise BadInput(f"unknown target kind {kind!r}: expected cluster or instance")


EngineFactory = Callable[[Settings], Engine]
"""What a driver builds its engine with: `rds_maint.wiring.build_engine`, or a test's / the harness's."""
