"""`rds-maint campaign status|list|pause|resume|abort`: read and steer a campaign from its record.

`status` and `list` change nothing. `status` shows each target's operation as the store has it now (the
record can lag its driver); `list` reads only the campaign records. `pause`, `resume` and `abort` are
`rds_maint.campaign.control`'s (the campaign state machine's Lambda steers with the same functions); this
module only adds what a terminal needs: who is asking, the confirmation of an abort, the answers sent to a
Step Functions execution, and the commands a person runs next.

Exit codes: 2 for an unknown campaign, a final one, or a change the schedule refuses (nothing written);
asking for the state a campaign is already in says so and exits 0, as `rds-maint pause` of a paused
operation does. `status` exits 3 while the campaign waits for a person (paused, a wave to approve), 1 once
it failed or was aborted, else 0, as `rds-maint status` of an operation does.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from rds_maint import stepfunctions
from rds_maint.campaign import control as steer
from rds_maint.campaign.control import ControlOutcome, TargetNote, TargetView, live_targets
from rds_maint.campaign.schedule import in_flight
from rds_maint.campaign_model import (
    FINAL_CAMPAIGN_STATES,
    FINAL_TARGET_STATES,
    Campaign,
    CampaignState,
    FailureTolerance,
    RequestRate,
    TargetState,
)
from rds_maint.cli import common
from rds_maint.cli.control import actor
from rds_maint.cli.times import utc
from rds_maint.engine import Engine
from rds_maint.errors import AnswerRefused, BadInput
from rds_maint.intervention import Answer
from rds_maint.model import Operation, OperationState, ResumeAction
from rds_maint.store.base import find_operation

__all__ = ["COMMANDS", "campaign_document", "needs_of", "rate_now"]

_COMMENT = click.option("--comment", help="Why; kept in the campaign's history with who asked.")


def _flagged(command: str) -> str:
    """A printed command with the flags that reach the same store (and rehearsal account)."""
    return command + common.store_flag()


# -- status ---------------------------------------------------------------------------------------


def needs_of(campaign: Campaign, views: list[TargetView]) -> list[dict[str, str]]:
    """What the campaign needs from a person now, each with the command that gives it."""
    needs: list[dict[str, str]] = []
    cid = campaign.id
    if campaign.state is CampaignState.AWAITING_APPROVAL:
        needs.append(
            {
                "what": f"approve wave {campaign.current_wave}",
                "command": f"rds-maint campaign resume {cid}",
            }
        )
    elif campaign.state is CampaignState.PAUSED:
        needs.append({"what": "resume the paused campaign", "command": f"rds-maint campaign resume {cid}"})
    elif campaign.state is CampaignState.HALTED:
        if _canary_failed(campaign):
            needs.append(
                {
                    "what": "the canary failed: no tolerance lets the campaign go on; abort it",
                    "command": f"rds-maint campaign abort {cid}",
                }
            )
        else:
            needs.append(
                {
                    "what": f"{campaign.failures} targets failed, past the failure tolerance; to go on, raise it",
                    "command": f"rds-maint campaign resume {cid} --failure-tolerance {campaign.failures}",
                }
            )
    for view in views:
        op = view.operation
        if op is None or op.state is not OperationState.PAUSED:
            continue
        if _carried_on_by_resume(campaign, op):
            continue
        commands = steer.answer_commands(op)
        needs.append(
            {
                "what": f"answer {op.id} ({view.target.target_id}): {op.pause_reason}",
                "command": commands[0] if commands else f"rds-maint status {op.id}",
            }
        )
    return needs


def _carried_on_by_resume(campaign: Campaign, op: Operation) -> bool:
    """The campaign's pause paused it and `campaign resume` (as it stands) would carry it on. A campaign that
    halted or is aborting since takes no plain resume: its paused targets are answered one by one."""
    resumable = (CampaignState.PAUSED, CampaignState.AWAITING_APPROVAL, CampaignState.RUNNING)
    return campaign.state in resumable and steer.paused_by_campaign(op, campaign.id)


def _canary_failed(campaign: Campaign) -> bool:
    """As the schedule judges it: a failure in wave 0 of a campaign with a canary and later waves."""
    return (
        campaign.request.canary > 0
        and campaign.waves > 1
        and any(t.wave == 0 and t.state in (TargetState.FAILED, TargetState.ROLLED_BACK) for t in campaign.targets)
    )


def _step_of(view: TargetView) -> dict[str, Any]:
    summary = view.summary
    if summary is None or summary.step_name is None or summary.state.is_final:
        return {"step": None, "step_number": None, "step_count": summary.step_count if summary else None}
    return {"step": summary.step_name, "step_number": summary.step_index + 1, "step_count": summary.step_count}


def rate_now(engine: Engine, campaign: Campaign, views: list[TargetView]) -> RequestRate:
    """The rate the campaign has used so far. A campaign on Step Functions adds a target's requests to its
    record when the target ends, so the targets still running are read and added here (one read each, at
    most `max_concurrency`); a local driver keeps the record's rate itself, saved every minute."""
    if campaign.execution_arn is None or campaign.state in FINAL_CAMPAIGN_STATES:
        return campaign.rate
    loaded = {v.target.operation_id: v.operation for v in views if v.operation is not None}
    tallies = []
    for target in in_flight(campaign):
        op = loaded.get(target.operation_id) or find_operation(engine.store, target.operation_id)
        if op is not None and op.requests is not None:
            tallies.append(op.requests)
    return campaign.rate.with_running(tallies, engine.clock.now())


