"""What each answer does at the pause an operation is in, said before anyone answers.

A person at 2 a.m. sees four answers; each one's effect depends on where the operation stopped: a
`rollback` before a Blue/Green switchover deletes the green copy, after it nothing can switch back.
`answer_options(op)` reads the operation (never AWS) and says, per answer, what the engine would do
now: the steps `continue` runs, the unwind steps `abort` and `rollback` append (from the same
`plans.unwind_steps` the engine calls), what `mark_complete` skips. An answer that cannot do what
its name says is marked: refused (`allowed=False`, with why) or to be confirmed
(`needs_confirmation`, the effect says what it does and does not do). The pause display, the status
events and the engine's own check of an answer all read this one function.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from rds_maint.engine.final_state import FINAL_CHECK_PAUSED, STILL_TO_RUN, skips_final_cleanup
from rds_maint.model import Operation, OperationState, ResumeAction, Step, StepState
from rds_maint.planning.estimate import estimate_steps
from rds_maint.plans import rollback_limits, unwind_steps
from rds_maint.plans.rollback import TOUCHED
from rds_maint.steps.blue_green import (
    DELETE_OLD_CLUSTER,
    SWITCHOVER_BLUE_GREEN,
    UNWIND_BLUE_GREEN,
    WAIT_BLUE_GREEN_AVAILABLE,
)

__all__ = ["AnswerOption", "GreenCluster", "answer_options", "green_cluster", "option_for", "switchover_state"]

SwitchoverState = Literal["not_begun", "requested", "done"]


@dataclass(frozen=True)
class AnswerOption:
    """One answer at one pause: what it does, whether it is taken, whether it must be confirmed."""

    action: ResumeAction
    effect: str
    allowed: bool = True
    why_not: str | None = None
    needs_confirmation: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action.value,
            "effect": self.effect,
            "allowed": self.allowed,
            "why_not": self.why_not,
            "needs_confirmation": self.needs_confirmation,
        }


@dataclass(frozen=True)
class GreenCluster:
    """The green cluster of a Blue/Green deployment, as its wait step recorded it: what to check first."""

    cluster_id: str
    writer_endpoint: str | None
    reader_endpoint: str | None


def answer_options(op: Operation) -> list[AnswerOption]:
    """Per answer, what it does now; empty unless the operation is paused."""
    if op.state is not OperationState.PAUSED:
        return []
    return [option_for(op, action) for action in ResumeAction]


def option_for(op: Operation, action: ResumeAction) -> AnswerOption:
    """What one answer does now, paused or not (the engine checks an answer to a running operation too)."""
    return _OPTIONS[action](op)


def switchover_state(op: Operation) -> SwitchoverState | None:
    """Where a Blue/Green switchover is (None: the operation has none)."""
    step = next((s for s in op.steps if s.action == SWITCHOVER_BLUE_GREEN.action), None)
    if step is None:
        return None
    if step.state is StepState.COMPLETED:
        return "done"
    if step.result.get("switchover_requested_at"):
        return "requested"
    return "not_begun"


def green_cluster(op: Operation) -> GreenCluster | None:
    """The green cluster the wait step saw ready (None before that, or without Blue/Green)."""
    step = next((s for s in op.steps if s.action == WAIT_BLUE_GREEN_AVAILABLE.action), None)
    green_id = step.result.get("green_cluster_id") if step else None
    if step is None or not green_id:
        return None
    result = step.result
    return GreenCluster(str(green_id), result.get("green_writer_endpoint"), result.get("green_reader_endpoint"))


def _interruption_note(op: Operation, step: Step) -> str:
    estimate = estimate_steps([step], writer_id=op.context.get("original_writer"))
    if not estimate.interruptions:
        return ""
    seconds = estimate.interruptions[0].seconds
    about = "about a minute" if seconds >= 50 else f"about {round(seconds / 5) * 5:.0f} seconds"
    return f" (writes stop for {about})"


def _continue(op: Operation) -> AnswerOption:
    step = op.current_step
    if step is None:
        again = "try its clean-up again, " if op.context.get(FINAL_CHECK_PAUSED) else ""
        return AnswerOption(
            ResumeAction.CONTINUE, f"rds-maint checks the {op.target_kind} again, {again}then ends the operation"
        )
    what = f"{step.description}{_interruption_note(op, step)}"
    if step.state is StepState.PENDING:
        effect = f"run step '{step.name}': {what}"
    else:
        effect = f"try step '{step.name}' again ({what}); its wait timeout starts afresh"
    return AnswerOption(ResumeAction.CONTINUE, effect)


def _still_unwinding(op: Operation, action: ResumeAction) -> AnswerOption:
    return AnswerOption(
        action,
        f"not available: the operation is already unwinding ({op.unwind})",
        allowed=False,
        why_not=f"already unwinding ({op.unwind}); answer continue to retry its clean-up, or mark_complete once "
        f"the {op.target_kind} is fixed by hand",
    )


def _unwind_effect(op: Operation, kind: Literal["abort", "rollback"]) -> str:
    """The unwind steps the engine would append, each in words (Blue/Green ones as the cluster is now)."""
    steps = unwind_steps(op, kind)
    said = [_blue_green_unwind(op, kind) if s.action == UNWIND_BLUE_GREEN.action else _plain(s, kind) for s in steps]
    ends = "failed (aborted)" if kind == "abort" else "rolled_back"
    if not said:
        return f"stop here; nothing was changed that needs undoing; the operation ends {ends}"
    return f"stop here, then: {'; '.join(said)}; the operation ends {ends}"


def _plain(step: Step, kind: str) -> str:
    """An unwind step's description without its "Abort: " or "Rollback: " label (the answer says it)."""
    label = f"{kind.capitalize()}: "
    return step.description.removeprefix(label)


