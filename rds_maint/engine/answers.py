"""A person's answers to a paused operation, and the Step Functions bookkeeping around them.

`resume` takes one of four answers, each a function of its own: continue (run the current step
again, with its wait timeout started afresh), mark_complete (skip what is left, unless that would
skip the clean-up DESIGN section 9 asks for), abort and rollback (mark what was cut short, append the
plan's unwind steps and run them). An answer that cannot do what its name says there
(`answer_options`: a rollback after a Blue/Green switchover) is refused, with what it would do,
unless the person confirmed it; every answer's events name who gave it (`actor`) and their comment.
`reset` moves a paused operation back to an earlier step; a failed Step Functions execution (`fail`)
and a pending task token (`record_intervention`) are saved so that the store always says what the
operation waits for. The plans' unwinders (every plan type) are imported by the answers that read them,
not by `record_intervention` and `fail`, which a Lambda call makes on its own (docs/cold-start.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from rds_maint.engine.core import EngineCore
from rds_maint.engine.final_state import (
    FINAL_CHECK_PAUSED,
    STILL_TO_RUN,
    final_cluster,
    finish,
    manual_finish,
    skips_final_cleanup,
)
from rds_maint.errors import BadInput
from rds_maint.model import (
    Event,
    Intervention,
    Operation,
    OperationState,
    Outcome,
    ResumeAction,
    StepProgress,
    StepResult,
    StepState,
)

__all__ = ["fail", "record_intervention", "record_refused_answer", "reset", "resume"]

UnwindKind = Literal["abort", "rollback"]


def resume(
    core: EngineCore,
    operation_id: str,
    action: Any,
    comment: str | None = None,
    *,
    actor: Any = None,
    confirm: Any = False,
) -> StepResult:
    try:
        answer = ResumeAction(action)
    except ValueError:
        raise BadInput(
            f"unknown resume action {action!r}: expected continue, abort, rollback or mark_complete"
        ) from None
    if comment is not None and not isinstance(comment, str):
        raise BadInput("comment must be a string")
    if actor is not None and (not isinstance(actor, str) or not actor or len(actor) > 512):
        raise BadInput("actor must be a non-empty string of at most 512 characters")
    if not isinstance(confirm, bool):
        raise BadInput("confirm must be true or false")
    op = core.store.load(operation_id)
    if op.state.is_final:
        raise BadInput(f"operation '{op.id}' is {op.state.value}; there is nothing to resume")
    _check_confirmed(op, answer, confirm)
    said = f" ({comment})" if comment else ""
    who = Who(actor, comment, said)
    if answer is ResumeAction.CONTINUE:
        return answer_continue(core, op, who)
    if answer is ResumeAction.MARK_COMPLETE:
        return answer_mark_complete(core, op, who)
    return answer_unwind(core, op, "abort" if answer is ResumeAction.ABORT else "rollback", who)


@dataclass(frozen=True)
class Who:
    """Who answered and what they said: kept on the answer's events."""

    actor: str | None
    comment: str | None
    said: str  # the comment as the event message shows it: " (why)" or ""


def _check_confirmed(op: Operation, answer: ResumeAction, confirm: bool) -> None:
    """An answer that does less than its name says is taken only once the person saw what it does."""
    from rds_maint.engine.answer_options import option_for  # the plans' unwinders: only an answer reads them

    option = option_for(op, answer)
    if not option.needs_confirmation or confirm:
        return
    raise BadInput(
        f"{answer.value} of operation '{op.id}' needs confirming: it would {option.effect}. Nothing was changed; "
        'answer again with --confirm to go ahead (through Step Functions: "confirm": true in the task output)'
    )


def record_refused_answer(core: EngineCore, operation_id: str, action: Any, refusal: str, actor: str) -> None:
    """An answer handed over by Step Functions and refused: said in the event log (the execution asks again,
    with the refusal in its next notice), the operation itself unchanged."""
    op = core.store.load(operation_id)
    if op.state is not OperationState.PAUSED:
        return
    core.save(op, [core.event(op, "answer_refused", f"Answer {action!r} refused: {refusal}", actor=actor)])


def answer_continue(core: EngineCore, op: Operation, who: Who) -> StepResult:
    """Run the current step again; its wait timeout (or run of refusals) starts again from now."""
    if op.state is not OperationState.PAUSED:
        return core.report(op)  # a repeated answer: already running
    core.unpause(op)
    op.context.pop(FINAL_CHECK_PAUSED, None)  # at the final check: rds-maint may try its clean-up again
    step = op.current_step
    if step is not None:
        step.error = None
        step.retry_count = 0
        now, progress = core.now(), step.progress
        if step.state is StepState.PENDING:
            progress.pause_acknowledged = True
        if progress.wait_started_at is not None:
            progress.wait_started_at = now
        progress.poll_started_at = None  # a continue may ask AWS again: poll as for a new change
        if progress.busy_since is not None:
            progress.busy_since = now
    events = [
        core.event(op, "operation_resumed", f"Resumed with continue{who.said}", actor=who.actor, comment=who.comment)
    ]
    return core.save_and_report(op, events, Outcome.CONTINUE)


def answer_mark_complete(core: EngineCore, op: Operation, who: Who) -> StepResult:
    """Skip what is left and end, unless the temp instance would be left as writer or in the cluster."""
    if op.state is not OperationState.PAUSED:
        raise BadInput(f"operation '{op.id}' is {op.state.value}; mark_complete answers a paused operation")
    if skips_final_cleanup(op):
        _, problems = final_cluster(core, op)
        if problems:
            raise BadInput(
                f"mark_complete refused for operation '{op.id}': " + manual_finish(op, problems, can_retry=True)
            )
    for step in op.steps[op.current_step_index :]:
        if step.state in STILL_TO_RUN:
            step.state = StepState.SKIPPED
    events = [
        core.event(
            op, "marked_complete", f"Marked complete by operator{who.said}", actor=who.actor, comment=who.comment
        )
    ]
    return finish(core, op, events)