def campaign_document(campaign: Campaign, views: list[TargetView], rate: RequestRate | None = None) -> dict[str, Any]:
    """`campaign status --output json`: the same facts as the text (scripts read these keys: keep each).
    `rate`: the rate used so far (`rate_now`), else the record's."""
    request = campaign.request
    targets = []
    for view in views:
        t, op = view.target, view.operation
        targets.append(
            {
                "index": t.index,
                "target_id": t.target_id,
                "wave": t.wave,
                "operation_id": t.operation_id,
                "state": t.state.value,
                "operation_state": view.live_state,
                "recorded_operation_state": t.operation_state,
                **_step_of(view),
                "reason": t.reason,
                "pause_reason": op.pause_reason if op is not None else None,
                "paused_by_campaign": op is not None and steer.paused_by_campaign(op, campaign.id),
                "answer_commands": steer.answer_commands(op) if op is not None else [],
                "started_at": t.started_at.isoformat() if t.started_at else None,
                "ended_at": t.ended_at.isoformat() if t.ended_at else None,
            }
        )
    return {
        "campaign_id": campaign.id,
        "state": campaign.state.value,
        "type": request.type.value,
        "kind": request.kind,
        "region": request.region,
        "created_at": campaign.created_at.isoformat(),
        "updated_at": campaign.updated_at.isoformat(),
        "ended_at": campaign.ended_at.isoformat() if campaign.ended_at else None,
        "execution_arn": campaign.execution_arn,
        "request": {
            "params": request.params,
            "overrides": request.overrides,
            "max_concurrency": request.max_concurrency,
            "failure_tolerance": str(request.failure_tolerance),
            "failures_allowed": request.failure_tolerance.allowed(len(campaign.targets)),
            "canary": request.canary,
            "wave_size": request.wave_size,
            "approve_waves": request.approve_waves,
            "budget_rps": request.budget_rps,
            "pause_before_steps": request.pause_before_steps,
        },
        "failures": campaign.failures,
        "waves": {
            "current": campaign.current_wave,
            "count": campaign.waves,
            "approved": campaign.approved_wave,
            "approval_needed": campaign.state is CampaignState.AWAITING_APPROVAL,
        },
        "counts": campaign.counts(),
        "rate": (rate or campaign.rate).figures(request.budget_rps),
        "targets": targets,
        "needs": needs_of(campaign, views),
    }


