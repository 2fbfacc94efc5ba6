"""The step-at-a-time engine: load, do one unit of work, save conditionally, report.

It knows operations, steps and the store; it reaches AWS only through actions and the
RDS gateway it is given, so the same engine serves the CLI loop, the Lambda, and tests
on the simulator. Every state change is saved before it is reported.

Before it records a final state (`completed`, `failed`, `rolled_back`) of an operation that made a
temp instance, the engine reads the cluster (DESIGN section 9): if the temp instance is the writer
or still in the cluster, whatever the answer that got there (`mark_complete` included), it appends
the fail-back and the deletion still needed and runs them first; a `mark_complete` that would skip
that clean-up is refused with what remains and the commands to finish by hand. A crash between the
appended steps' save and their run changes nothing: they are ordinary steps, run by `advance`.
"""

from __future__ import annotations

import math
import secrets
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from rds_maint.actions import ACTIONS, ActionContext, ActionOutcome, AnyAction, Done, Retry, Wait, is_disruptive
from rds_maint.actions.base import record_dict
from rds_maint.actions.polling import PollPolicy
from rds_maint.clock import Clock, SystemClock
from rds_maint.errors import (
    AwsError,
    BadInput,
    BusyAwsError,
    ClusterLocked,
    Conflict,
    NeedsPerson,
    OperationNotFound,
    PersonAwsError,
    RdsMaintError,
    TransientAwsError,
)
from rds_maint.log import get_logger
from rds_maint.model import (
    PARAMS_BY_TYPE,
    Event,
    Intervention,
    Operation,
    OperationParams,
    OperationState,
    OperationType,
    Outcome,
    ResumeAction,
    Step,
    StepResult,
    StepState,
)
from rds_maint.plans import Plan, build_plan, unwind_steps
from rds_maint.plans.rollback import final_cleanup_steps, final_state_problems
from rds_maint.preflight import preflight
from rds_maint.rds import CLUSTER_NOT_FOUND, RdsGateway
from rds_maint.snapshots import ClusterSnapshot
from rds_maint.store import StateStore, check_operation_id

log = get_logger("rds_maint.engine")

DEFAULT_WAIT_TIMEOUT = 45 * 60
# DESIGN section 9: no final state with the writer on the temp instance or the temp instance in the
# cluster. The engine runs the clean-up an answer would skip at most this many times, then pauses.
FINAL_CLEANUP_ROUNDS = 3
FINAL_CLEANUP_STEPS, FINAL_CHECK_PAUSED = "final_cleanup_steps", "final_check_paused"
REQUEST_KEYS = frozenset({"type", "cluster_id", "region", "params", "pause_before_steps", "wait_timeout"})

# The step lease: before `run` may change AWS, `advance` marks the step with its attempt id
# and an expiry in a conditional write; only the winner runs. No run outlives the longest
# Lambda (15 min), so a lease past its expiry belonged to a holder that crashed.
LEASE_SECONDS = 15 * 60
LEASE_POLL_SECONDS = 30  # how soon a caller that found the step leased looks again
LEASE_ATTEMPT, LEASE_UNTIL = "lease_attempt", "lease_until"

# Called after every successful save with the saved operation and the events of that save
# (the Lambda wires in rds_maint.intervention.StatusPublisher). A listener must not raise;
# the engine logs and ignores it if one does.
Listener = Callable[[Operation, Sequence[Event]], None]


@dataclass(frozen=True)
class CreateRequest:
    type: OperationType
    cluster_id: str
    region: str
    params: OperationParams
    raw_params: dict[str, Any]
    pause_before_steps: list[str]
    wait_timeout: int


@dataclass(frozen=True)
class PlanPreview:
    request: CreateRequest
    cluster: ClusterSnapshot
    plan: Plan
    operation_id: str


def _format_validation(prefix: str, exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err["loc"]) or "(root)"
        message = err["msg"]
        if err["type"] == "extra_forbidden":
            message = "unknown parameter"
        parts.append(f"{prefix}{where}: {message}")
    return "; ".join(parts)


