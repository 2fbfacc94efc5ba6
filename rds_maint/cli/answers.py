"""The `rds-maint` commands that answer a paused operation or hand it to Step Functions."""

from __future__ import annotations

import json

import click

from rds_maint import stepfunctions
from rds_maint.cli import common
from rds_maint.cli.driving import run_operation
from rds_maint.errors import AnswerRefused
from rds_maint.intervention import Answer, mask_token, pending_intervention, validate_answer
from rds_maint.model import Operation, OperationState, Outcome

__all__ = ["respond", "resume"]


@click.command()
@common.common_options
@click.argument("operation_id")
@click.option("--action", "answer", required=True, help="continue, abort, rollback or mark_complete.")
@click.option("--comment", help="Why; kept in the event log.")
@click.option("--run/--no-run", "drive_after", default=False, help="Drive the operation on after answering.")
def resume(operation_id: str, answer: str, comment: str | None, drive_after: bool) -> None:
    """Answer a paused operation (through its Step Functions execution when one waits for the answer)."""

    def body() -> int:
        engine = common.engine()
        op = engine.store.load(operation_id)
        if op.state is OperationState.PAUSED and op.intervention is not None:
            checked = validate_answer(answer, comment)
            if _answer_through_execution(op, checked, local_fallback=True):
                if drive_after and common.opts().output == "text":
                    click.echo("Not driven here: the execution drives the operation on (--run is ignored).")
                return common.EXIT_OK
            click.echo(f"Answering {op.id} here instead.", err=True)
        result = engine.resume(operation_id, answer, comment)
        if drive_after and result.outcome is Outcome.CONTINUE:
            return run_operation(engine, operation_id, engine.clock.sleep)
        common.print_result(result)
        if result.outcome is Outcome.CONTINUE and common.opts().output == "text":
            click.echo(f"Carry on with: rds-maint run {operation_id}{common.store_flag()}")
        return common.exit_code(result)

    common.guard(body)


def _answer_through_execution(op: Operation, checked: Answer, *, local_fallback: bool = False) -> bool:
    """Send the answer to the Step Functions execution that waits for it (as `respond`); True once sent.

    With `local_fallback`, a token Step Functions no longer knows whose execution is not running any
    more (it failed, was stopped or timed out) returns False: nobody waits, the caller answers here.
    A stale token of a still running execution is refused (a newer notice may be pending).
    """
    pending = pending_intervention(op)
    region = stepfunctions.answer_region(pending, common.opts().settings().region or op.region)
    client = stepfunctions.make_client(region, common.opts().settings().profile)
    try:
        stepfunctions.send_answer(client, pending, checked, op.id)
    except AnswerRefused:
        if not local_fallback:
            raise
        status = stepfunctions.execution_status(client, pending.execution_arn)
        if status is None or status == "RUNNING":
            raise
        click.echo(
            f"The execution that recorded the notice of {op.id} is {status}: nobody waits for the answer.",
            err=True,
        )
        return False
    sent = "send-task-failure OperationAborted" if checked.is_abort else f"send-task-success {checked.action.value}"
    if common.opts().output == "json":
        click.echo(
            json.dumps(
                {
                    "operation_id": op.id,
                    "action": checked.action.value,
                    "answered_through": "step_functions",
                    "execution_arn": pending.execution_arn,
                    "step_name": pending.step_name,
                    "task_token": mask_token(pending.task_token),
                },
                indent=2,
            )
        )
    else:
        token = mask_token(pending.task_token)
        click.echo(
            f"Answered {op.id} at step {pending.step_name or '-'} through its Step Functions execution with "
            f"{sent} (token {token}); the execution drives the operation on."
        )
        if pending.execution_arn:
            click.echo(f"Execution: {pending.execution_arn}")
        click.echo(f"Follow it with: rds-maint status {op.id}{common.store_flag()}")
    return True


@click.command()
@common.common_options
@click.argument("operation_id")
@click.option("--action", "answer", required=True, help="continue, abort, rollback or mark_complete.")
@click.option("--comment", help="Why; kept in the event log.")
def respond(operation_id: str, answer: str, comment: str | None) -> None:
    """Answer the Step Functions intervention an operation waits for (by operation id)."""

    def body() -> int:
        checked = validate_answer(answer, comment)
        op = common.engine().store.load(operation_id)
        _answer_through_execution(op, checked)
        return common.EXIT_OK

    common.guard(body)