def _show_status(campaign: Campaign, views: list[TargetView], rate: RequestRate) -> None:
    request = campaign.request
    kind = "clusters" if request.kind == "cluster" else "DB instances"
    click.echo(
        f"Campaign {campaign.id}: {request.type.value} on {len(campaign.targets)} {kind} ({request.region}), "
        f"{campaign.state.value}"
    )
    click.echo(f"  created:     {utc(campaign.created_at)}; last saved {utc(campaign.updated_at)}")
    if campaign.ended_at is not None:
        click.echo(f"  ended:       {utc(campaign.ended_at)}")
    params = ", ".join(f"{k}={v}" for k, v in request.params.items()) or "-"
    click.echo(f"  params:      {params}")
    for target_id, override in request.overrides.items():
        click.echo(f"    {target_id}: " + ", ".join(f"{k}={v}" for k, v in override.items()))
    allowed = request.failure_tolerance.allowed(len(campaign.targets))
    click.echo(
        f"  concurrency: {request.max_concurrency}; failure tolerance {request.failure_tolerance} "
        f"(allows {allowed} of {len(campaign.targets)}; {campaign.failures} failed so far)"
    )
    approval = "; a person approves each wave" if request.approve_waves else ""
    canary = f"; canary: {request.canary} in wave 0" if request.canary and campaign.waves > 1 else ""
    click.echo(f"  waves:       wave {campaign.current_wave} of 0-{campaign.waves - 1}{canary}{approval}")
    if campaign.state is CampaignState.AWAITING_APPROVAL:
        click.echo(f"               wave {campaign.current_wave} waits for approval")
    click.echo(
        f"  requests:    {rate.requests} to RDS in {rate.seconds:.0f} s: mean {rate.mean_rps:.2f} req/s, "
        f"peak {rate.peak_rps:.2f} req/s over {rate.window_seconds:.0f} s (budget {request.budget_rps:g} req/s)"
    )
    if campaign.execution_arn:
        click.echo(f"  execution:   {campaign.execution_arn}")
    counts = ", ".join(f"{n} {state}" for state, n in campaign.counts().items() if n)
    click.echo(f"  targets:     {counts}")
    _target_table(views)
    for view in views:
        _show_target_detail(campaign, view)
    needs = needs_of(campaign, views)
    if needs:
        click.echo("\nNeeds a person:")
        for need in needs:
            click.echo(f"  {need['what']}: {_flagged(need['command'])}")
    elif campaign.execution_arn is None and campaign.state in _DRIVEN:
        click.echo(f"\nCarried on in a terminal by: {_flagged(f'rds-maint campaign run {campaign.id}')}")


_DRIVEN = (CampaignState.RUNNING, CampaignState.ABORTING, CampaignState.HALTED)
_COLUMNS = ("#", "TARGET", "WAVE", "OPERATION", "STATE", "OPERATION STATE", "STEP")


