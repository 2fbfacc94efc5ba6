"""The hold before a final state (DESIGN section 9): never end with the temp instance as writer or in the cluster.

Before it records a final state (`completed`, `failed`, `rolled_back`) of an operation that made a
temp instance, the engine reads the cluster: if the temp instance is the writer or still in the
cluster, whatever the answer that got there (`mark_complete` included), it appends the fail-back and
the deletion still needed and runs them first; a `mark_complete` that would skip that clean-up is
refused with what remains and the commands to finish by hand. A crash between the appended steps'
save and their run changes nothing: they are ordinary steps, run by `advance`.
"""

from __future__ import annotations

from rds_maint.engine.core import EngineCore
from rds_maint.errors import AwsError
from rds_maint.model import Event, Operation, OperationState, Outcome, Step, StepResult, StepState
from rds_maint.snapshots import ClusterSnapshot

__all__ = [
    "FINAL_CHECK_PAUSED",
    "FINAL_CLEANUP_ROUNDS",
    "FINAL_CLEANUP_STEPS",
    "cleanup_steps",
    "final_cluster",
    "finish",
    "manual_finish",
    "skips_final_cleanup",
]

# The engine runs the clean-up an answer would skip at most this many times, then pauses.
FINAL_CLEANUP_ROUNDS = 3
FINAL_CLEANUP_STEPS, FINAL_CHECK_PAUSED = "final_cleanup_steps", "final_check_paused"
STILL_TO_RUN = (StepState.PENDING, StepState.IN_PROGRESS, StepState.WAITING)


def final_cluster(core: EngineCore, op: Operation) -> tuple[ClusterSnapshot | None, str | None]:
    """The cluster now, and why it may not be left as it is (None: DESIGN section 9 holds).

    Only Aurora operations make a temp instance: a Multi-AZ DB cluster or a DB instance has none to hold
    the final state for, whatever its context says."""
    if op.target_type != "aurora_cluster" or not op.context.get("temp_instance_id"):
        return None, None
    cluster = core.rds(op.region).find_cluster(op.cluster)
    if cluster is None:
        return None, None  # no cluster, no temp instance in it
    # the temp-instance plans' own rules; imported only by the operations that made one
    from rds_maint.plans.rollback import final_state_problems

    problems = final_state_problems(op, cluster)
    return cluster, ("; ".join(problems) if problems else None)


def manual_finish(op: Operation, problems: str, *, can_retry: bool) -> str:
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


def cleanup_steps(op: Operation, cluster: ClusterSnapshot) -> list[Step]:
    """The clean-up still needed, each step marked so that no requested pause stops it."""
    from rds_maint.plans.rollback import final_cleanup_steps

    steps = final_cleanup_steps(op, cluster)
    for step in steps:
        step.progress.pause_acknowledged = True
    return steps


def _hold(core: EngineCore, op: Operation, events: list[Event]) -> StepResult | None:
    """Before a final state: if the temp instance is writer or in the cluster, append the clean-up or pause.

    Returns None when the final state may be recorded.
    """
    try:
        cluster, problems = final_cluster(core, op)
    except AwsError as exc:
        op.current_step_index = len(op.steps)
        core.pause(
            op,
            f"Before ending, rds-maint checks that the temp instance is gone and the original writer writes, but "
            f"AWS answered {exc.code} on {exc.operation}: {exc.aws_message}. Answer continue to check again",
            events,
        )
        return core.save_and_report(op, events, Outcome.INTERVENTION)
    if cluster is None or problems is None:
        op.context.pop(FINAL_CHECK_PAUSED, None)
        return None
    rounds = list(op.context.get(FINAL_CLEANUP_STEPS) or [])
    can_retry = len(rounds) < FINAL_CLEANUP_ROUNDS
    if can_retry and not op.context.get(FINAL_CHECK_PAUSED):
        appended = _append_cleanup(core, op, cluster, problems, rounds, events)
        if appended is not None:
            return appended
    op.current_step_index = len(op.steps)
    op.context[FINAL_CHECK_PAUSED] = True
    core.pause(op, manual_finish(op, problems, can_retry=can_retry), events)
    return core.save_and_report(op, events, Outcome.INTERVENTION)


def _append_cleanup(
    core: EngineCore,
    op: Operation,
    cluster: ClusterSnapshot,
    problems: str,
    rounds: list[list[str]],
    events: list[Event],
) -> StepResult | None:
    """One more round of clean-up steps, run next; None if the plan has none for this cluster."""
    steps = cleanup_steps(op, cluster)
    if not steps:
        return None
    op.context[FINAL_CLEANUP_STEPS] = [*rounds, [s.id for s in steps]]
    core.run_next(op, steps)
    events.append(
        core.event(
            op,
            "final_cleanup",
            f"Not ending yet: {problems}. Running first: " + ", ".join(s.name for s in steps),
            steps=[s.id for s in steps],
        )
    )
    return core.save_and_report(op, events, Outcome.CONTINUE)


def skips_final_cleanup(op: Operation) -> bool:
    """Whether a mark_complete now would skip the clean-up the engine added before a final state."""
    if op.context.get(FINAL_CHECK_PAUSED):
        return True
    added = {step_id for round_ids in op.context.get(FINAL_CLEANUP_STEPS) or [] for step_id in round_ids}
    return any(s.id in added and s.state in STILL_TO_RUN for s in op.steps[op.current_step_index :])


def finish(core: EngineCore, op: Operation, events: list[Event]) -> StepResult:
    """Record the final state the operation reached (after the hold above), with its event."""
    held = _hold(core, op, events)
    if held is not None:
        return held
    op.completed_at = core.now()
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
    events.append(core.event(op, f"operation_{op.state.value}", message))
    outcome = Outcome.COMPLETED if op.state is OperationState.COMPLETED else Outcome.FAILED
    return core.save_and_report(op, events, outcome)
