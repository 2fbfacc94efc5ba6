"""`rds-maint campaign`: one operation type over many targets (DESIGN section 10).

`plan` and `run` live here; the commands that read or steer a campaign (status, list, pause, resume,
abort) are in `campaign_control`. `plan` and `run` take the same flags and judge them alike, before
anything is read from AWS: a request that names no target, names them two ways, or asks for an
impossible tolerance is refused with exit 2 and nothing written. `run` shows the plan, asks on a
terminal (--yes skips; off a terminal --yes is needed), refuses targets that fail preflight unless
--skip-refused, stores the campaign record, then drives it in this process (`campaign.local`).
`run CAMPAIGN_ID` carries on an existing campaign, after a pause, a crash or Ctrl-C.

Exit codes as `run`'s: 0 completed, 1 failed or aborted, 2 bad input, 3 waiting for a person (a paused
target, a wave to approve, a paused campaign), 130 Ctrl-C.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

import click
from pydantic import ValidationError

from rds_maint import config, stepfunctions, wiring
from rds_maint.campaign import planner
from rds_maint.campaign.local import DriveOutcome, drive_campaign
from rds_maint.campaign_model import (
    DEFAULT_BUDGET_RPS,
    FINAL_CAMPAIGN_STATES,
    Campaign,
    CampaignRequest,
    CampaignState,
    FailureTolerance,
    check_campaign_id,
)
from rds_maint.cli import campaign_control, campaign_plan_view, common, execution, request_flags
from rds_maint.cli.campaign_view import CampaignView
from rds_maint.cli.driving import EXIT_INTERRUPTED
from rds_maint.cli.plan_view import stdin_is_terminal
from rds_maint.clock import Clock
from rds_maint.engine import Engine
from rds_maint.errors import BadInput, CampaignNotFound
from rds_maint.intervention import region_of_arn
from rds_maint.model import OperationType

__all__ = ["campaign", "campaign_request"]

_TYPES = [t.value for t in OperationType]
# While planning on a terminal, a progress line on stderr every this many targets, or this often (engine clock).
PROGRESS_EVERY_TARGETS = 10
PROGRESS_EVERY_SECONDS = 15.0
# Flags whose field a validation error names, as a person typed them.
_FLAG_OF_FIELD = {
    "type": "--type",
    "max_concurrency": "--max-concurrency",
    "canary": "--canary",
    "wave_size": "--wave-size",
    "budget_rps": "--budget",
    "wait_timeout": "--wait-timeout",
    "target_ids": "--cluster/--instance",
    "tag": "--tag",
}
# The flags that describe a new campaign (parameter name: flag): none may come with `run CAMPAIGN_ID`.
_NEW_CAMPAIGN_FLAGS = {
    "op_type": "--type",
    "clusters": "--cluster",
    "instances": "--instance",
    "tag": "--tag",
    "params": "--param",
    "overrides": "--override",
    "max_concurrency": "--max-concurrency",
    "wave_size": "--wave-size",
    "approve_waves": "--approve-waves",
    "skip_refused": "--skip-refused",
    "pause_before": "--pause-before",
    "wait_timeout": "--wait-timeout",
    "campaign_id": "--id",
}


@click.group()
def campaign() -> None:
    """Run one operation type over many clusters or DB instances, a few at a time."""


def campaign_flags(fn: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(
        [
            click.option("--type", "op_type", metavar="TYPE", help=f"Operation type: {', '.join(_TYPES)}."),
            click.option("--cluster", "clusters", multiple=True, metavar="ID", help="A target cluster (repeat)."),
            click.option("--instance", "instances", multiple=True, metavar="ID", help="A target DB instance (repeat)."),
            click.option("--tag", metavar="KEY=VALUE", help="Every cluster with this tag, in identifier order."),
            click.option(
                "--param",
                "params",
                multiple=True,
                metavar="KEY=VALUE",
                help="An operation parameter of every target, read as `rds-maint run` reads it (repeat).",
            ),
            click.option(
                "--override",
                "overrides",
                multiple=True,
                metavar="TARGET:KEY=VALUE",
                help="A parameter of one target only, replacing the campaign's (repeat).",
            ),
            click.option("--max-concurrency", type=int, help="Targets running at once (required for a new campaign)."),
            click.option(
                "--failure-tolerance",
                default="0",
                show_default=True,
                metavar="N|P%",
                help="Failures tolerated (a count or a percent of the targets); past it no new target starts.",
            ),
            click.option("--canary", type=int, default=1, show_default=True, help="Targets of the first wave, alone."),
            click.option("--wave-size", type=int, help="Targets per wave after the canary (default: all the rest)."),
            click.option("--approve-waves", is_flag=True, help="Each wave after the canary waits for a person."),
            click.option(
                "--budget",
                "budget_rps",
                type=float,
                default=DEFAULT_BUDGET_RPS,
                show_default=True,
                metavar="REQ_PER_S",
                help="RDS requests per second the whole campaign may send (RDS allows ~12, shared).",
            ),
            click.option("--skip-refused", is_flag=True, help="Run the targets that pass preflight, skip the others."),
            click.option(
                "--pause-before",
                multiple=True,
                metavar="STEP",
                help="Every target's operation pauses before this step, as with `rds-maint run` (repeat).",
            ),
            click.option("--wait-timeout", type=int, help="Seconds a wait may last before it pauses (default 2700)."),
            click.option(
                "--id", "campaign_id", metavar="CAMPAIGN_ID", help="The campaign's id (default: c-<time>-<random>)."
            ),
        ]
    ):
        fn = option(fn)
    return fn


def _targets(clusters: tuple[str, ...], instances: tuple[str, ...], tag: str | None) -> dict[str, Any]:
    given = [name for name, value in (("--cluster", clusters), ("--instance", instances), ("--tag", tag)) if value]
    if not given:
        raise BadInput("name the targets: --cluster ID (repeat), --instance ID (repeat) or --tag KEY=VALUE")
    if len(given) > 1:
        raise BadInput(f"name the targets one way, not with {' and '.join(given)}")
    if clusters:
        return {"kind": "cluster", "target_ids": list(clusters)}
    if instances:
        return {"kind": "instance", "target_ids": list(instances)}
    key, _, value = (tag or "").partition("=")
    if not key.strip() or "=" not in (tag or ""):
        raise BadInput(f"--tag '{tag}' must look like KEY=VALUE")
    return {"kind": "cluster", "tag": (key.strip(), value)}


def _params(flags: tuple[str, ...], what: str) -> dict[str, Any]:
    given: dict[str, Any] = {}
    for text in flags:
        key, value = request_flags.parse_param(text)
        if key in given:
            raise BadInput(f"{what} {key} is given twice; give it once")
        given[key] = value
    return given


def _overrides(flags: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    by_target: dict[str, list[str]] = {}
    for text in flags:
        target, sep, param = text.partition(":")
        if not sep or not target.strip() or "=" not in param:
            raise BadInput(f"--override '{text}' must look like TARGET:KEY=VALUE")
        by_target.setdefault(target.strip(), []).append(param)
    return {target: _params(tuple(params), f"--override {target}:") for target, params in by_target.items()}


def campaign_request(kw: dict[str, Any]) -> CampaignRequest:
    """The request from the flags: refused with a precise message (BadInput) before anything is read."""
    if not kw["op_type"]:
        raise BadInput(f"--type is required (one of {', '.join(_TYPES)})")
    fields: dict[str, Any] = {"type": kw["op_type"], **_targets(kw["clusters"], kw["instances"], kw["tag"])}
    region = common.opts().settings().region
    if not region:
        raise BadInput("--region is required (or AWS_REGION, or a profile's region)")
    if kw["max_concurrency"] is None:
        raise BadInput("--max-concurrency is required: how many targets may run at once")
    try:
        tolerance = FailureTolerance.parse(kw["failure_tolerance"])
    except ValueError as exc:
        raise BadInput(f"--failure-tolerance: {exc}") from None
    fields.update(
        region=region,
        params=_params(kw["params"], "--param"),
        overrides=_overrides(kw["overrides"]),
        pause_before_steps=list(kw["pause_before"]),
        wait_timeout=kw["wait_timeout"],
        max_concurrency=kw["max_concurrency"],
        failure_tolerance=tolerance,
        canary=kw["canary"],
        wave_size=kw["wave_size"],
        approve_waves=kw["approve_waves"],
        budget_rps=kw["budget_rps"],
        skip_refused=kw["skip_refused"],
    )
    try:
        return CampaignRequest(**fields)
    except ValidationError as exc:
        raise BadInput(_validation_text(exc)) from None


def _validation_text(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        where = ".".join(str(p) for p in error["loc"])
        flag = _FLAG_OF_FIELD.get(where.split(".")[0], where)
        message = str(error["msg"]).removeprefix("Value error, ")
        parts.append(f"{flag}: {message}" if flag else message)
    return "; ".join(parts)


def stderr_is_terminal() -> bool:
    return sys.stderr.isatty()


class _PlanningProgress:
    """A line on stderr now and then while planning (paced by the request budget, planning 200 targets takes
    minutes): a person at a terminal sees it move; stdout (the plan, its JSON) stays the plan alone."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.told_at = clock.now()

    def __call__(self, planned: int, total: int) -> None:
        now = self.clock.now()
        if planned == total:  # the plan itself comes next
            return
        if planned % PROGRESS_EVERY_TARGETS and (now - self.told_at).total_seconds() < PROGRESS_EVERY_SECONDS:
            return
        self.told_at = now
        click.echo(f"planned {planned} of {total} targets...", err=True)


