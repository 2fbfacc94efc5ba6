"""A person steers an operation under way: `run OP --wait-timeout/--pause-before`, and `rds-maint pause`.

Both are requests saved on the operation (rds_maint.engine.control), so they work from any machine that
reaches the store, whichever process or Step Functions execution drives the operation; each is recorded
as an event with who asked.
"""

from __future__ import annotations

import json
from typing import Any

import click

from rds_maint.cli import common
from rds_maint.cli.answers import answering_actor
from rds_maint.cli.liveness import liveness
from rds_maint.cli.times import clock_utc
from rds_maint.engine import Engine

__all__ = ["actor", "apply_run_flags", "pause"]


def actor() -> str:
    """Who is asking, as the events record it: the same identity an answer records."""
    return answering_actor()


def apply_run_flags(engine: Engine, operation_id: str, kw: dict[str, Any]) -> None:
    """`run OPERATION_ID` with --wait-timeout / --pause-before: saved on the operation before it is driven.

    What cannot apply (a final operation, a bad value, a step already started) is refused with the
    reason before anything is saved or driven.
    """
    pause_before: tuple[str, ...] = kw.get("pause_before") or ()
    wait_timeout: int | None = kw.get("wait_timeout")
    if wait_timeout is None and not pause_before:
        return
    saved = engine.update_settings(operation_id, wait_timeout=wait_timeout, pause_before=pause_before, actor=actor())
    if common.opts().output == "text":
        for event in saved:
            click.echo(event.message)


@click.command()
@common.common_options
@click.argument("operation_id")
@click.option("--comment", help="Why; shown in the pause and kept in the event log.")
def pause(operation_id: str, comment: str | None) -> None:
    """Ask a running operation to pause before its next step, from any machine that reaches the store.

    The step under way finishes first (a step is never cut in the middle); then the operation pauses and
    is answered like any pause (rds-maint resume OPERATION_ID --action continue). It works whichever
    process drives the operation: this machine's run, another machine's, or a Step Functions execution.

    \b
    Example:
      rds-maint pause orders-prod-20261202-021400-a1b2c3 --comment "app team sees errors"
    """

    def body() -> int:
        engine = common.engine()
        before = liveness(engine.store.load(operation_id), engine.clock.now(), engine.poll_policy.max_seconds)
        answer = engine.request_pause(operation_id, actor=actor(), comment=comment)
        op = answer.operation
        if common.opts().output == "json":
            click.echo(
                json.dumps(
                    {
                        "operation_id": op.id,
                        "pause_requested": answer.requested,
                        "state": op.state.value,
                        "message": answer.message,
                    },
                    indent=2,
                )
            )
        else:
            click.echo(answer.message)
            if answer.requested and before.idle_since is not None:
                click.echo(
                    f"Nothing has driven it since {clock_utc(before.idle_since, engine.clock.now())}: it pauses "
                    f"there when it is carried on (rds-maint run {op.id}{common.store_flag()})."
                )
            click.echo(f"Follow it with: rds-maint status {op.id} --watch{common.store_flag()}")
        return common.EXIT_OK

    common.guard(body)
