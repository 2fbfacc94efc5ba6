"""What a person sees when an operation pauses for them: why, and how to answer.

Local pauses are answered with `rds-maint resume`; a pause a Step Functions execution waits on is
answered through that execution (`rds-maint respond`), never around it.
"""

from __future__ import annotations

import click

from rds_maint.intervention import mask_token
from rds_maint.model import Operation

__all__ = ["show_pause"]

ANSWERS = ("continue", "abort", "rollback", "mark_complete")


def show_pause(op: Operation, store_flag: str = "") -> None:
    if op.intervention is not None:
        _show_waiting_execution(op, store_flag)
        return
    click.echo(f"\nPAUSED: {op.pause_reason}")
    click.echo("Answer with one of:")
    for action in ANSWERS:
        click.echo(f"  rds-maint resume {op.id} --action {action}{store_flag}")
    click.echo(f"then: rds-maint run {op.id}{store_flag}")


def _show_waiting_execution(op: Operation, store_flag: str) -> None:
    """A Step Functions execution waits for the answer: answer through it, never around it."""
    pending = op.intervention
    assert pending is not None
    click.echo(f"\nPAUSED: {op.pause_reason}")
    click.echo("A Step Functions execution waits for the answer; answer through it with one of:")
    for action in ANSWERS:
        click.echo(f"  rds-maint respond {op.id} --action {action}{store_flag}")
    click.echo("(`rds-maint resume` sends the same answer through the execution; the execution drives it on.)")
    when = f"{pending.recorded_at:%Y-%m-%d %H:%M:%S} UTC"
    click.echo(f"  execution: {pending.execution_arn or 'unknown'}")
    click.echo(f"  step:      {pending.step_name or '-'} (notice {pending.notifications}, {when})")
    click.echo(f"  token:     {mask_token(pending.task_token)}")