def _target_table(views: list[TargetView]) -> None:
    rows = []
    for view in views:
        t = view.target
        step = _step_of(view)
        rows.append(
            (
                str(t.index + 1),
                t.target_id,
                str(t.wave),
                t.operation_id if t.state is not TargetState.REFUSED else "-",
                t.state.value,
                view.live_state or "-",
                f"{step['step_number']}/{step['step_count']} {step['step']}" if step["step"] else "-",
            )
        )
    widths = [max(len(title), *(len(r[i]) for r in rows)) for i, title in enumerate(_COLUMNS)]
    click.echo("")
    for cells in [_COLUMNS, *rows]:
        click.echo("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip())


def _show_target_detail(campaign: Campaign, view: TargetView) -> None:
    """Beneath the table: why a target ended badly or was refused, and what a paused one needs."""
    t, op = view.target, view.operation
    if op is not None and op.state is OperationState.PAUSED:
        if _carried_on_by_resume(campaign, op):
            click.echo(f"\n{t.target_id} ({op.id}) paused by the campaign's pause; the campaign's resume carries it on")
            continue_with = f"rds-maint campaign resume {campaign.id}"
            click.echo(f"  {_flagged(continue_with)}")
            return
        click.echo(f"\n{t.target_id} ({op.id}) PAUSED: {op.pause_reason}")
        for command in steer.answer_commands(op):
            click.echo(f"  {_flagged(command)}")
        return
    if t.reason and t.state in FINAL_TARGET_STATES and t.state is not TargetState.COMPLETED:
        click.echo(f"\n{t.target_id} {t.state.value}: {t.reason}")


def _exit_of(campaign: Campaign) -> int:
    if campaign.state in (CampaignState.PAUSED, CampaignState.AWAITING_APPROVAL):
        return common.EXIT_PAUSED
    if campaign.state in (CampaignState.FAILED, CampaignState.ABORTED):
        return common.EXIT_FAILED
    return common.EXIT_OK


@click.command(name="status")
@common.common_options
@click.argument("campaign_id")
def status(campaign_id: str) -> None:
    """Show a campaign: its state and waves, its request, the rate it used, each target's operation now,
    and what it needs from a person. Changes nothing.

    \b
    Examples:
      rds-maint campaign status c-20261202-021400-a1b2
      rds-maint campaign status c-20261202-021400-a1b2 --output json
    """

    def body() -> int:
        engine = common.engine()
        campaign = engine.store.load_campaign(campaign_id)
        views = live_targets(engine, campaign)
        rate = rate_now(engine, campaign, views)
        if common.opts().output == "json":
            click.echo(json.dumps(campaign_document(campaign, views, rate), indent=2))
        else:
            _show_status(campaign, views, rate)
        return _exit_of(campaign)

    common.guard(body)


# -- list -----------------------------------------------------------------------------------------


def _counts_text(campaign: Campaign) -> str:
    counts = campaign.counts()
    return "/".join(str(counts[s.value]) for s in _LIST_COUNTS)


_LIST_COUNTS = (TargetState.COMPLETED, TargetState.FAILED, TargetState.RUNNING, TargetState.PENDING)


@click.command(name="list")
@common.common_options
@click.option("--state", help="Only campaigns in this state.")
def list_campaigns(state: str | None) -> None:
    """List the store's campaigns, oldest first: id, created, type, targets, state, and how many targets
    completed / failed / running / pending.

    \b
    Examples:
      rds-maint campaign list
      rds-maint campaign list --state paused --output json
    """

    def body() -> int:
        if state is not None and state not in {s.value for s in CampaignState}:
            allowed = ", ".join(s.value for s in CampaignState)
            raise BadInput(f"--state {state!r} is not a campaign state (expected one of: {allowed})")
        engine = common.engine()
        found = [c for c in engine.store.campaigns() if state is None or c.state.value == state]
        if common.opts().output == "json":
            rows = [
                {
                    "id": c.id,
                    "created_at": c.created_at.isoformat(),
                    "type": c.request.type.value,
                    "kind": c.request.kind,
                    "region": c.request.region,
                    "targets": len(c.targets),
                    "state": c.state.value,
                    "counts": c.counts(),
                }
                for c in found
            ]
            click.echo(json.dumps(rows, indent=2))
            return common.EXIT_OK
        if not found:
            click.echo("No campaigns.")
            return common.EXIT_OK
        titles = ("ID", "CREATED", "TYPE", "TARGETS", "STATE", "DONE/FAILED/RUNNING/PENDING")
        rows_text = [
            (c.id, utc(c.created_at), c.request.type.value, str(len(c.targets)), c.state.value, _counts_text(c))
            for c in found
        ]
        widths = [max(len(t), *(len(r[i]) for r in rows_text)) for i, t in enumerate(titles)]
        for cells in [titles, *rows_text]:
            click.echo("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip())
        return common.EXIT_OK

    common.guard(body)


# -- pause, resume, abort -------------------------------------------------------------------------


def _show_outcome(outcome: ControlOutcome, verb: str) -> None:
    """The campaign's change, then each target's part, with the commands a person may want next."""
    campaign = outcome.campaign
    if common.opts().output == "json":
        click.echo(
            json.dumps(
                {
                    "campaign_id": campaign.id,
                    "action": verb,
                    "changed": outcome.event is not None,
                    "state": campaign.state.value,
                    "message": outcome.message,
                    "targets": [_note_document(n) for n in outcome.notes],
                },
                indent=2,
            )
        )
        return
    click.echo(outcome.message)
    for note in outcome.notes:
        click.echo(f"  {note.target_id} ({note.operation_id}): {note.message}")
        for command in note.commands:
            click.echo(f"      {_flagged(command)}")


def _note_document(note: TargetNote) -> dict[str, Any]:
    return {
        "target_id": note.target_id,
        "operation_id": note.operation_id,
        "changed": note.done,
        "message": note.message,
        "commands": [_flagged(c) for c in note.commands],
    }


@click.command(name="pause")
@common.common_options
@click.argument("campaign_id")
@_COMMENT
def pause(campaign_id: str, comment: str | None) -> None:
    """Start no new target, and ask every target under way to pause before its next step.

    A step under way finishes first; each paused target is carried on by `rds-maint campaign resume`.
    Pausing a paused campaign says so and asks its targets again.

    \b
    Example:
      rds-maint campaign pause c-20261202-021400-a1b2 --comment "app team sees errors"
    """

    def body() -> int:
        engine = common.engine()
        outcome = steer.pause_campaign(engine, campaign_id, actor=actor(), comment=comment)
        _show_outcome(outcome, "pause")
        if common.opts().output == "text":
            click.echo(f"Resume it with: {_flagged(f'rds-maint campaign resume {campaign_id}')}")
        return common.EXIT_OK

    common.guard(body)


def _send_continue(op: Operation) -> bool:
    """`continue` through the Step Functions execution that waits on `op`'s pause; False when refused."""
    pending = op.intervention
    if pending is None:
        return False
    settings = common.opts().settings()
    region = stepfunctions.answer_region(pending, settings.region or op.region)
    client = stepfunctions.make_client(region, settings.profile)
    answer = Answer(ResumeAction.CONTINUE, f"campaign {op.campaign_id} resumed", actor(), False)
    try:
        stepfunctions.send_answer(client, pending, answer, op.id)
    except AnswerRefused as exc:
        click.echo(f"{op.id}: {exc}", err=True)
        return False
    return True


@click.command(name="resume")
@common.common_options
@click.argument("campaign_id")
@click.option(
    "--failure-tolerance",
    "tolerance_text",
    metavar="N|P%",
    help="A new failure tolerance (a count, or a percent of the targets): lets a halted campaign go on.",
)
@_COMMENT
def resume(campaign_id: str, tolerance_text: str | None, comment: str | None) -> None:
    """Start targets again: the next wave when it waits for approval, after a pause, or after a halt with a
    raised --failure-tolerance. Targets the campaign's pause paused carry on; targets paused for their own
    reasons (an error, a step that needs a person) are listed with the answer each needs.

    It drives nothing itself: carry the campaign on with `rds-maint campaign run`, or its Step Functions
    execution picks it up.

    \b
    Examples:
      rds-maint campaign resume c-20261202-021400-a1b2 --comment "wave 1 looks fine"
      rds-maint campaign resume c-20261202-021400-a1b2 --failure-tolerance 10%
    """

    def body() -> int:
        tolerance = None
        if tolerance_text is not None:
            try:
                tolerance = FailureTolerance.parse(tolerance_text)
            except ValueError as exc:
                raise BadInput(str(exc)) from None
        engine = common.engine()
        outcome = steer.resume_campaign(
            engine,
            campaign_id,
            actor=actor(),
            comment=comment,
            tolerance=tolerance,
            answer_through_execution=None if common.simulate_dir() else _send_continue,
        )
        _show_outcome(outcome, "resume")
        if common.opts().output == "text" and outcome.campaign.state is CampaignState.RUNNING:
            if outcome.campaign.execution_arn:
                click.echo(f"Its Step Functions execution carries it on: {outcome.campaign.execution_arn}")
            else:
                click.echo(f"Carry it on with: {_flagged(f'rds-maint campaign run {campaign_id}')}")
        return common.EXIT_OK

    common.guard(body)


@click.command(name="abort")
@common.common_options
@click.argument("campaign_id")
@_COMMENT
@click.option("--yes", "-y", is_flag=True, help="Abort without asking (needed off a terminal).")
def abort(campaign_id: str, comment: str | None, yes: bool) -> None:
    """Start no more targets: every target not started is skipped. Targets under way go on to their own
    end; each is listed with the commands that stop it alone.

    \b
    Example:
      rds-maint campaign abort c-20261202-021400-a1b2 --comment "wrong version" --yes
    """

    def body() -> int:
        engine = common.engine()
        # an unknown or ended campaign is refused before anything is asked
        campaign = engine.store.load_campaign(campaign_id)
        steer.refuse_final(campaign, "abort")
        if not yes:
            if not sys.stdin.isatty():
                raise BadInput("campaign abort skips every target not started and no one is at a terminal: pass --yes")
            pending = sum(1 for t in campaign.targets if t.state is TargetState.PENDING)
            question = f"Abort campaign {campaign_id} ({pending} targets not started are skipped)?"
            if not click.confirm(question, default=False, err=common.opts().output == "json"):
                raise BadInput("abort not confirmed; nothing was changed")
        outcome = steer.abort_campaign(engine, campaign_id, actor=actor(), comment=comment)
        _show_outcome(outcome, "abort")
        return common.EXIT_OK

    common.guard(body)


COMMANDS: list[click.Command] = [status, list_campaigns, pause, resume, abort]
