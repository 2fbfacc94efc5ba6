"""What a person sees when an operation pauses for them: why, what each answer does there, how to answer.

The effects come from `answer_options`, the same function the engine checks answers with, so the
screen never promises what the answer will not do. Before a Blue/Green switchover the green cluster's
endpoints are named: that is what to check before answering continue. Local pauses are answered with
`rds-maint resume`; a pause a Step Functions execution waits on is answered through that execution
(`rds-maint respond`), never around it.
"""

from __future__ import annotations

import shutil
import textwrap

import click

from rds_maint.engine.answer_options import AnswerOption, answer_options, green_cluster, switchover_state
from rds_maint.intervention import mask_token
from rds_maint.model import Operation
from rds_maint.steps.blue_green import SWITCHOVER_BLUE_GREEN
from rds_maint.steps.instance_blue_green import SWITCHOVER_INSTANCE_BLUE_GREEN, WAIT_INSTANCE_GREEN

__all__ = ["show_pause"]

MAX_WIDTH = 100
ACTION_WIDTH = len("mark_complete") + 2


def show_pause(op: Operation, store_flag: str = "") -> None:
    click.echo(f"\nPAUSED: {op.pause_reason}")
    _show_green_to_check(op)
    options = answer_options(op)
    _show_effects(options)
    usable = [o for o in options if o.allowed]
    if op.intervention is not None:
        _show_waiting_execution(op, usable, store_flag)
        return
    click.echo("Answer with one of:")
    for option in usable:
        click.echo(f"  rds-maint resume {op.id} --action {_flags(option)}{store_flag}")
    click.echo(f"then: rds-maint run {op.id}{store_flag}")


def _flags(option: AnswerOption) -> str:
    return option.action.value + (" --confirm" if option.needs_confirmation else "")


def _show_green_instance_to_check(op: Operation) -> None:
    """At the pause before a DB instance's switchover: the green instance that is about to take the name."""
    step = op.current_step
    if (
        step is None
        or step.action != SWITCHOVER_INSTANCE_BLUE_GREEN.action
        or step.result.get("switchover_requested_at")
    ):
        return
    wait = next((s for s in op.steps if s.action == WAIT_INSTANCE_GREEN.action), None)
    seen = WAIT_INSTANCE_GREEN.parse_record(wait.result) if wait else None
    if seen is None or not seen.green_instance_id:
        return
    green = seen.green_instance_id
    click.echo(f"Before answering continue, check the green instance {green}:")
    click.echo(f"  endpoint: {seen.green_endpoint or '(not recorded)'}")
    if seen.green_replicas:
        click.echo(f"  green read replicas: {', '.join(seen.green_replicas)}")
    click.echo(f"  aws rds describe-db-instances --db-instance-identifier {green} --region {op.region}")


def _show_green_to_check(op: Operation) -> None:
    """At the pause before the switchover: the green cluster (or instance) that is about to take the name."""
    _show_green_instance_to_check(op)
    step = op.current_step
    green = green_cluster(op)
    if step is None or step.action != SWITCHOVER_BLUE_GREEN.action or green is None:
        return
    if switchover_state(op) != "not_begun":
        return
    click.echo(f"Before answering continue, check the green cluster {green.cluster_id}:")
    click.echo(f"  writer endpoint: {green.writer_endpoint or '(not recorded)'}")
    click.echo(f"  reader endpoint: {green.reader_endpoint or '(not recorded)'}")
    click.echo(f"  aws rds describe-db-clusters --db-cluster-identifier {green.cluster_id} --region {op.region}")


def _show_effects(options: list[AnswerOption]) -> None:
    width = min(shutil.get_terminal_size((80, 24)).columns, MAX_WIDTH)
    click.echo("What each answer does here:")
    for option in options:
        text = option.effect if option.allowed else f"not available: {option.why_not}"
        if option.needs_confirmation:
            text += " (asks you to confirm; --confirm to skip the question)"
        lines = textwrap.wrap(text, max(width - ACTION_WIDTH - 2, 30), break_long_words=False, break_on_hyphens=False)
        click.echo(f"  {option.action.value:<{ACTION_WIDTH}}{lines[0] if lines else ''}")
        for line in lines[1:]:
            click.echo(f"  {'':<{ACTION_WIDTH}}{line}")


def _show_waiting_execution(op: Operation, usable: list[AnswerOption], store_flag: str) -> None:
    """A Step Functions execution waits for the answer: answer through it, never around it."""
    pending = op.intervention
    assert pending is not None
    click.echo("A Step Functions execution waits for the answer; answer through it with one of:")
    for option in usable:
        click.echo(f"  rds-maint respond {op.id} --action {_flags(option)}{store_flag}")
    click.echo("(`rds-maint resume` sends the same answer through the execution; the execution drives it on.)")
    when = f"{pending.recorded_at:%Y-%m-%d %H:%M:%S} UTC"
    click.echo(f"  execution: {pending.execution_arn or 'unknown'}")
    click.echo(f"  step:      {pending.step_name or '-'} (notice {pending.notifications}, {when})")
    click.echo(f"  token:     {mask_token(pending.task_token)}")
