"""`start-execution`: hand a new or existing operation to the deployed Step Functions machine."""

from __future__ import annotations

import json
from typing import Any

import click

from rds_maint import config, stepfunctions
from rds_maint.cli import apply, common, plan_view, request_flags
from rds_maint.cli.apply import apply_request, preview_for_apply
from rds_maint.engine import CreateRequest, Engine, parse_request
from rds_maint.errors import BadInput, RdsMaintError
from rds_maint.intervention import region_of_arn

__all__ = ["print_report", "start_execution"]


@click.command(
    name="start-execution",
    epilog="\b\nExamples:\n"
    "  rds-maint start-execution --type instance_cycle --cluster orders-prod --region us-east-1 \\\n"
    "      --state-machine-arn ARN                          # shows the plan, asks\n"
    "  rds-maint start-execution --plan plan.json --yes --state-machine-arn ARN\n"
    "  rds-maint start-execution OPERATION_ID --state-machine-arn ARN   # resume by operation id",
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
        # the flags are judged before anything is planned or written
        stepfunctions.start_input(None, None, None, max_iterations, intervention_timeout)
        engine = common.engine()

        def cluster_of(op_id: str) -> str | None:
            """The target (cluster or DB instance id) an operation changes: what one execution at a time drives."""
            try:
                return engine.store.load(op_id).target_id
            except RdsMaintError:
                return None

        if operation_id is not None:
            if plan_file is not None or any(kw[k] for k in ("op_type", "cluster", "instance", "params", "input_file")):
                raise BadInput("give either an OPERATION_ID or --type/--cluster/--instance/--param/--plan, not both")
            op = engine.store.load(operation_id)
            if op.state.is_final:
                raise BadInput(f"operation '{op.id}' is {op.state.value}; there is nothing left to drive")
            client = stepfunctions.make_client(region_of_arn(machine), common.opts().settings().profile)
        else:
            # An apply, as `run`: the operation stored here is the plan shown; the machine drives it by id.
            plan_view.refuse_off_terminal(yes, "start-execution")
            asked = apply_request(plan_file, kw)
            request = parse_request(asked.data, common.opts().settings().region)
            client = stepfunctions.make_client(region_of_arn(machine), common.opts().settings().profile)
            running = stepfunctions.find_running(client, machine, request.target_id, cluster_of)
            if running:  # before anything is planned or written: the target already has a driver
                return print_report(_already_driven(engine, running[0], request))
            preview = preview_for_apply(engine, asked)
            json_mode = common.opts().output == "json"
            what = "Create this operation and start the execution"
            if not plan_view.confirm_apply(preview, yes=yes, json_mode=json_mode, what=what):
                click.echo("Not applied; nothing was changed.", err=json_mode)
                return common.EXIT_FAILED
            op = engine.create_from_preview(preview)
        data = stepfunctions.start_input(None, op.id, op.target_id, max_iterations, intervention_timeout)
        return print_report(stepfunctions.start(client, machine, data, op.target_id, cluster_of))

    common.guard(body)


def _already_driven(
    engine: Engine, running: tuple[dict[str, Any], dict[str, Any]], request: CreateRequest
) -> stepfunctions.StartReport:
    """A running execution on the planned target: the same request (a second start) or another one."""
    execution, data = running
    name = str(execution["name"])
    params = data.get("params")
    running_id = data.get("operation_id")
    same = False
    if isinstance(params, dict):
        same = params.get("type") == request.type.value and params.get("params", {}) == request.raw_params
    elif isinstance(running_id, str):
        try:
            other = engine.store.load(running_id)
        except RdsMaintError:
            other = None
        same = other is not None and other.type is request.type and other.parameters == request.raw_params
    what = f"operation {running_id}" if isinstance(running_id, str) else "a new operation"
    note = (
        f"already running: execution {name} drives {what} with the same request; nothing started"
        if same
        else f"{request.target_label} is busy: execution {name} drives {what}; nothing started"
    )
    return stepfunctions.StartReport(
        started=False, execution_arn=str(execution["executionArn"]), name=name, input=data, note=note, conflict=not same
    )


def print_report(report: stepfunctions.StartReport, follow: str | None = None) -> int:
    """What a start did, as text or JSON; `follow`: the line that says how to follow a started execution
    (default: describe-execution). Exit 1 when another request holds the target, else 0."""
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
        described = f"Follow it with: aws stepfunctions describe-execution --execution-arn {report.execution_arn}"
        click.echo(follow or described)
    else:
        click.echo(f"Not started: {report.note}")
        click.echo(f"  {report.execution_arn}")
    return common.EXIT_FAILED if report.conflict else common.EXIT_OK