def answer_unwind(core: EngineCore, op: Operation, kind: UnwindKind, who: Who) -> StepResult:
    """Abort or roll back: what was cut short is marked, the plan's unwind steps run next."""
    if op.unwind:
        raise BadInput(
            f"operation '{op.id}' is already unwinding ({op.unwind}); answer continue to retry its "
            f"clean-up, or mark_complete once the {op.target_kind} is fixed by hand"
        )
    if op.state is OperationState.CREATED:
        return _unwind_before_start(core, op, kind, who)
    for step in op.steps[op.current_step_index :]:
        if step.state in (StepState.IN_PROGRESS, StepState.WAITING):
            step.state = StepState.FAILED
            step.error = f"interrupted by {kind}"
        elif step.state is StepState.PENDING:
            step.state = StepState.SKIPPED
    from rds_maint.plans import unwind_steps

    unwind = unwind_steps(op, kind)
    op.unwind = kind
    if kind == "abort":
        op.error = f"aborted by operator{who.said}"
    core.run_next(op, unwind)
    events: list[Event] = [
        core.event(
            op,
            f"operation_{kind}",
            f"{kind.capitalize()} requested{who.said}: " + (", ".join(s.name for s in unwind) or "nothing to undo"),
            actor=who.actor,
            comment=who.comment,
        )
    ]
    if not unwind:
        return finish(core, op, events)
    return core.save_and_report(op, events, Outcome.CONTINUE)


def _unwind_before_start(core: EngineCore, op: Operation, kind: UnwindKind, who: Who) -> StepResult:
    """Nothing ran and no lock was taken: the operation ends where it is."""
    op.state = OperationState.FAILED if kind == "abort" else OperationState.ROLLED_BACK
    op.error = f"{kind} before start{who.said}" if kind == "abort" else None
    op.completed_at = core.now()
    message = f"{kind.capitalize()} before start{who.said}"
    events = [core.event(op, f"operation_{op.state.value}", message, actor=who.actor, comment=who.comment)]
    return core.save_and_report(op, events, Outcome.FAILED)


def reset(core: EngineCore, operation_id: str, step_ref: str, *, actor: str | None = None) -> StepResult:
    """Back to an earlier step: it and every later one pending again, their results and progress cleared."""
    op = core.store.load(operation_id)
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
        step.progress = StepProgress()
        step.error = None
        step.wait_condition = None
        step.retry_count = 0
        step.started_at = None
        step.completed_at = None
    op.current_step_index = index
    op.steps[index].progress.pause_acknowledged = True
    op.pause_reason = f"Reset to step '{op.steps[index].name}' by operator; answer continue to run from there"
    events = [core.event(op, "operation_reset", op.pause_reason, actor=actor, step=op.steps[index].id)]
    return core.save_and_report(op, events, Outcome.INTERVENTION)


def record_intervention(
    core: EngineCore,
    operation_id: str,
    task_token: Any,
    step_name: Any = None,
    step_index: Any = None,
    execution_arn: Any = None,
) -> StepResult:
    """The state machine waits for an answer with this task token: remember it (a repeat changes nothing)."""
    _check_token(task_token)
    op = core.store.load(operation_id)
    if op.state is not OperationState.PAUSED:
        raise BadInput(f"operation '{op.id}' is {op.state.value}; only a paused operation waits for an answer")
    if op.intervention is not None and op.intervention.task_token == task_token:
        return core.report(op)  # the same notice delivered again
    count = op.intervention.notifications + 1 if op.intervention else 1
    op.intervention = Intervention(
        task_token=task_token,
        step_name=step_name if isinstance(step_name, str) else None,
        step_index=_whole_number(step_index),
        recorded_at=core.now(),
        notifications=count,
        execution_arn=execution_arn or None if isinstance(execution_arn, str) else None,
    )
    events = [core.event(op, "intervention_requested", f"Waiting for an operator (notice {count})")]
    return core.save_and_report(op, events, Outcome.INTERVENTION)


def _check_token(task_token: Any) -> None:
    if not isinstance(task_token, str) or not task_token or len(task_token) > 2048:
        raise BadInput("task_token must be a non-empty string of at most 2048 characters")


def _whole_number(value: Any) -> int | None:
    """The state machine's step index, if it sent one (JSON has no int of its own: a bool is not one)."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def fail(core: EngineCore, operation_id: str, error: Any, cause: Any = None) -> StepResult:
    """The state machine caught an error: make the store say so instead of `running`."""
    op = core.store.load(operation_id)
    if op.state.is_final:
        return core.report(op)
    text = f"{error or 'States.Error'}: {cause or 'no cause given'}"
    if op.state is OperationState.CREATED:
        # Never started (no lock, nothing changed): it stays created; a new execution starts it.
        return core.save_and_report(op, [core.event(op, "execution_failed", text)], Outcome.CONTINUE)
    core.pause(
        op,
        f"The Step Functions execution failed ({text}). Start a new execution with "
        f'{{"operation_id": "{op.id}"}} to resume',
        [],  # the execution_failed event says it
    )
    return core.save_and_report(op, [core.event(op, "execution_failed", text)], Outcome.INTERVENTION)
