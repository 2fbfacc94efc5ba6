"""The advance loop: exactly one unit of work per call, saved before it is reported.

A pending step starts (or pauses, if the request asked to pause before it); a step that may change
AWS is leased first, then its action runs once; a waiting step is checked once. What the action
answers (Done, Wait, Retry) or raises (NeedsPerson, an AWS error, a bug) becomes the step's next
state in one save. The engine's bookkeeping goes to `step.progress`; what the action recorded about
AWS goes to `step.result`. The step's action is looked up by name in `ACTIONS`, which imports its module
on first use: a call loads the action (and step kind) of the step it runs, not every one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rds_maint.actions import ACTIONS, Action, ActionContext, ActionOutcome, Done, Retry, Wait
from rds_maint.actions.base import record_dict
from rds_maint.engine.cluster_mark import MARK_PENDING, take_mark
from rds_maint.engine.control import honour_pause_request
from rds_maint.engine.coordination import clear_lease, grant_lease, lease_remaining
from rds_maint.engine.core import EngineCore
from rds_maint.engine.events import disruption_event, is_disruptive_step, note_events
from rds_maint.engine.final_state import finish
from rds_maint.engine.schedule import BUSY_RETRY_SECONDS, lease_poll, poll_seconds, timed_out, transient_backoff
from rds_maint.errors import AwsError, BadInput, BusyAwsError, ClusterLocked, NeedsPerson, TransientAwsError
from rds_maint.log import get_logger
from rds_maint.model import Event, Operation, OperationState, Outcome, Step, StepResult, StepState

__all__ = ["advance"]

log = get_logger("rds_maint.engine")


def advance(core: EngineCore, operation_id: str) -> StepResult:
    """Exactly one unit of work: run the current step's action once, or check it once."""
    op = core.store.load(operation_id)
    if op.state.is_final or op.state is OperationState.PAUSED:
        return core.report(op)
    if op.state is OperationState.CREATED:
        raise BadInput(f"operation '{op.id}' has not been started; start it first")
    step = op.current_step
    events: list[Event] = []
    if op.context.get(MARK_PENDING):
        unmarked = _mark_first(core, op, events)
        if unmarked is not None:
            return unmarked
    if step is None:
        return finish(core, op, events)
    now = core.now()
    if step.state is StepState.PENDING:
        stopped = _start(core, op, step, events, now)
        if stopped is not None:
            return stopped
    return _act(core, op, step, events, now)


def _mark_first(core: EngineCore, op: Operation, events: list[Event]) -> StepResult | None:
    """A start AWS throttled left the target's mark to put on: nothing runs before it (None: put on)."""
    try:
        take_mark(core.rds(op.region), core.store, op)
    except (TransientAwsError, BusyAwsError) as exc:
        log.info("mark_pending", operation_id=op.id, code=exc.code)
        return core.result(op, Outcome.WAIT, BUSY_RETRY_SECONDS)
    except ClusterLocked as exc:
        core.pause(op, f"{exc}. This operation changed nothing yet: answer abort, or continue once it is free", events)
        return core.save_and_report(op, events, Outcome.INTERVENTION)
    op.context.pop(MARK_PENDING)  # saved with this advance's save; if that is lost, the mark is ours already
    return None


def _act(core: EngineCore, op: Operation, step: Step, events: list[Event], now: datetime) -> StepResult:
    """Call the step's action once (under the lease if it may change AWS) and save what it answered."""
    action = ACTIONS.get(step.action)
    if action is None:
        core.pause(op, f"step '{step.name}' names unknown action '{step.action}'", events)
        return core.save_and_report(op, events, Outcome.INTERVENTION)
    waiting = step.state is StepState.WAITING
    if not waiting:  # `run` may change AWS: only the holder of the step lease calls it
        leased = _take_lease(core, op, step, events, now)
        if isinstance(leased, StepResult):
            return leased
        op, events = leased, []
        step = op.steps[op.current_step_index]
    outcome = _call(core, action, op, step, events, now, waiting)
    if isinstance(outcome, StepResult):
        return outcome
    return _apply(core, op, step, outcome, events, now)


def _call(
    core: EngineCore,
    action: Action[Any, Any],
    op: Operation,
    step: Step,
    events: list[Event],
    now: datetime,
    waiting: bool,
) -> ActionOutcome | StepResult:
    """The action's answer, or what it raised turned into a retry or a saved pause."""
    ctx: ActionContext[Any, Any] | None = None
    try:
        ctx = _context(core, action, op, step, now)
        outcome: ActionOutcome = _attempt(core, action, ctx, waiting)
    except Exception as exc:
        answered = _on_error(core, op, step, ctx, exc, events)
        if isinstance(answered, StepResult):
            return answered
        outcome = answered
    if ctx is not None:
        events.extend(note_events(core.clock, op, ctx))
    return outcome