def _plan(engine: Engine, kw: dict[str, Any]) -> planner.CampaignPlan:
    request = campaign_request(kw)
    campaign_id = kw["campaign_id"] or planner.new_campaign_id(engine.clock.now())
    check_campaign_id(campaign_id)
    progress = _PlanningProgress(engine.clock) if stderr_is_terminal() else None
    return planner.plan_campaign(engine, request, campaign_id, progress)


@campaign.command(
    "plan",
    epilog="\b\nExample:\n"
    "  rds-maint campaign plan --type instance_type_change --cluster orders-1 --cluster orders-2 \\\n"
    "      --region us-east-1 --param target_instance_type=db.r6g.2xlarge --max-concurrency 2",
)
@common.common_options
@campaign_flags
def plan(**kw: Any) -> None:
    """Show each target's plan and the campaign's expected duration. Changes nothing."""

    def body() -> int:
        found = _plan(common.engine(), kw)
        if common.opts().output == "json":
            click.echo(json.dumps(campaign_plan_view.plan_document(found), indent=2))
            return common.EXIT_OK
        click.echo(campaign_plan_view.plan_text(found))
        click.echo("Nothing was changed.")
        return common.EXIT_OK

    common.guard(body)


@campaign.command(
    "run",
    epilog="\b\nExamples:\n"
    "  rds-maint campaign run --type instance_cycle --tag env=staging --region us-east-1 \\\n"
    "      --max-concurrency 5 --failure-tolerance 10% --wave-size 10 --approve-waves\n"
    "  rds-maint campaign run CAMPAIGN_ID      # carry on after a pause, a crash or Ctrl-C",
)
@common.common_options
@campaign_flags
@click.option("--yes", "-y", is_flag=True, help="Start without asking (needed off a terminal).")
@click.argument("existing", metavar="[CAMPAIGN_ID]", required=False)
def run(existing: str | None, yes: bool, **kw: Any) -> None:
    """Plan, confirm, store and drive a new campaign (or carry on CAMPAIGN_ID) to its end or a person."""

    def body() -> int:
        if existing is not None:
            _refuse_new_flags(kw)
            engine = common.engine()
            stored = _stored(engine, existing)
            if stored.state not in FINAL_CAMPAIGN_STATES:
                engine.rds(stored.request.region).check_credentials()  # a missing login fails before any step
            return _drive(engine, existing)
        engine = common.engine()
        record = create_confirmed(engine, kw, yes, "campaign run")
        if record is None:
            return common.EXIT_FAILED
        return _drive(engine, record.id)

    common.guard(body)


