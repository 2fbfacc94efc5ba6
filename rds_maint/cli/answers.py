"""The `rds-maint` commands that answer a paused operation or hand it to Step Functions.

Before an answer is given, the command reads what it does at this pause (`answer_options`): one that
does less than its name says (a rollback after a Blue/Green switchover) is explained and asked again on
a terminal, refused elsewhere unless `--confirm` is given. Every answer carries who gave it
(`rds_maint.actor`: the IAM identity, else `os-user@host`) into the event log.
"""

from __future__ import annotations

import json
import sys

import click

from rds_maint import actor, stepfunctions
from rds_maint.cli import common
from rds_maint.cli.driving import run_operation
from rds_maint.engine.answer_options import option_for
from rds_maint.errors import AnswerRefused, BadInput
from rds_maint.intervention import ALLOWED_ACTIONS, Answer, mask_token, pending_intervention, validate_answer
from rds_maint.model import Operation, OperationState, Outcome, ResumeAction

__all__ = ["answering_actor", "respond", "resume"]

ACTION_HELP = "What to do at the pause; each pause shows what every answer does there."
CONFIRM_HELP = "Go ahead with an answer that does less than its name says (the pause says which), without asking."


def answering_actor() -> str:
    """Who answers from this command: the IAM identity (never asked of a rehearsal account), else user@host."""
    options = common.opts()
    if common.simulate_dir():
        return actor.answering_actor(None)
    settings = options.settings()
    return actor.answering_actor(lambda: actor.sts_client(settings.profile, settings.region))


def on_terminal() -> bool:
    """A person types the answers here (so a question can be asked)."""
    return sys.stdin.isatty()


def _confirmed(op: Operation, action: ResumeAction, confirm: bool) -> bool:
    """Whether the answer may be sent: explained and asked on a terminal, else refused without --confirm."""
    option = option_for(op, action)
    if not option.needs_confirmation or confirm:
        return confirm
    said = f"{action.value} of {op.id} would {option.effect}."
    if on_terminal() and common.opts().output == "text":
        click.echo(said)
        if click.confirm(f"Go ahead with {action.value}?", default=False):
            return True
        raise BadInput(f"{action.value} not confirmed; nothing was changed")
    raise BadInput(f"{said} Nothing was changed; answer again with --confirm to go ahead")


@click.command()
@common.common_options
@click.argument("operation_id")
@click.option("--action", "answer", required=True, type=click.Choice(ALLOWED_ACTIONS), help=ACTION_HELP)
@click.option("--comment", help="Why; kept in the event log with who answered.")
@click.option("--confirm", is_flag=True, default=False, help=CONFIRM_HELP)
@click.option("--run/--no-run", "drive_after", default=False, help="Drive the operation on after answering.")
def resume(operation_id: str, answer: str, comment: str | None, confirm: bool, drive_after: bool) -> None:
    """Answer a paused operation (through its Step Functions execution when one waits for the answer).

    \b
    Example:
      rds-maint resume op-1a2b3c --action continue --comment "green checked" --run
    """

    def body() -> int:
        engine = common.engine()
        op = engine.store.load(operation_id)
        checked = validate_answer(answer, comment)
        sure = _confirmed(op, checked.action, confirm) if not op.state.is_final else confirm
        who = answering_actor()
        if op.state is OperationState.PAUSED and op.intervention is not None:
            sent = Answer(checked.action, checked.comment, who, sure)
            if _answer_through_execution(op, sent, local_fallback=True):
                if drive_after and common.opts().output == "text":
                    click.echo("Not driven here: the execution drives the operation on (--run is ignored).")
                return common.EXIT_OK
            click.echo(f"Answering {op.id} here instead.", err=True)
        result = engine.resume(operation_id, answer, comment, actor=who, confirm=sure)
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
    sent = f"send-task-success {checked.action.value}"
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
@click.option("--action", "answer", required=True, type=click.Choice(ALLOWED_ACTIONS), help=ACTION_HELP)
@click.option("--comment", help="Why; kept in the event log with who answered.")
@click.option("--confirm", is_flag=True, default=False, help=CONFIRM_HELP)
def respond(operation_id: str, answer: str, comment: str | None, confirm: bool) -> None:
    """Answer the Step Functions intervention an operation waits for (by operation id).

    \b
    Example:
      rds-maint respond op-1a2b3c --action abort --comment "green lags behind"
    """

    def body() -> int:
        checked = validate_answer(answer, comment)
        op = common.engine().store.load(operation_id)
        pending_intervention(op)  # refused before anything else if nothing waits for an answer
        sure = _confirmed(op, checked.action, confirm)
        _answer_through_execution(op, Answer(checked.action, checked.comment, answering_actor(), sure))
        return common.EXIT_OK

    common.guard(body)