def _start(core: EngineCore, op: Operation, step: Step, events: list[Event], now: datetime) -> StepResult | None:
    """A pending step starts; a result means this call ends here (a requested pause, a disruption notice)."""
    if op.pause_requested is not None:  # `rds-maint pause`: this is the step boundary it waits for
        honour_pause_request(core, op, step, events)
        return core.save_and_report(op, events, Outcome.INTERVENTION)
    if _pause_requested(op, step):
        core.pause(
            op,
            f"Paused before step '{step.name}' ({step.description}), as planned at creation (--pause-before, or a "
            "pause this operation type makes by default)",
            events,
        )
        return core.save_and_report(op, events, Outcome.INTERVENTION)
    step.state = StepState.IN_PROGRESS
    step.started_at = now
    step.progress.attempt_started_at = now
    events.append(core.event(op, "step_started", f"Step {step.name}: {step.description}", step=step.id))
    if is_disruptive_step(step):
        # A save of its own before the failover/switchover call, so that listeners can
        # tell applications to drain connections first; the next call runs the action.
        events.append(disruption_event(core.clock, op, step, "disruption_starting", "is about to start"))
        return core.save_and_report(op, events, Outcome.CONTINUE)
    return None


def _pause_requested(op: Operation, step: Step) -> bool:
    if op.unwind or step.progress.pause_acknowledged or not op.pause_before_steps:
        return False
    # Only an operation with pauses reads how a person names steps (step_refs imports the Aurora step kinds).
    from rds_maint.planning.step_refs import step_matches

    return any(step_matches(step, ref) for ref in op.pause_before_steps)


def _take_lease(
    core: EngineCore, op: Operation, step: Step, events: list[Event], now: datetime
) -> Operation | StepResult:
    """Mark the step with this attempt and an expiry, by a conditional write, before `run`.

    Of two callers that loaded the same version only one write succeeds; the other reports
    the conflict and calls nothing. A caller that finds a lease still running waits for it.
    """
    remaining = lease_remaining(step, now)
    if remaining is not None:
        holder = step.progress.lease_attempt
        until = step.progress.lease_until.isoformat() if step.progress.lease_until else None
        if remaining > 0:
            log.info("step_leased", operation_id=op.id, step=step.name, attempt=holder, until=until)
            return core.result(op, Outcome.WAIT, lease_poll(remaining))
        events.append(
            core.event(
                op,
                "lease_expired",
                f"Step {step.name}: attempt {holder} did not finish by {until}; running the step again "
                "(it first looks for its own earlier effect)",
                step=step.id,
                attempt=holder,
            )
        )
    grant_lease(step, now, core.lease_seconds)
    return core.save(op, events)


def _context(
    core: EngineCore, action: Action[Any, Any], op: Operation, step: Step, now: datetime
) -> ActionContext[Any, Any]:
    """The step's params parsed by its kind (a plan that no longer parses pauses, as any bug)."""
    kind = action.kind
    return ActionContext(
        rds=core.rds(op.region),
        operation=op,
        step=step,
        now=now,
        params=kind.parse_params(step.parameters),
        kind=kind,
        waiting_since=step.progress.wait_started_at,
    )


def _attempt(core: EngineCore, action: Action[Any, Any], ctx: ActionContext[Any, Any], waiting: bool) -> ActionOutcome:
    """Run (under the lease) or check the step; the save that follows ends the lease."""
    step = ctx.step
    if core.on_attempt is not None:
        core.on_attempt(ctx.operation, step, "check" if waiting else "run")
    try:
        return action.check(ctx) if waiting else action.run(ctx)
    except Exception:
        raise  # the caller turns it into a pause or a retry, in the save that ends the lease
    except BaseException:
        # Ctrl-C, or anything else that escapes this call in-process: free the lease now, so
        # the next call need not wait for its expiry (its `run` looks for our effect first).
        # Only a process that dies outright leaves the lease to expire.
        if not waiting:
            core._drop_lease(ctx.operation.id, step.progress.lease_attempt)
        raise
    finally:
        clear_lease(step)