@campaign.command(
    "start-execution",
    epilog="\b\nExamples:\n"
    "  rds-maint campaign start-execution --type instance_cycle --tag env=staging --region us-east-1 \\\n"
    "      --max-concurrency 5 --state-machine-arn ARN     # plans, asks, stores, starts\n"
    "  rds-maint campaign start-execution CAMPAIGN_ID --state-machine-arn ARN",
)
@common.common_options
@campaign_flags
@click.option("--yes", "-y", is_flag=True, help="Start without asking (needed off a terminal).")
@click.option(
    "--state-machine-arn",
    default=config.campaign_state_machine_arn,
    help="The deployed campaign machine (CampaignStateMachineArn output); or RDS_MAINT_CAMPAIGN_STATE_MACHINE_ARN.",
)
@click.argument("existing", metavar="[CAMPAIGN_ID]", required=False)
def start_execution(existing: str | None, yes: bool, state_machine_arn: str | None, **kw: Any) -> None:
    """Hand a campaign to the campaign state machine: a new one (same flags as `campaign run`, planned and
    confirmed here, its record stored in this store) or CAMPAIGN_ID. The machine must use the same store."""

    def body() -> int:
        machine = stepfunctions.check_state_machine_arn(state_machine_arn)
        engine = common.engine()
        if existing is not None:
            _refuse_new_flags(kw)
            stored = _stored(engine, existing)
            if stored.state in FINAL_CAMPAIGN_STATES:
                raise BadInput(f"campaign '{existing}' has ended ({stored.state.value}); there is nothing to drive")
            _refuse_for_machine(stored)
            campaign_id = stored.id
        else:
            record = create_confirmed(engine, kw, yes, "campaign start-execution", check=_refuse_for_machine)
            if record is None:
                return common.EXIT_FAILED
            campaign_id = record.id
        client = stepfunctions.make_client(region_of_arn(machine), common.opts().settings().profile)
        report = stepfunctions.start_campaign(client, machine, campaign_id)
        return execution.print_report(
            report, follow=f"Follow it with: rds-maint campaign status {campaign_id}{common.store_flag()}"
        )

    common.guard(body)


