"""Driving an operation in this process: the loop, its progress, Ctrl-C. `run`, `resume --run` and the demo share it."""

from __future__ import annotations

from collections.abc import Callable

import click

from rds_maint.cli import common
from rds_maint.engine import Engine
from rds_maint.progress import Progress, drive

__all__ = ["run_operation"]


def run_operation(engine: Engine, op_id: str, sleep: Callable[[float], None]) -> int:
    op = engine.store.load(op_id)
    if not op.state.is_final:
        engine.rds(op.region).check_credentials()  # a missing login fails here, before any step changes
    progress = Progress(engine, op_id, json_output=common.opts().output == "json", store_flag=common.store_flag())
    engine.start(op_id)
    try:
        result = drive(engine, op_id, sleep, progress)
    except KeyboardInterrupt:
        click.echo(
            f"\nInterrupted. The operation is saved; carry on with: rds-maint run {op_id}{common.store_flag()}",
            err=True,
        )
        return 130
    progress.finish(result)
    return common.exit_code(result)