def _abort(op: Operation) -> AnswerOption:
    if op.unwind:
        return _still_unwinding(op, ResumeAction.ABORT)
    return AnswerOption(ResumeAction.ABORT, _unwind_effect(op, "abort"))


def _rollback(op: Operation) -> AnswerOption:
    """A rollback that cannot undo everything (after a switchover; what the plan's `rollback_limits` names:
    a storage change AWS cannot reverse, a reboot, an in-place upgrade) says so and must be confirmed."""
    if op.unwind:
        return _still_unwinding(op, ResumeAction.ROLLBACK)
    after_switchover = switchover_state(op) in ("done", "requested")
    limits = rollback_limits(op)
    effect = _unwind_effect(op, "rollback")
    if limits:
        effect = f"{effect}. What a rollback cannot undo: {limits}"
    return AnswerOption(ResumeAction.ROLLBACK, effect, needs_confirmation=after_switchover or bool(limits))


def _mark_complete(op: Operation) -> AnswerOption:
    left = [s.name for s in op.steps[op.current_step_index :] if s.state in STILL_TO_RUN]
    skipped = f"skip {', '.join(left)} and " if left else ""
    ends = {"rollback": "rolled_back", "abort": "failed (aborted)"}.get(op.unwind or "", "completed")
    effect = f"{skipped}end the operation as {ends}; nothing more is done in AWS"
    temp_id = op.context.get("temp_instance_id")
    if temp_id and skips_final_cleanup(op):
        effect = (
            f"{skipped}end the operation as {ends}, only once temp instance {temp_id} is neither the writer nor in "
            "the cluster: rds-maint looks first and refuses while it is"
        )
    elif temp_id:
        effect += f", except that rds-maint first fails back and deletes temp instance {temp_id} if it is still there"
    green = green_cluster(op)
    if green and switchover_state(op) == "not_begun" and not op.unwind:
        effect += f" (the Blue/Green deployment and green cluster {green.cluster_id} are left as they are)"
    return AnswerOption(ResumeAction.MARK_COMPLETE, effect)


def _blue_green_unwind(op: Operation, kind: Literal["abort", "rollback"]) -> str:
    """What the Blue/Green unwind step does from where the switchover is (actions.blue_green.unwind)."""
    context = op.context
    cluster, deployment = op.target_id, context.get("deployment_name") or "(its deployment)"
    source, target = context.get("source_version"), context.get("target_version")
    old = context.get("old_cluster_id") or context.get("old_instance_id") or f"{op.target_id}-old1"
    noun = op.target_kind
    green = green_cluster(op)
    green_name = f"green {noun} {green.cluster_id}" if green else f"its green {noun}"
    switched = switchover_state(op)
    if switched == "not_begun":
        return f"delete the Blue/Green deployment {deployment} and {green_name}; {cluster} stays on {source}, untouched"
    maybe = "if the switchover went through, " if switched == "requested" else ""
    old_gone = any(s.action == DELETE_OLD_CLUSTER.action and s.state in TOUCHED for s in op.steps)
    if kind == "abort":
        kept = f"the old blue {noun} {old} is kept (delete it yourself once you no longer need it)"
        if old_gone:
            kept = f"the old blue {noun} {old} is deleted or being deleted (its final snapshot stays)"
        return f"{maybe}nothing is switched back: {cluster} stays on {target}, {kept}"
    kept = f"the old blue {noun} {old} is kept as it was at the switchover"
    if old_gone:
        kept = f"the old blue {noun} {old} is deleted or being deleted: going back means restoring its final snapshot"
    return (
        f"{maybe}rollback does NOT switch back (AWS cannot reverse a Blue/Green switchover): {cluster} stays on "
        f"{target} and keeps taking writes, {kept}; rds-maint pauses with the manual steps to go back (rename the "
        f"{noun}s, copy the writes made since), then continue checks that {cluster} runs {source} again"
    )


_OPTIONS = {
    ResumeAction.CONTINUE: _continue,
    ResumeAction.ABORT: _abort,
    ResumeAction.ROLLBACK: _rollback,
    ResumeAction.MARK_COMPLETE: _mark_complete,
}