def _refuse_new_flags(kw: dict[str, Any]) -> None:
    given = [flag for name, flag in _NEW_CAMPAIGN_FLAGS.items() if kw[name]]
    if given:
        raise BadInput(
            f"give either a CAMPAIGN_ID or the flags of a new campaign ({', '.join(given)}), not both: "
            "a campaign keeps the flags it was started with"
        )


def _stored(engine: Engine, campaign_id: str) -> Campaign:
    check_campaign_id(campaign_id)
    try:
        return engine.store.load_campaign(campaign_id)
    except CampaignNotFound:
        raise BadInput(f"campaign '{campaign_id}' not found in this store") from None


def _refuse_for_machine(campaign: Campaign) -> None:
    """What the campaign state machine cannot run is refused before anything is stored or started."""
    from rds_maint.campaign.machine_steps import wave_too_large

    refusal = wave_too_large(campaign)
    if refusal is not None:
        raise BadInput(refusal)


def create_confirmed(
    engine: Engine,
    kw: dict[str, Any],
    yes: bool,
    command: str,
    *,
    check: Callable[[Campaign], None] | None = None,
) -> Campaign | None:
    """Plan a new campaign from the flags, show it, confirm it (or --yes), and store its record; None when
    the person declined. Refused (BadInput, nothing written) off a terminal without --yes, for an id taken
    already, for targets that fail preflight unless --skip-refused, and by `check` (what the driver cannot
    run), before the person is asked."""
    if not yes and not stdin_is_terminal():
        raise BadInput(f"{command} starts operations and no one is at a terminal to confirm it: pass --yes")
    if kw["campaign_id"]:
        _refuse_existing(engine, check_campaign_id(kw["campaign_id"]))  # before planning every target
    found = _plan(engine, kw)
    json_mode = common.opts().output == "json"
    if not (json_mode and yes):
        click.echo(campaign_plan_view.plan_text(found), err=json_mode)
    record = planner.campaign_of(found, engine.clock.now())  # refuses failing targets unless --skip-refused
    if check is not None:
        check(record)
    if not yes and not click.confirm(f"Start campaign {found.campaign_id}?", default=False, err=json_mode):
        click.echo("Not started; nothing was changed.", err=json_mode)
        return None
    _refuse_existing(engine, record.id)
    return engine.store.create_campaign(record)


def _refuse_existing(engine: Engine, campaign_id: str) -> None:
    try:
        engine.store.load_campaign(campaign_id)
    except CampaignNotFound:
        return
    raise BadInput(f"campaign '{campaign_id}' already exists; carry it on with: rds-maint campaign run {campaign_id}")


def _drive(engine: Engine, campaign_id: str) -> int:
    view = CampaignView(engine.clock.now, json_output=common.opts().output == "json", store_flag=common.store_flag())
    try:
        outcome = drive_campaign(
            engine,
            campaign_id,
            view.sleeper(engine.clock.sleep),
            view,
            requests=lambda: wiring.aws_requests(engine),
        )
    except KeyboardInterrupt:
        view.interrupted(engine.store.load_campaign(campaign_id))
        return EXIT_INTERRUPTED
    view.finish(outcome)
    return _exit_code(outcome)


def _exit_code(outcome: DriveOutcome) -> int:
    state = outcome.campaign.state
    if state is CampaignState.COMPLETED:
        return common.EXIT_OK
    if state in (CampaignState.FAILED, CampaignState.ABORTED):
        return common.EXIT_FAILED
    return common.EXIT_PAUSED  # a paused target, a wave to approve, a paused campaign: a person is next


for command in campaign_control.COMMANDS:
    campaign.add_command(command)
