"""`rds-maint`: the local driver. Thin: parse, call the engine, show what happens.

Commands by group: `operations` (plan, create, run, status, list, events, reset, demo, init, unlock)
and `answers` (resume, respond, start-execution); `common` holds the flags, the engine factory and
the exit codes (DESIGN section 8: 0 completed, 2 bad input, 3 paused for a person, 1 failed).
Callers that bring their own engine (tests on the simulator) pass `obj=Options(engine_factory=...)`.
"""

from __future__ import annotations

import click

from rds_maint.cli import answers, operations
from rds_maint.cli.common import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, EXIT_PAUSED, Options, common_options

__all__ = ["EXIT_BAD_INPUT", "EXIT_FAILED", "EXIT_OK", "EXIT_PAUSED", "Options", "main"]


@click.group()
@common_options
@click.version_option(package_name="rds-maint")
def main() -> None:
    """Run Amazon Aurora maintenance one safe step at a time."""


for command in (
    operations.plan,
    operations.create,
    operations.run,
    operations.status,
    operations.list_operations,
    operations.events,
    answers.resume,
    answers.respond,
    answers.start_execution,
    operations.reset,
    operations.demo,
    operations.init,
    operations.unlock,
):
    main.add_command(command)
