"""`start-execution`: hand a new or existing operation to the deployed Step Functions machine."""

from __future__ import annotations

import json
from typing import Any

import click

from rds_maint import config, stepfunctions
from rds_maint.cli import apply, common, plan_view, request_flags
from rds_maint.cli.apply import preview_for_apply
from rds_maint.errors import BadInput, RdsMaintError
from rds_maint.intervention import region_of_arn

__all__ = ["start_execution"]


@click.command(
    name="start-execution",
    epilog="Examples: rds-maint start-execution --type instance_cycle --cluster orders-prod --region us-east-1 "
    "--state-machine-arn ARN (shows the plan and asks); rds-maint start-execution --plan plan.json --yes "
    "--state-machine-arn ARN; rds-maint start-execution OPERATION_ID --state-machine-arn ARN",
)
@common.common_options
@request_flags.request_options
@apply.plan_file_option
@apply.yes_option
@click.argument("operation_id", required=False)
@click.option(
    "--state-machine-arn",
    default=config.state_machine_arn,
    help="The deployed machine (StateMachineArn output); or RDS_MAINT_STATE_MACHINE_ARN.",
)
@click.option("--max-iterations", type=int, help="Loop iterations per execution before a hand-off (1-800).")
@click.option(
    "--intervention-timeout", type=int, help="Seconds a notice waits before it is sent again (default 86400)."
)
def start_execution(
    operation_id: str | None,
    state_machine_arn: str | None,
    max_iterations: int | None,
    intervention_timeout: int | None,
    plan_file: str | None,
    yes: bool,
    **kw: Any,
) -> None:
    """Start a Step Functions execution: a new operation (same flags as run, planned and confirmed here) or
    OPERATION_ID."""

    def body() -> int:
        machine = stepfunctions.check_state_machine_arn(state_machine_arn)
        engine = common.engine()
        if operation_id is not None:
            if plan_file is not None or any(kw[k] for k in ("op_type", "cluster", "params", "input_file")):
                raise BadInput("give either an OPERATION_ID or --type/--cluster/--param/--plan, not both")
            op = engine.store.load(operation_id)
            if op.state.is_final:
                raise BadInput(f"operation '{op.id}' is {op.state.value}; there is nothing left to drive")
            cluster_id = op.cluster_id
            data = stepfunctions.start_input(None, op.id, cluster_id, max_iterations, intervention_timeout)
        else:
            # An apply, as `run`: the operation stored here is the plan shown; the machine drives it by id.
            plan_view.refuse_off_terminal(yes, "start-execution")
            preview = preview_for_apply(engine, plan_file, kw)
            json_mode = common.opts().output == "json"
            what = "Create this operation and start the execution"
            if not plan_view.confirm_apply(preview, yes=yes, json_mode=json_mode, what=what):
                click.echo("Not applied; nothing was changed.", err=json_mode)
                return common.EXIT_FAILED
            op = engine.create_from_preview(preview)
            cluster_id = op.cluster_id
            data = stepfunctions.start_input(None, op.id, cluster_id, max_iterations, intervention_timeout)

        def cluster_of(op_id: str) -> str | None:
            try:
                return engine.store.load(op_id).cluster_id
            except RdsMaintError:
                return None

        client = stepfunctions.make_client(region_of_arn(machine), common.opts().settings().profile)
        report = stepfunctions.start(client, machine, data, cluster_id, cluster_of)
        if common.opts().output == "json":
            click.echo(
                json.dumps(
                    {
                        "started": report.started,
                        "execution_arn": report.execution_arn,
                        "name": report.name,
                        "input": report.input,
                        "note": report.note,
                    },
                    indent=2,
                )
            )
        elif report.started:
            click.echo(f"Started execution {report.name}")
            click.echo(f"  {report.execution_arn}")
            click.echo(f"Follow it with: aws stepfunctions describe-execution --execution-arn {report.execution_arn}")
        else:
            click.echo(f"Not started: {report.note}")
            click.echo(f"  {report.execution_arn}")
        return common.EXIT_FAILED if report.conflict else common.EXIT_OK

    common.guard(body)