def parse_request(data: Any, default_region: str | None = None) -> CreateRequest:
    """Judge a create request completely before anything is looked up or written."""
    if not isinstance(data, dict):
        raise BadInput("the request must be a JSON object with type, cluster_id, region and params")
    unknown = sorted(set(data) - REQUEST_KEYS)
    if unknown:
        raise BadInput(f"unknown request keys: {', '.join(unknown)} (allowed: {', '.join(sorted(REQUEST_KEYS))})")
    raw_type = data.get("type")
    try:
        op_type = OperationType(str(raw_type))
    except ValueError:
        allowed = ", ".join(t.value for t in OperationType)
        raise BadInput(f"unknown operation type {raw_type!r} (expected one of: {allowed})") from None
    cluster_id = data.get("cluster_id")
    if not isinstance(cluster_id, str) or not cluster_id.strip():
        raise BadInput("cluster_id is required: the DB cluster identifier, e.g. orders-prod")
    region = data.get("region") or default_region
    if not isinstance(region, str) or not region.strip():
        raise BadInput("region is required (e.g. us-east-1): pass --region or set AWS_REGION")
    raw_params = data.get("params", {})
    if raw_params is None:
        raw_params = {}
    if not isinstance(raw_params, dict):
        raise BadInput(f"params must be an object of {op_type.value} parameters, not {type(raw_params).__name__}")
    try:
        params: OperationParams = PARAMS_BY_TYPE[op_type].model_validate(raw_params)  # type: ignore[assignment]
    except ValidationError as exc:
        raise BadInput(f"invalid {op_type.value} params: {_format_validation('params.', exc)}") from None
    pause_before = data.get("pause_before_steps", [])
    if not isinstance(pause_before, list) or not all(isinstance(s, str) and s for s in pause_before):
        raise BadInput("pause_before_steps must be a list of step names")
    wait_timeout = data.get("wait_timeout", DEFAULT_WAIT_TIMEOUT)
    if isinstance(wait_timeout, bool) or not isinstance(wait_timeout, int) or not 60 <= wait_timeout <= 86400:
        raise BadInput("wait_timeout must be a whole number of seconds between 60 and 86400")
    return CreateRequest(
        type=op_type,
        cluster_id=cluster_id,
        region=region,
        params=params,
        raw_params=params.model_dump(mode="json"),
        pause_before_steps=list(pause_before),
        wait_timeout=wait_timeout,
    )


def _step_matches(step: Step, ref: str) -> bool:
    return ref in (step.id, step.name, step.action)


def _disruptive(step: Step) -> bool:
    """Steps whose action moves the writer (failover, switchover): announced before and after."""
    return is_disruptive(ACTIONS.get(step.action))