def _on_error(
    core: EngineCore,
    op: Operation,
    step: Step,
    ctx: ActionContext[Any, Any] | None,
    exc: Exception,
    events: list[Event],
) -> ActionOutcome | StepResult:
    """What an action raised: a retry later (busy, transient) or a pause with the reason for a person."""
    if isinstance(exc, NeedsPerson):
        reason = str(exc)
    elif isinstance(exc, BusyAwsError):
        # Expected: the resource refuses for now (INFO, not an error); the step tries again later.
        log.info("aws_busy", operation_id=op.id, step=step.name, code=exc.code, message=exc.aws_message)
        return Retry(f"AWS says busy: {exc.code}: {exc.aws_message}", BUSY_RETRY_SECONDS)
    elif isinstance(exc, TransientAwsError):
        step.retry_count += 1
        if step.retry_count <= step.max_retries:
            return Retry(
                f"AWS error {exc.code}, retry {step.retry_count}/{step.max_retries}",
                transient_backoff(step.retry_count),
                transient=True,
            )
        reason = (
            f"AWS kept failing after {step.retry_count} tries ({exc.operation}: {exc.code}: "
            f"{exc.aws_message}); resume with continue to try again"
        )
    elif isinstance(exc, AwsError):
        reason = f"AWS error {exc.code} on {exc.operation}: {exc.aws_message}"
    else:  # a bug or an unexpected answer: a person must look, nothing is lost
        log.exception("action_crashed", operation_id=op.id, step=step.name)
        reason = f"unexpected error in step '{step.name}': {type(exc).__name__}: {exc}"
        ctx = None  # what it noted before it broke is not reported
    if ctx is not None:
        events.extend(note_events(core.clock, op, ctx))
    core.pause(op, reason, events, step_error=reason)
    return core.save_and_report(op, events, Outcome.INTERVENTION)


def _apply(
    core: EngineCore, op: Operation, step: Step, outcome: ActionOutcome, events: list[Event], now: datetime
) -> StepResult:
    if not (isinstance(outcome, Retry) and outcome.transient):
        step.retry_count = 0
    if isinstance(outcome, Done):
        return _done(core, op, step, outcome, events, now)
    if isinstance(outcome, Wait):
        return _wait(core, op, step, outcome, events, now)
    return _retry(core, op, step, outcome, events, now)


def _done(core: EngineCore, op: Operation, step: Step, outcome: Done, events: list[Event], now: datetime) -> StepResult:
    step.state = StepState.COMPLETED
    step.completed_at = now
    step.wait_condition = None
    step.error = None
    step.result.update(record_dict(outcome.result))
    step.result["message"] = outcome.message
    events.append(core.event(op, "step_completed", f"Step {step.name}: {outcome.message}", step=step.id))
    if is_disruptive_step(step):
        events.append(disruption_event(core.clock, op, step, "disruption_finished", "has finished"))
    done_index = op.current_step_index
    op.current_step_index += 1
    if op.current_step is None:
        return finish(core, op, events)
    # report the step this call completed; the next call starts the one after it
    return core.save_and_report(op, events, Outcome.CONTINUE, step_index=done_index)


def _wait(core: EngineCore, op: Operation, step: Step, outcome: Wait, events: list[Event], now: datetime) -> StepResult:
    progress = step.progress
    if step.state is not StepState.WAITING:
        step.state = StepState.WAITING
        progress.wait_started_at = now
        events.append(
            core.event(op, "step_waiting", f"Step {step.name}: waiting for {outcome.condition}", step=step.id)
        )
    step.wait_condition = outcome.condition
    step.result.update(record_dict(outcome.result))
    if outcome.progressing:
        progress.wait_started_at = now
    if timed_out(progress.wait_started_at, now, op.wait_timeout):
        minutes = op.wait_timeout // 60
        core.pause(
            op,
            f"Timed out after {minutes} min waiting for: {outcome.condition}. Check the {op.target_kind}, then "
            f"resume with continue to wait {minutes} min more, or with abort or rollback",
            events,
        )
        return core.save_and_report(op, events, Outcome.INTERVENTION)
    seconds = max(poll_seconds(core.poll_policy, progress, outcome, now), op.min_look_seconds)
    return core.save_and_report(op, events, Outcome.WAIT, seconds)


def _retry(
    core: EngineCore, op: Operation, step: Step, outcome: Retry, events: list[Event], now: datetime
) -> StepResult:
    """The action could not act yet; the step stays where it is."""
    progress = step.progress
    if progress.busy_reason != outcome.reason:
        events.append(core.event(op, "step_busy", f"Step {step.name}: {outcome.reason}", step=step.id))
    progress.busy_reason = outcome.reason
    if progress.busy_since is None:
        progress.busy_since = now
    if timed_out(progress.busy_since, now, op.wait_timeout):
        minutes = op.wait_timeout // 60
        core.pause(
            op,
            f"Step '{step.name}' could not act for {minutes} min: {outcome.reason}. "
            "Resume with continue to keep trying, or with abort or rollback",
            events,
        )
        return core.save_and_report(op, events, Outcome.INTERVENTION)
    return core.save_and_report(op, events, Outcome.WAIT, outcome.seconds)
