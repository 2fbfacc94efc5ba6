"""`rds-maint`: the local driver. Thin: parse, call the engine, show what happens.

Commands by module: `apply` (plan, create, run), `reports` (status, list, events), `answers`
(resume, respond), `control` (pause), `campaign` and `campaign_control` (campaigns), `execution`
(start-execution), `admin` (reset, init, unlock), `demo`, `sim` (the rehearsal account); `driving`
runs an operation in this process, `request_flags` builds a request from flags; `common` holds the
global flags, the engine factory and the exit codes (DESIGN section 8: 0 completed, 2 bad input,
3 paused for a person, 1 failed).
Callers that bring their own engine (tests on the simulator) pass `obj=Options(engine_factory=...)`.
"""

from __future__ import annotations

import click

from rds_maint.cli import admin, answers, apply, campaign, control, demo, execution, reports, sim
from rds_maint.cli.common import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, EXIT_PAUSED, Options, common_options

__all__ = ["EXIT_BAD_INPUT", "EXIT_FAILED", "EXIT_OK", "EXIT_PAUSED", "Options", "main"]


@click.group()
@common_options
@click.version_option(package_name="rds-maint")
def main() -> None:
    """Run Amazon Aurora and RDS maintenance (clusters, DB instances) one safe step at a time."""


for command in (
    apply.plan,
    apply.create,
    apply.run,
    reports.status,
    reports.list_operations,
    reports.events,
    answers.resume,
    answers.respond,
    control.pause,
    execution.start_execution,
    admin.reset,
    demo.demo,
    admin.init,
    admin.unlock,
    sim.sim,
    campaign.campaign,
):
    main.add_command(command)