class Engine:
    def __init__(
        self,
        store: StateStore,
        rds_for_region: Callable[[str], RdsGateway],
        clock: Clock | None = None,
        poll_policy: PollPolicy | None = None,
        lease_seconds: int = LEASE_SECONDS,
    ) -> None:
        self.store = store
        self.lease_seconds = lease_seconds
        self.poll_policy = poll_policy or PollPolicy.from_env()
        self._rds_for_region = rds_for_region
        self._gateways: dict[str, RdsGateway] = {}
        self.clock: Clock = clock or SystemClock()
        self.listeners: list[Listener] = []

    def rds(self, region: str) -> RdsGateway:
        if region not in self._gateways:
            self._gateways[region] = self._rds_for_region(region)
        return self._gateways[region]

    # -- create ---------------------------------------------------------------------------

    def _new_id(self, cluster_id: str) -> str:
        stamp = self.clock.now().strftime("%Y%m%d-%H%M%S")
        return check_operation_id(f"{cluster_id[:40].rstrip('-_')}-{stamp}-{secrets.token_hex(3)}")

    def preview(self, data: Any, default_region: str | None = None) -> PlanPreview:
        """Validate against the live cluster and plan; changes nothing anywhere."""
        request = parse_request(data, default_region)
        rds = self.rds(request.region)
        try:
            cluster = rds.describe_cluster(request.cluster_id)
        except PersonAwsError as exc:
            if exc.code in CLUSTER_NOT_FOUND:
                raise BadInput(f"cluster '{request.cluster_id}' not found in {request.region}") from None
            raise
        if cluster.status != "available":
            raise BadInput(f"cluster '{cluster.id}' is {cluster.status}, not available; retry when it is available")
        facts = preflight(request.type, rds, cluster, request.params, now=self.clock.now())
        operation_id = self._new_id(cluster.id)
        plan = build_plan(request.type, cluster, request.params, operation_id, facts)
        for ref in request.pause_before_steps:
            if not any(_step_matches(s, ref) for s in plan.steps):
                names = ", ".join(s.name for s in plan.steps)
                raise BadInput(f"pause_before_steps: no step named '{ref}' in this plan (steps: {names})")
        return PlanPreview(request=request, cluster=cluster, plan=plan, operation_id=operation_id)

    def create(self, data: Any, default_region: str | None = None) -> Operation:
        preview = self.preview(data, default_region)
        request, plan = preview.request, preview.plan
        busy = self._live_holder(request.cluster_id, request.region)
        if busy is not None:
            raise self._locked_error(request.cluster_id, request.region, busy)
        now = self.clock.now()
        operation = Operation(
            id=preview.operation_id,
            type=request.type,
            cluster_id=request.cluster_id,
            region=request.region,
            parameters=request.raw_params,
            steps=plan.steps,
            wait_timeout=request.wait_timeout,
            pause_before_steps=list(dict.fromkeys([*plan.pause_before, *request.pause_before_steps])),
            created_at=now,
            updated_at=now,
            context={**plan.context, "notes": plan.notes},
        )
        events = [
            self._event(
                operation,
                "operation_created",
                f"Created {request.type.value} on {request.cluster_id} with {len(plan.steps)} steps",
                notes=plan.notes,
            )
        ]
        stored = self.store.create(operation, events)
        log.info("operation_created", operation_id=stored.id, cluster_id=stored.cluster_id, type=stored.type)
        self._tell_listeners(stored, events)
        return stored

    # -- lifecycle ------------------------------------------------------------------------

    def start(self, operation_id: str) -> StepResult:
        op = self.store.load(operation_id)
        if op.state is not OperationState.CREATED:
            return self.report(op)
        events = self._take_lock(op)  # at most one active operation per cluster
        now = self.clock.now()
        op.state = OperationState.RUNNING
        op.started_at = now
        return self._save_and_report(
            op,
            [*events, self._event(op, "operation_started", f"Started on cluster {op.cluster_id}")],
            Outcome.CONTINUE,
        )

    def status(self, operation_id: str) -> StepResult:
        return self.report(self.store.load(operation_id))

    def report(self, op: Operation, wait_seconds: int = 0, error: str | None = None) -> StepResult:
        outcome = {
            OperationState.COMPLETED: Outcome.COMPLETED,
            OperationState.FAILED: Outcome.FAILED,
            OperationState.ROLLED_BACK: Outcome.FAILED,
            OperationState.PAUSED: Outcome.INTERVENTION,
        }.get(op.state, Outcome.CONTINUE)
        return self._result(op, outcome, wait_seconds, error)

    def _result(
        self,
        op: Operation,
        outcome: Outcome,
        wait_seconds: int = 0,
        error: str | None = None,
        step_index: int | None = None,
    ) -> StepResult:
        index = step_index
        if index is None:
            index = min(op.current_step_index, len(op.steps) - 1) if op.steps else None
        step = op.steps[index] if index is not None else None
        return StepResult(
            operation_id=op.id,
            operation_state=op.state.value,
            step_index=index,
            step_name=step.name if step else None,
            step_action=step.action if step else None,
            step_state=step.state.value if step else None,
            outcome=outcome,
            wait_seconds=wait_seconds,
            pause_reason=op.pause_reason,
            error=error if error is not None else (op.error if op.state.is_final else None),
        )

    # -- advance --------------------------------------------------------------------------

    def advance(self, operation_id: str) -> StepResult:
        """Exactly one unit of work: run the current step's action once, or check it once."""
        op = self.store.load(operation_id)
        if op.state.is_final or op.state is OperationState.PAUSED:
            return self.report(op)
        if op.state is OperationState.CREATED:
            raise BadInput(f"operation '{op.id}' has not been started; start it first")
        step = op.current_step
        events: list[Event] = []
        if step is None:
            return self._finish(op, events)
        now = self.clock.now()
        if step.state is StepState.PENDING:
            if self._pause_requested(op, step):
                self._pause(
                    op,
                    f"Paused before step '{step.name}' ({step.description}), as pause_before_steps asked",
                    events,
                )
                return self._save_and_report(op, events, Outcome.INTERVENTION)
            step.state = StepState.IN_PROGRESS
            step.started_at = now
            step.result["attempt_started_at"] = now.isoformat()
            events.append(self._event(op, "step_started", f"Step {step.name}: {step.description}", step=step.id))
            if _disruptive(step):
                # A save of its own before the failover/switchover call, so that listeners can
                # tell applications to drain connections first; the next call runs the action.
                events.append(self._disruption_event(op, step, "disruption_starting", "is about to start"))
                return self._save_and_report(op, events, Outcome.CONTINUE)

        action = ACTIONS.get(step.action)
        if action is None:
            self._pause(op, f"step '{step.name}' names unknown action '{step.action}'", events)
            return self._save_and_report(op, events, Outcome.INTERVENTION)
        waiting = step.state is StepState.WAITING
        if not waiting:  # `run` may change AWS: only the holder of the step lease calls it
            leased = self._take_lease(op, step, events, now)
            if isinstance(leased, StepResult):
                return leased
            op, events = leased, []
            step = op.steps[op.current_step_index]
        try:
            ctx = self._context(action, op, step, now)
            outcome: ActionOutcome = self._attempt(action, ctx, waiting)
        except NeedsPerson as exc:
            self._record_notes(op, ctx, events)
            self._pause(op, str(exc), events, step_error=str(exc))
            return self._save_and_report(op, events, Outcome.INTERVENTION)
        except BusyAwsError as exc:
            # Expected: the resource refuses for now (INFO, not an error); the step tries again later.
            log.info("aws_busy", operation_id=op.id, step=step.name, code=exc.code, message=exc.aws_message)
            outcome = Retry(f"AWS says busy: {exc.code}: {exc.aws_message}", 30)
        except TransientAwsError as exc:
            step.retry_count += 1
            if step.retry_count > step.max_retries:
                self._record_notes(op, ctx, events)
                reason = (
                    f"AWS kept failing after {step.retry_count} tries ({exc.operation}: {exc.code}: "
                    f"{exc.aws_message}); resume with continue to try again"
                )
                self._pause(op, reason, events, step_error=reason)
                return self._save_and_report(op, events, Outcome.INTERVENTION)
            outcome = Retry(
                f"AWS error {exc.code}, retry {step.retry_count}/{step.max_retries}",
                min(120, 15 * step.retry_count),
                transient=True,
            )
        except AwsError as exc:
            self._record_notes(op, ctx, events)
            reason = f"AWS error {exc.code} on {exc.operation}: {exc.aws_message}"
            self._pause(op, reason, events, step_error=reason)
            return self._save_and_report(op, events, Outcome.INTERVENTION)
        except Exception as exc:  # a bug or an unexpected answer: a person must look, nothing is lost
            log.exception("action_crashed", operation_id=op.id, step=step.name)
            reason = f"unexpected error in step '{step.name}': {type(exc).__name__}: {exc}"
            self._pause(op, reason, events, step_error=reason)
            return self._save_and_report(op, events, Outcome.INTERVENTION)

        self._record_notes(op, ctx, events)
        return self._apply(op, step, outcome, events, now)

    def _apply(
        self, op: Operation, step: Step, outcome: ActionOutcome, events: list[Event], now: datetime
    ) -> StepResult:
        if not (isinstance(outcome, Retry) and outcome.transient):
            step.retry_count = 0
        if isinstance(outcome, Done):
            step.state = StepState.COMPLETED
            step.completed_at = now
            step.wait_condition = None
            step.error = None
            step.result.update(record_dict(outcome.result))
            step.result["message"] = outcome.message
            events.append(self._event(op, "step_completed", f"Step {step.name}: {outcome.message}", step=step.id))
            if _disruptive(step):
                events.append(self._disruption_event(op, step, "disruption_finished", "has finished"))
            done_index = op.current_step_index
            op.current_step_index += 1
            if op.current_step is None:
                return self._finish(op, events)
            # report the step this call completed; the next call starts the one after it
            return self._save_and_report(op, events, Outcome.CONTINUE, step_index=done_index)
        if isinstance(outcome, Wait):
            if step.state is not StepState.WAITING:
                step.state = StepState.WAITING
                step.result["wait_started_at"] = now.isoformat()
                events.append(
                    self._event(op, "step_waiting", f"Step {step.name}: waiting for {outcome.condition}", step=step.id)
                )
            step.wait_condition = outcome.condition
            step.result.update(record_dict(outcome.result))
            if outcome.progressing:
                step.result["wait_started_at"] = now.isoformat()
            if self._timed_out(op, step.result.get("wait_started_at"), now):
                minutes = op.wait_timeout // 60
                self._pause(
                    op,
                    f"Timed out after {minutes} min waiting for: {outcome.condition}. Check the cluster, then "
                    f"resume with continue to wait {minutes} min more, or with abort or rollback",
                    events,
                )
                return self._save_and_report(op, events, Outcome.INTERVENTION)
            seconds = outcome.seconds
            if outcome.transition is not None:
                # when this transition began, for the poll policy: unlike wait_started_at (the wait timeout's
                # start) an action does not move it; a step that waits for one thing after another (old
                # instances deleted, then their cluster) starts again at each, and so does a `continue`
                if step.result.get("poll_transition") != outcome.transition or "poll_started_at" not in step.result:
                    step.result["poll_transition"] = outcome.transition
                    step.result["poll_started_at"] = now.isoformat()
                waited = (now - datetime.fromisoformat(str(step.result["poll_started_at"]))).total_seconds()
                seconds = self.poll_policy.next_wait(outcome.transition, waited, outcome.instance_class)
            return self._save_and_report(op, events, Outcome.WAIT, seconds)
        # Retry: the action could not act yet; the step stays where it is.
        if step.result.get("busy_reason") != outcome.reason:
            events.append(self._event(op, "step_busy", f"Step {step.name}: {outcome.reason}", step=step.id))
        step.result["busy_reason"] = outcome.reason
        step.result.setdefault("busy_since", now.isoformat())
        if self._timed_out(op, step.result.get("busy_since"), now):
            minutes = op.wait_timeout // 60
            self._pause(
                op,
                f"Step '{step.name}' could not act for {minutes} min: {outcome.reason}. "
                "Resume with continue to keep trying, or with abort or rollback",
                events,
            )
            return self._save_and_report(op, events, Outcome.INTERVENTION)
        return self._save_and_report(op, events, Outcome.WAIT, outcome.seconds)

    def _timed_out(self, op: Operation, since: Any, now: datetime) -> bool:
        if not since:
            return False
        return (now - datetime.fromisoformat(str(since))).total_seconds() > op.wait_timeout

    def _pause_requested(self, op: Operation, step: Step) -> bool:
        if op.unwind or step.result.get("pause_acknowledged"):
            return False
        return any(_step_matches(step, ref) for ref in op.pause_before_steps)

    def _final_cluster(self, op: Operation) -> tuple[ClusterSnapshot | None, str | None]:
        """The cluster now, and why it may not be left as it is (None: DESIGN section 9 holds)."""
        if not op.context.get("temp_instance_id"):
            return None, None
        try:
            cluster = self.rds(op.region).describe_cluster(op.cluster_id)
        except PersonAwsError as exc:
            if exc.code in CLUSTER_NOT_FOUND:
                return None, None  # no cluster, no temp instance in it
            raise
        problems = final_state_problems(op, cluster)
        return cluster, ("; ".join(problems) if problems else None)

    def _manual_finish(self, op: Operation, problems: str, *, can_retry: bool) -> str:
        """What remains, what a person runs to finish by hand, and how to answer."""
        temp_id = op.context.get("temp_instance_id")
        writer = op.context.get("original_writer")
        retry = (
            "Answer continue to let rds-maint fail back and delete it, or finish by hand: "
            if can_retry
            else ("rds-maint tried its clean-up and it did not hold; finish by hand: ")
        )
        return (
            f"{problems}. An operation never ends with its temp instance as writer or in the cluster. {retry}"
            f"aws rds failover-db-cluster --db-cluster-identifier {op.cluster_id} --target-db-instance-identifier "
            f"{writer} --region {op.region} (once {writer} is available; skip it if {temp_id} is not the writer), "
            f"then aws rds delete-db-instance --db-instance-identifier {temp_id} --skip-final-snapshot --region "
            f"{op.region}, and answer continue or mark_complete (rds-maint checks again)"
        )

    def _hold_final_state(self, op: Operation, events: list[Event]) -> StepResult | None:
        """Before a final state: if the temp instance is writer or in the cluster, append the clean-up or pause.

        Returns None when the final state may be recorded.
        """
        try:
            cluster, problems = self._final_cluster(op)
        except AwsError as exc:
            op.current_step_index = len(op.steps)
            self._pause(
                op,
                f"Before ending, rds-maint checks that the temp instance is gone and the original writer writes, but "
                f"AWS answered {exc.code} on {exc.operation}: {exc.aws_message}. Answer continue to check again",
                events,
            )
            return self._save_and_report(op, events, Outcome.INTERVENTION)
        if cluster is None or problems is None:
            op.context.pop(FINAL_CHECK_PAUSED, None)
            return None
        rounds = list(op.context.get(FINAL_CLEANUP_STEPS) or [])
        can_retry = len(rounds) < FINAL_CLEANUP_ROUNDS
        if can_retry and not op.context.get(FINAL_CHECK_PAUSED):
            steps = final_cleanup_steps(op, cluster)
            for step in steps:
                step.result["pause_acknowledged"] = True  # a clean-up never stops at a requested pause
            if steps:
                op.context[FINAL_CLEANUP_STEPS] = [*rounds, [s.id for s in steps]]
                self._run_next(op, steps)
                events.append(
                    self._event(
                        op,
                        "final_cleanup",
                        f"Not ending yet: {problems}. Running first: " + ", ".join(s.name for s in steps),
                        steps=[s.id for s in steps],
                    )
                )
                return self._save_and_report(op, events, Outcome.CONTINUE)
        op.current_step_index = len(op.steps)
        op.context[FINAL_CHECK_PAUSED] = True
        self._pause(op, self._manual_finish(op, problems, can_retry=can_retry), events)
        return self._save_and_report(op, events, Outcome.INTERVENTION)

    def _skips_final_cleanup(self, op: Operation) -> bool:
        """Whether a mark_complete now would skip the clean-up the engine added before a final state."""
        if op.context.get(FINAL_CHECK_PAUSED):
            return True
        added = {step_id for round_ids in op.context.get(FINAL_CLEANUP_STEPS) or [] for step_id in round_ids}
        return any(
            s.id in added and s.state in (StepState.PENDING, StepState.IN_PROGRESS, StepState.WAITING)
            for s in op.steps[op.current_step_index :]
        )

    def _finish(self, op: Operation, events: list[Event]) -> StepResult:
        held = self._hold_final_state(op, events)
        if held is not None:
            return held
        now = self.clock.now()
        op.completed_at = now
        op.current_step_index = len(op.steps)
        if op.unwind == "rollback":
            op.state = OperationState.ROLLED_BACK
            message = "Rolled back"
        elif op.unwind == "abort":
            op.state = OperationState.FAILED
            op.error = op.error or "aborted by operator"
            message = f"Aborted: {op.error}"
        else:
            op.state = OperationState.COMPLETED
            message = "Completed"
        op.pause_reason = None
        events.append(self._event(op, f"operation_{op.state.value}", message))
        outcome = Outcome.COMPLETED if op.state is OperationState.COMPLETED else Outcome.FAILED
        return self._save_and_report(op, events, outcome)

    def _pause(self, op: Operation, reason: str, events: list[Event], step_error: str | None = None) -> None:
        op.state = OperationState.PAUSED
        op.pause_reason = reason
        step = op.current_step
        if step is not None and step_error:
            step.error = step_error
        events.append(self._event(op, "operation_paused", reason, step=step.id if step else None))

    def _record_notes(self, op: Operation, ctx: ActionContext[Any, Any], events: list[Event]) -> None:
        for note in ctx.notes:
            events.append(self._event(op, note.type, note.message, step=ctx.step.id, **note.data))
        ctx.notes.clear()

    # -- person's answers -----------------------------------------------------------------

    def resume(self, operation_id: str, action: Any, comment: str | None = None) -> StepResult:
        try:
            answer = ResumeAction(action)
        except ValueError:
            raise BadInput(
                f"unknown resume action {action!r}: expected continue, abort, rollback or mark_complete"
            ) from None
        if comment is not None and not isinstance(comment, str):
            raise BadInput("comment must be a string")
        op = self.store.load(operation_id)
        if op.state.is_final:
            raise BadInput(f"operation '{op.id}' is {op.state.value}; there is nothing to resume")
        said = f" ({comment})" if comment else ""
        events: list[Event] = []
        if answer is ResumeAction.CONTINUE:
            if op.state is not OperationState.PAUSED:
                return self.report(op)  # a repeated answer: already running
            self._unpause(op)
            op.context.pop(FINAL_CHECK_PAUSED, None)  # at the final check: rds-maint may try its clean-up again
            step = op.current_step
            if step is not None:
                step.error = None
                step.retry_count = 0
                now = self.clock.now().isoformat()
                if step.state is StepState.PENDING:
                    step.result["pause_acknowledged"] = True
                if "wait_started_at" in step.result:
                    step.result["wait_started_at"] = now
                step.result.pop("poll_started_at", None)  # a continue may ask AWS again: poll as for a new change
                if "busy_since" in step.result:
                    step.result["busy_since"] = now
            events.append(self._event(op, "operation_resumed", f"Resumed with continue{said}", comment=comment))
            return self._save_and_report(op, events, Outcome.CONTINUE)
        if answer is ResumeAction.MARK_COMPLETE:
            if op.state is not OperationState.PAUSED:
                raise BadInput(f"operation '{op.id}' is {op.state.value}; mark_complete answers a paused operation")
            if self._skips_final_cleanup(op):
                _, problems = self._final_cluster(op)
                if problems:
                    raise BadInput(
                        f"mark_complete refused for operation '{op.id}': "
                        + self._manual_finish(op, problems, can_retry=True)
                    )
            for step in op.steps[op.current_step_index :]:
                if step.state in (StepState.PENDING, StepState.IN_PROGRESS, StepState.WAITING):
                    step.state = StepState.SKIPPED
            events.append(self._event(op, "marked_complete", f"Marked complete by operator{said}", comment=comment))
            return self._finish(op, events)
        kind: Any = "abort" if answer is ResumeAction.ABORT else "rollback"
        if op.unwind:
            raise BadInput(
                f"operation '{op.id}' is already unwinding ({op.unwind}); answer continue to retry its "
                "clean-up, or mark_complete once the cluster is fixed by hand"
            )
        if op.state is OperationState.CREATED:
            op.state = OperationState.FAILED if kind == "abort" else OperationState.ROLLED_BACK
            op.error = f"{kind} before start{said}" if kind == "abort" else None
            op.completed_at = self.clock.now()
            events.append(self._event(op, f"operation_{op.state.value}", f"{kind.capitalize()} before start{said}"))
            return self._save_and_report(op, events, Outcome.FAILED)
        for index, step in enumerate(op.steps):
            if index < op.current_step_index:
                continue
            if step.state in (StepState.IN_PROGRESS, StepState.WAITING):
                step.state = StepState.FAILED
                step.error = f"interrupted by {kind}"
            elif step.state is StepState.PENDING:
                step.state = StepState.SKIPPED
        unwind = unwind_steps(op, kind)
        op.unwind = kind
        if kind == "abort":
            op.error = f"aborted by operator{said}"
        self._run_next(op, unwind)
        events.append(
            self._event(
                op,
                f"operation_{kind}",
                f"{kind.capitalize()} requested{said}: " + (", ".join(s.name for s in unwind) or "nothing to undo"),
                comment=comment,
            )
        )
        if not unwind:
            return self._finish(op, events)
        return self._save_and_report(op, events, Outcome.CONTINUE)

    def _run_next(self, op: Operation, steps: list[Step]) -> None:
        """Append `steps` and carry on from the first of them (unwind, or the final-state clean-up)."""
        op.steps.extend(steps)
        op.current_step_index = len(op.steps) - len(steps)
        self._unpause(op)

    def _unpause(self, op: Operation) -> None:
        op.state = OperationState.ROLLING_BACK if op.unwind else OperationState.RUNNING
        op.pause_reason = None
        op.intervention = None

    def reset(self, operation_id: str, step_ref: str) -> StepResult:
        op = self.store.load(operation_id)
        if op.state is not OperationState.PAUSED:
            raise BadInput(f"operation '{op.id}' is {op.state.value}; only a paused operation can be reset")
        index = next((i for i, s in enumerate(op.steps) if step_ref in (s.id, s.name)), None)
        if index is None:
            names = ", ".join(f"{s.id} {s.name}" for s in op.steps)
            raise BadInput(f"no step '{step_ref}' in operation '{op.id}' (steps: {names})")
        for step in op.steps[index:]:
            if step.state is StepState.SKIPPED and op.unwind:
                continue
            step.state = StepState.PENDING
            step.result = {}
            step.error = None
            step.wait_condition = None
            step.retry_count = 0
            step.started_at = None
            step.completed_at = None
        op.current_step_index = index
        op.steps[index].result["pause_acknowledged"] = True
        op.pause_reason = f"Reset to step '{op.steps[index].name}' by operator; answer continue to run from there"
        events = [self._event(op, "operation_reset", op.pause_reason, step=op.steps[index].id)]
        return self._save_and_report(op, events, Outcome.INTERVENTION)

    # -- Step Functions bookkeeping ---------------------------------------------------------

    def record_intervention(
        self,
        operation_id: str,
        task_token: Any,
        step_name: Any = None,
        step_index: Any = None,
        execution_arn: Any = None,
    ) -> StepResult:
        if not isinstance(task_token, str) or not task_token or len(task_token) > 2048:
            raise BadInput("task_token must be a non-empty string of at most 2048 characters")
        op = self.store.load(operation_id)
        if op.state is not OperationState.PAUSED:
            raise BadInput(f"operation '{op.id}' is {op.state.value}; only a paused operation waits for an answer")
        if op.intervention is not None and op.intervention.task_token == task_token:
            return self.report(op)  # the same notice delivered again
        count = op.intervention.notifications + 1 if op.intervention else 1
        op.intervention = Intervention(
            task_token=task_token,
            step_name=step_name if isinstance(step_name, str) else None,
            step_index=step_index if isinstance(step_index, int) and not isinstance(step_index, bool) else None,
            recorded_at=self.clock.now(),
            notifications=count,
            execution_arn=execution_arn if isinstance(execution_arn, str) and execution_arn else None,
        )
        events = [self._event(op, "intervention_requested", f"Waiting for an operator (notice {count})")]
        return self._save_and_report(op, events, Outcome.INTERVENTION)

    def fail(self, operation_id: str, error: Any, cause: Any = None) -> StepResult:
        """The state machine caught an error: make the store say so instead of `running`."""
        op = self.store.load(operation_id)
        if op.state.is_final:
            return self.report(op)
        text = f"{error or 'States.Error'}: {cause or 'no cause given'}"
        if op.state is OperationState.CREATED:
            # Never started (no lock, nothing changed): it stays created; a new execution starts it.
            return self._save_and_report(op, [self._event(op, "execution_failed", text)], Outcome.CONTINUE)
        self._pause(
            op,
            f"The Step Functions execution failed ({text}). Start a new execution with "
            f'{{"operation_id": "{op.id}"}} to resume',
            [],
        )
        events = [self._event(op, "execution_failed", text)]
        return self._save_and_report(op, events, Outcome.INTERVENTION)

    # -- plumbing -------------------------------------------------------------------------

    def _event(self, op: Operation, type_: str, message: str, **data: Any) -> Event:
        log.info(type_, operation_id=op.id, message=message)
        return Event(
            id=uuid.uuid4().hex,
            operation_id=op.id,
            type=type_,
            message=message,
            data={k: v for k, v in data.items() if v is not None},
            timestamp=self.clock.now(),
        )

    def _disruption_event(self, op: Operation, step: Step, type_: str, what: str) -> Event:
        target = step.parameters.get("target")
        return self._event(
            op,
            type_,
            f"{step.action.capitalize()} of {op.cluster_id}" + (f" to {target}" if target else "") + f" {what}",
            step=step.id,
            action=step.action,
            cluster_id=op.cluster_id,
            target=target,
        )

    def _tell_listeners(self, op: Operation, events: Sequence[Event]) -> None:
        for listener in self.listeners:
            try:
                listener(op, events)
            except Exception as exc:  # a listener never fails a saved step
                log.warning("listener_failed", operation_id=op.id, error=f"{type(exc).__name__}: {exc}")

    def _save_and_report(
        self,
        op: Operation,
        events: list[Event],
        outcome: Outcome,
        wait_seconds: int = 0,
        step_index: int | None = None,
    ) -> StepResult:
        op.updated_at = self.clock.now()
        try:
            saved = self.store.save(op, events)
        except Conflict as exc:
            return self._conflict(op.id, exc)
        self._tell_listeners(saved, events)
        if saved.state.is_final:
            self._release_lock(saved)
        return self._result(saved, outcome, wait_seconds, step_index=step_index)

    def _conflict(self, operation_id: str, exc: Conflict) -> StepResult:
        """A lost race changed nothing: report what the winner left (the state machine routes on `conflict:`)."""
        current = self.store.load(operation_id)
        return self.report(current, error=f"conflict: {exc}; re-read: {current.state.value}")

    # -- step lease -------------------------------------------------------------------------

    def _take_lease(self, op: Operation, step: Step, events: list[Event], now: datetime) -> Operation | StepResult:
        """Mark the step with this attempt and an expiry, by a conditional write, before `run`.

        Of two callers that loaded the same version only one write succeeds; the other reports
        the conflict and calls nothing. A caller that finds a lease still running waits for it.
        """
        holder, until = step.result.get(LEASE_ATTEMPT), step.result.get(LEASE_UNTIL)
        if holder and until:
            remaining = (datetime.fromisoformat(str(until)) - now).total_seconds()
            if remaining > 0:
                log.info("step_leased", operation_id=op.id, step=step.name, attempt=holder, until=until)
                return self._result(op, Outcome.WAIT, max(1, min(LEASE_POLL_SECONDS, math.ceil(remaining))))
            events.append(
                self._event(
                    op,
                    "lease_expired",
                    f"Step {step.name}: attempt {holder} did not finish by {until}; running the step again "
                    "(it first looks for its own earlier effect)",
                    step=step.id,
                    attempt=holder,
                )
            )
        step.result[LEASE_ATTEMPT] = uuid.uuid4().hex[:16]
        step.result[LEASE_UNTIL] = (now + timedelta(seconds=self.lease_seconds)).isoformat()
        op.updated_at = now
        try:
            saved = self.store.save(op, events)
        except Conflict as exc:
            return self._conflict(op.id, exc)
        self._tell_listeners(saved, events)
        return saved

    def _context(self, action: AnyAction, op: Operation, step: Step, now: datetime) -> ActionContext[Any, Any]:
        """The step's params parsed by its kind (a plan that no longer parses pauses, as any bug)."""
        kind = getattr(action, "kind", None)
        params: Any = kind.parse_params(step.parameters) if kind is not None else step.parameters
        since = step.result.get("wait_started_at")
        return ActionContext(
            rds=self.rds(op.region),
            operation=op,
            step=step,
            now=now,
            params=params,
            kind=kind,
            waiting_since=datetime.fromisoformat(str(since)) if since else None,
        )

    def _attempt(self, action: AnyAction, ctx: ActionContext[Any, Any], waiting: bool) -> ActionOutcome:
        """Run (under the lease) or check the step; the save that follows ends the lease."""
        step = ctx.step
        try:
            return action.check(ctx) if waiting else action.run(ctx)
        except Exception:
            raise  # the caller turns it into a pause or a retry, in the save that ends the lease
        except BaseException:
            # Ctrl-C, or anything else that escapes this call in-process: free the lease now, so
            # the next call need not wait for its expiry (its `run` looks for our effect first).
            # Only a process that dies outright leaves the lease to expire.
            if not waiting:
                self._drop_lease(ctx.operation.id, str(step.result.get(LEASE_ATTEMPT)))
            raise
        finally:
            step.result.pop(LEASE_ATTEMPT, None)
            step.result.pop(LEASE_UNTIL, None)

    def _drop_lease(self, operation_id: str, attempt: str) -> None:
        """`run` was interrupted: free the lease now rather than at its expiry (the next run looks first)."""
        try:
            op = self.store.load(operation_id)
            step = op.current_step
            if step is not None and step.result.get(LEASE_ATTEMPT) == attempt:
                step.result.pop(LEASE_ATTEMPT, None)
                step.result.pop(LEASE_UNTIL, None)
                self.store.save(op, [])
        except RdsMaintError as exc:
            log.warning("lease_not_dropped", operation_id=operation_id, error=str(exc))

    # -- cluster lock -----------------------------------------------------------------------

    def _live_holder(self, cluster_id: str, region: str) -> Operation | None:
        """The operation holding the cluster's lock, unless it has finished (a stale lock)."""
        holder = self.store.lock_holder(cluster_id, region)
        if holder is None:
            return None
        try:
            other = self.store.load(holder)
        except OperationNotFound:
            return None
        return None if other.state.is_final else other

    @staticmethod
    def _locked_error(cluster_id: str, region: str, holder: Operation) -> ClusterLocked:
        return ClusterLocked(
            f"cluster '{cluster_id}' in {region} is busy: operation '{holder.id}' ({holder.type.value}, "
            f"{holder.state.value}) holds its lock. Let it finish or answer it (rds-maint status {holder.id}); "
            f"if it is stuck, release the lock with: rds-maint unlock {cluster_id} --region {region} --force",
            holder.id,
        )

    def _take_lock(self, op: Operation) -> list[Event]:
        """Take the cluster lock for `op` (idempotent); take over a lock left by a finished operation."""
        events: list[Event] = []
        holder = self.store.acquire_lock(op.cluster_id, op.region, op.id)
        for _ in range(3):
            if holder == op.id:
                return events
            try:
                other: Operation | None = self.store.load(holder)
            except OperationNotFound:
                other = None
            if other is not None and not other.state.is_final:
                raise self._locked_error(op.cluster_id, op.region, other)
            events.append(
                self._event(
                    op,
                    "lock_taken_over",
                    f"Cluster lock of {op.cluster_id} was still held by '{holder}', which "
                    + ("no longer exists" if other is None else f"is {other.state.value}")
                    + "; taken over",
                    previous_holder=holder,
                )
            )
            holder = self.store.acquire_lock(op.cluster_id, op.region, op.id, replace=holder)
        raise ClusterLocked(
            f"cluster '{op.cluster_id}' in {op.region}: its lock keeps changing hands; try again", holder
        )

    def _release_lock(self, op: Operation) -> None:
        """At a final state. A failure is logged: the next start takes over a lock left by a finished operation."""
        try:
            self.store.release_lock(op.cluster_id, op.region, op.id)
        except RdsMaintError as exc:
            log.warning("lock_not_released", operation_id=op.id, cluster_id=op.cluster_id, error=str(exc))

    def lock_holder(self, cluster_id: str, region: str) -> str | None:
        return self.store.lock_holder(cluster_id, region)

    def force_unlock(self, cluster_id: str, region: str, comment: str | None = None) -> str | None:
        """An operator frees a cluster's lock; recorded as an event on the operation that held it."""
        holder = self.store.lock_holder(cluster_id, region)
        if holder is None:
            return None
        said = f" ({comment})" if comment else ""
        for _ in range(5):
            try:
                op = self.store.load(holder)
            except OperationNotFound:
                break
            event = self._event(
                op,
                "lock_released_by_operator",
                f"Cluster lock of {cluster_id} in {region} released by an operator with --force{said}; "
                f"another operation may now start on the cluster while this one is {op.state.value}",
                comment=comment,
            )
            op.updated_at = self.clock.now()
            try:
                self.store.save(op, [event])
                break
            except Conflict:
                continue
        else:
            raise Conflict(f"operation '{holder}' kept changing; the lock was not released, try again")
        self.store.release_lock(cluster_id, region, holder)
        return holder
