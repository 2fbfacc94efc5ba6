"""Driving an operation in this process: the loop, its progress, Ctrl-C. `run`, `resume --run` and the demo share it.

`--output json` prints only the final document (the step result with a `summary`, or on Ctrl-C the
`interrupted` document with the command that carries on): one parseable JSON document, no progress
lines. Ctrl-C stops between two saves of the engine (each save is atomic), so the operation is as it
was after its last save; the run prints what it did so far and exits 130.
"""

from __future__ import annotations

from collections.abc import Callable

from rds_maint import wiring
from rds_maint.cli import common
from rds_maint.engine import Engine
from rds_maint.notify import Notifier
from rds_maint.progress import Progress, drive, listening

__all__ = ["EXIT_INTERRUPTED", "run_operation"]

EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a command stopped by Ctrl-C


def run_operation(engine: Engine, op_id: str, sleep: Callable[[float], None]) -> int:
    op = engine.store.load(op_id)
    if not op.state.is_final:
        engine.rds(op.region).check_credentials()  # a missing login fails here, before any step changes
    options = common.opts()
    store_flag = common.store_flag()
    notifier = Notifier(options.notify) if options.notify else None
    progress = Progress(
        engine,
        op_id,
        json_output=options.output == "json",
        store_flag=store_flag,
        aws_calls=lambda: wiring.aws_requests(engine),
    )
    progress.operation = op
    try:
        with listening(engine, progress):
            engine.start(op_id)
            result = drive(engine, op_id, sleep, progress)
    except KeyboardInterrupt:
        progress.interrupted(f"rds-maint run {op_id}{store_flag}")
        return EXIT_INTERRUPTED
    progress.finish(result)
    if notifier is not None and progress.operation is not None:
        notifier.tell(progress.operation, result, store_flag)
    return common.exit_code(result)
