"""The campaign state machine's Lambda steps (`sfn/rds-maint-campaign.asl.json`): decisions on the record.

The machine loops over waves: `campaign_targets` settles the record and hands the machine the current
wave's targets to map over (or says wait: a wave awaits a person's approval, the campaign is paused; or
done). Each Map iteration asks `campaign_gate` whether its target may start, starts the operation machine
for it (`startExecution.sync:2`, named by the operation id) and tells `campaign_target_ended` how that
went. `campaign_finish` settles the record once more and says how the campaign ended. The decisions are
`rds_maint.campaign.schedule`'s, so a campaign driven on AWS and one driven by `rds-maint campaign run`
come to the same record.

Why a Map per wave, not one Map over every target: Step Functions does not promise that a Map dispatches
its items in order (a Distributed Map reads them in batches). With every target in one Map, iterations of
a later wave could hold every slot, waiting for an earlier wave whose items cannot get a slot: a deadlock.
One Map per wave has only startable items, and no iteration waits for another wave.

Idempotent across retries and crashes (every step may run again, the record is saved conditionally):
- `campaign_gate` looks for the target's operation under its fixed id before it creates one, so a gate
  retried after it created the operation (and died before saving the record) finds it and starts it.
  Crash window: the operation is created, the record not yet saved; the retry finds the operation.
- A save that loses a race (`Conflict`) reloads the record and decides again from what it says now.
- `campaign_targets` records that it asked for a wave's approval in the same save as its answer, and a
  retry of the same look (same execution, same count of waits) answers `notify` again: a lost answer still
  gets the notice out, and a later look never sends it twice. The machine puts the event out itself
  (events:putEvents, with its retries), so the engine's role keeps publishing status events only.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from rds_maint.campaign.planner import operation_request
from rds_maint.campaign.schedule import in_flight, mark_started, observe, settle
from rds_maint.campaign_model import (
    FINAL_CAMPAIGN_STATES,
    FINAL_TARGET_STATES,
    Campaign,
    CampaignEvent,
    CampaignRequest,
    CampaignState,
    CampaignTarget,
    TargetState,
    check_campaign_id,
)
from rds_maint.engine import Engine
from rds_maint.errors import BadInput, Conflict
from rds_maint.log import get_logger
from rds_maint.model import Operation, OperationState
from rds_maint.store.base import find_operation

__all__ = [
    "APPROVAL_DETAIL_TYPE",
    "APPROVAL_NOTICE_EVENT",
    "INLINE_LIMIT",
    "approval_detail",
    "campaign_finish",
    "campaign_gate",
    "campaign_target_ended",
    "campaign_targets",
    "history_estimate",
    "look_floor",
    "wave_too_large",
]

log = get_logger("rds_maint.campaign.machine")

# An inline Map's items and its output (one small result per iteration) travel in the execution's
# 256 KiB payload, and every inline iteration's events count against the parent's 25,000-event history.
# An item here is about 200 bytes and an iteration about 20 events (gate, start, ended: 5 each, plus the
# iteration's own), so 40 targets are 8 KiB of items and 800 events per wave: far from both limits even
# with a few gate waits per target. Above it a wave goes to a Distributed Map, whose iterations are child
# executions with histories of their own (docs/campaign-state-machine.md).
INLINE_LIMIT = 40
# A wave's items travel in the state data too, for a Distributed Map as well (ItemsPath: no ItemReader), and
# Step Functions fails a state whose data passes 256 KiB (States.DataLimitExceeded; FIELD_NOTES, the service
# quotas). Items up to this many bytes leave room for the rest of the state and the Map's results (a
# target's state each, a few bytes).
WAVE_ITEMS_LIMIT_BYTES = 200 * 1024
APPROVAL_DETAIL_TYPE = "CampaignApprovalRequired"
APPROVAL_NOTICE_EVENT = "approval_notice_sent"
# Requests one look at a waiting step costs (a Describe of the target, of its instances: at most 2) and
# what a wait for a person or a slot costs: first 60 s, doubling up to 15 min (few history events a day).
LOOK_REQUESTS = 2
FIRST_WAIT_SECONDS = 60
LONGEST_WAIT_SECONDS = 900
SLOT_WAIT_SECONDS = 30
SAVE_ATTEMPTS = 8
# Step Functions keeps at most 25,000 events in one execution's history (FIELD_NOTES). What a campaign
# execution writes, measured in moto (docs/campaign-state-machine.md): about 36-44 events per target mapped
# inline (its gate, start and end, the iteration's own), about 12 per look of the wave loop (a wait for a
# person included). Past HISTORY_BUDGET the machine goes on in a fresh execution (`handoff`), leaving room
# for the retries of a bad hour.
TARGET_EVENTS = 45
LOOK_EVENTS = 12
HISTORY_BUDGET = 20_000

T = TypeVar("T")


def look_floor(request: CampaignRequest) -> int:
    """The seconds between looks at one target's waiting step so that `max_concurrency` targets looking at
    once stay within the campaign's RDS request budget (`budget_rps`)."""
    return max(1, math.ceil(request.max_concurrency * LOOK_REQUESTS / request.budget_rps))


def _wait_after(waited: Any) -> int:
    count = waited if isinstance(waited, int) and waited >= 0 else 0
    return int(min(FIRST_WAIT_SECONDS * 2 ** min(count, 10), LONGEST_WAIT_SECONDS))


def _update(engine: Engine, campaign_id: str, change: Callable[[Campaign, datetime], T]) -> tuple[Campaign, T]:
    """Load, change, save (only if something changed); a lost race reloads and decides again."""
    store = engine.store
    for _ in range(SAVE_ATTEMPTS):
        campaign = store.load_campaign(check_campaign_id(campaign_id))
        before = campaign.model_dump(mode="json")
        answer = change(campaign, engine.clock.now())
        if campaign.model_dump(mode="json") == before:
            return campaign, answer
        try:
            return store.save_campaign(campaign), answer
        except Conflict:
            log.info("campaign_save_raced", campaign_id=campaign_id)
    raise Conflict(f"campaign {campaign_id}: {SAVE_ATTEMPTS} saves in a row lost a race; try again")


def _item(campaign: Campaign, target: CampaignTarget) -> dict[str, Any]:
    return {
        "campaign_id": campaign.id,
        "operation_id": target.operation_id,
        "target_id": target.target_id,
        "wave": target.wave,
    }


def wave_too_large(campaign: Campaign) -> str | None:
    """Why the campaign machine cannot map one of the campaign's waves (its items would pass the state's
    payload limit), with what to do instead; None when every wave fits."""
    for wave in range(campaign.waves):
        items = [_item(campaign, t) for t in campaign.targets if t.wave == wave]
        size = len(json.dumps(items, separators=(",", ":")))
        if size > WAVE_ITEMS_LIMIT_BYTES:
            fits = max(1, len(items) * WAVE_ITEMS_LIMIT_BYTES // size)
            return (
                f"wave {wave} of campaign {campaign.id} has {len(items)} targets: {size // 1024} KiB of Map items, more"
                f" than the campaign state machine carries in its 256 KiB state ({WAVE_ITEMS_LIMIT_BYTES // 1024} KiB"
                f" for items); give --wave-size {fits} or less, or drive it in a terminal with rds-maint campaign run"
            )
    return None


def _tolerated_count(campaign: Campaign) -> int:
    """Failures the Map may still tolerate: what the request allows over all targets, less those seen."""
    allowed = campaign.request.failure_tolerance.allowed(len(campaign.targets))
    return max(0, allowed - campaign.failures)


def _approval_notice(campaign: Campaign) -> CampaignEvent | None:
    """The record that the machine was told to ask for approval of the current wave, if it was."""
    return next(
        (
            e
            for e in campaign.history
            if e.type == APPROVAL_NOTICE_EVENT and e.data.get("wave") == campaign.current_wave
        ),
        None,
    )


def approval_detail(campaign: Campaign) -> dict[str, Any]:
    """The detail of the `CampaignApprovalRequired` event: which campaign, which wave, and the command."""
    waiting = [t.target_id for t in campaign.targets if t.wave == campaign.current_wave]
    return {
        "campaign_id": campaign.id,
        "wave": campaign.current_wave,
        "waves": campaign.waves,
        "targets": waiting[:50],
        "counts": campaign.counts(),
        "command": f"rds-maint campaign resume {campaign.id}",
        "execution_arn": campaign.execution_arn,
    }


def _ask_approval(campaign: Campaign, now: datetime, execution_arn: str | None, look: Any) -> bool:
    """Whether this look puts the approval notice out: the first look that sees the wave waiting, and the
    same look again (a retried Lambda call whose first answer was lost must answer the same)."""
    noticed = _approval_notice(campaign)
    if noticed is None:
        campaign.history.append(
            CampaignEvent(
                type=APPROVAL_NOTICE_EVENT,
                message=f"Asked for approval of wave {campaign.current_wave}: rds-maint campaign resume {campaign.id}",
                timestamp=now,
                data={"wave": campaign.current_wave, "execution_arn": execution_arn, "look": look},
            )
        )
        campaign.updated_at = now
        return True
    return bool(noticed.data.get("execution_arn") == execution_arn and noticed.data.get("look") == look)


def history_estimate(looks: Any, mapped: Any) -> int:
    """The events this campaign execution's history holds about now: its looks and its inline targets."""
    count = [v if isinstance(v, int) and v >= 0 else 0 for v in (looks, mapped)]
    return count[0] * LOOK_EVENTS + count[1] * TARGET_EVENTS


def campaign_targets(
    engine: Engine,
    campaign_id: str,
    *,
    waited: Any = 0,
    execution_arn: str | None = None,
    looks: Any = 0,
    mapped: Any = 0,
) -> dict[str, Any]:
    """What the machine does next: `map` the items, `wait` seconds (then ask again), `handoff` (go on in a
    fresh execution before this one's history fills), or `done`. When a wave first waits for approval,
    `notify` is true and `approval` is the detail of the event the machine puts out
    (`CampaignApprovalRequired`): the machine publishes it, with its own retries. `looks` and `mapped` are
    what this execution has done so far (its calls here, the targets it mapped inline)."""
    used = history_estimate(looks, mapped)

    def decide(campaign: Campaign, now: datetime) -> dict[str, Any]:
        if execution_arn and campaign.execution_arn != execution_arn and campaign.state not in FINAL_CAMPAIGN_STATES:
            campaign.execution_arn = execution_arn  # the latest execution that drives it (hand-offs)
        settle(campaign, now)
        if campaign.state in FINAL_CAMPAIGN_STATES:
            return {"next": "done"}
        if used + LOOK_EVENTS > HISTORY_BUDGET:
            return {"next": "handoff"}
        if campaign.state is CampaignState.RUNNING:
            targets = [
                t for t in campaign.targets if t.wave == campaign.current_wave and t.state not in FINAL_TARGET_STATES
            ]
        else:  # paused, awaiting approval, halted, aborting: follow what runs, start nothing
            targets = in_flight(campaign)
        if not targets:
            answer: dict[str, Any] = {"next": "wait", "wait_seconds": _wait_after(waited), "notify": False}
            if campaign.state is CampaignState.AWAITING_APPROVAL and _ask_approval(
                campaign, now, execution_arn, waited
            ):
                answer.update(notify=True, approval=approval_detail(campaign))
            return answer
        items = [_item(campaign, t) for t in targets]
        distributed = len(items) > INLINE_LIMIT
        if not distributed and used + len(items) * TARGET_EVENTS > HISTORY_BUDGET:
            return {"next": "handoff"}  # this wave inline would pass the budget: a fresh execution maps it
        return {
            "next": "map",
            "items": items,
            "count": len(items) if not distributed else 0,  # what the wave adds to this history, in targets
            "distributed": distributed,
            "max_concurrency": campaign.request.max_concurrency,
            "tolerated_failure_count": _tolerated_count(campaign),
        }

    campaign, answer = _update(engine, campaign_id, decide)
    answer.update(campaign_id=campaign.id, state=campaign.state.value, wave=campaign.current_wave)
    return answer


def _execution_arn(machine_arn: Any, name: str) -> str | None:
    """The ARN a standard execution named `name` of the machine `machine_arn` has."""
    if not isinstance(machine_arn, str) or ":stateMachine:" not in machine_arn:
        return None
    return machine_arn.replace(":stateMachine:", ":execution:", 1) + ":" + name


def _create(engine: Engine, campaign: Campaign, target: CampaignTarget) -> Operation:
    """The target's operation under its fixed id: found if it exists, else planned and stored now."""
    found = find_operation(engine.store, target.operation_id)
    if found is not None:
        return found
    request = campaign.request
    preview = engine.preview(
        operation_request(request, target.target_id), request.region, operation_id=target.operation_id
    )
    try:
        return engine.create_from_preview(preview, campaign_id=campaign.id, min_look_seconds=look_floor(request))
    except BadInput:
        raced = find_operation(engine.store, target.operation_id)  # another attempt of this gate created it meanwhile
        if raced is None:
            raise
        return raced


def _start_answer(campaign: Campaign, target: CampaignTarget, machine_arn: Any) -> dict[str, Any]:
    kind = campaign.request.kind
    return {
        "decision": "start",
        "operation_id": target.operation_id,
        "execution_name": target.operation_id,
        "execution_arn": target.execution_arn or _execution_arn(machine_arn, target.operation_id),
        "input": {
            "operation_id": target.operation_id,
            "cluster_id": target.target_id if kind == "cluster" else None,
            "instance_id": target.target_id if kind == "instance" else None,
            "campaign_id": campaign.id,
        },
    }


def campaign_gate(
    engine: Engine, campaign_id: str, operation_id: str, *, machine_arn: Any = None, waited: Any = 0
) -> dict[str, Any]:
    """May this target start now? `start` (its operation exists now), `wait` seconds, or `skip`."""
    campaign = engine.store.load_campaign(check_campaign_id(campaign_id))
    target = _target(campaign, operation_id)
    if target.state in FINAL_TARGET_STATES:
        return {"decision": "skip", "operation_id": operation_id, "reason": f"target {target.state.value}"}
    if target.state is TargetState.RUNNING:  # started before (a retried gate, a campaign execution run again)
        return _start_answer(campaign, target, machine_arn)
    if campaign.state is not CampaignState.RUNNING or target.wave != campaign.current_wave:
        # the next campaign_targets offers it again once the campaign may start it
        return {"decision": "skip", "operation_id": operation_id, "reason": f"campaign {campaign.state.value}"}
    if len(in_flight(campaign)) >= campaign.request.max_concurrency:
        return {"decision": "wait", "operation_id": operation_id, "wait_seconds": min(_wait_after(waited), 300)}
    try:
        _create(engine, campaign, target)
        refusal = None
    except BadInput as exc:  # the target changed since the plan (busy, gone, fails preflight now)
        refusal = str(exc)
    arn = _execution_arn(machine_arn, operation_id)

    def started(c: Campaign, now: datetime) -> CampaignTarget:
        t = _target(c, operation_id)
        if refusal is not None:
            if t.state is TargetState.PENDING:
                observe(c, t, "failed", f"refused when it was to start: {refusal}", now)
                t.operation_state = None
                settle(c, now)
        else:
            mark_started(c, t, now, execution_arn=arn)
        return t

    campaign, target = _update(engine, campaign_id, started)
    if refusal is not None:
        return {"decision": "skip", "operation_id": operation_id, "reason": refusal}
    return _start_answer(campaign, target, machine_arn)


def _target(campaign: Campaign, operation_id: str) -> CampaignTarget:
    try:
        target = campaign.target(operation_id)
    except KeyError:
        raise BadInput(f"campaign {campaign.id} has no target with operation id {operation_id!r}") from None
    if target.operation_id != operation_id:
        raise BadInput(f"campaign {campaign.id}: {operation_id!r} is a target id, not an operation id")
    return target


def _undriven(op: Operation) -> bool:
    """Paused with an error and no execution waiting for an answer: what a failed execution leaves."""
    return op.state is OperationState.PAUSED and op.error is not None and op.intervention is None


def campaign_target_ended(
    engine: Engine,
    campaign_id: str,
    operation_id: str,
    *,
    outcome: Any = "succeeded",
    error: Any = None,
    looked: Any = 0,
) -> dict[str, Any]:
    """The child execution ended (`succeeded`, `failed`, or `exists`: a closed execution had the name).

    The record follows the operation: a final operation ends the target. An operation still going after its
    execution succeeded was handed off to a fresh execution (the operation machine's history cap): `ended`
    is false and the machine looks again after `wait_seconds`. A failed execution whose operation is not
    final (the machine recorded its error, pausing it) is a failed target: nothing drives it any more."""
    op = find_operation(engine.store, operation_id)

    def ended(c: Campaign, now: datetime) -> bool:
        t = _target(c, operation_id)
        if t.state in FINAL_TARGET_STATES:
            return True
        if op is None:
            observe(c, t, "failed", f"its operation was never created; execution {outcome}: {error}", now)
            t.operation_state = None
        elif op.state.is_final:
            observe(c, t, op.state.value, op.error or op.pause_reason, now)
        elif outcome != "succeeded" and (outcome == "failed" or _undriven(op)):
            observe(c, t, "failed", f"its execution failed ({error or outcome}): {op.error or op.state.value}", now)
            t.operation_state = op.state.value
        else:
            observe(c, t, op.state.value, op.pause_reason, now)
            return False
        _add_requests(c, op, now)
        settle(c, now)
        return True

    campaign, done = _update(engine, campaign_id, ended)
    target = _target(campaign, operation_id)
    answer: dict[str, Any] = {
        "ended": done,
        "operation_id": operation_id,
        "target_state": target.state.value,
        "operation_state": target.operation_state,
        "campaign_state": campaign.state.value,
    }
    if not done:
        # 60 s, doubling to 15 min: an operation handed off to fresh executions may run for days
        answer["wait_seconds"] = max(_wait_after(looked), look_floor(campaign.request))
    return answer


# How long a target's operation may have been sending before the record says the target started: the gate
# creates the operation (its preview counted), then saves the record; a gate that dies in between is retried
# by Step Functions (sfn/rds-maint-campaign.asl.json, Gate: 11 attempts at most, each up to its 330 s timeout,
# waits of 2 s and 5 s doubling between them), and meanwhile the target is pending, or running since the retry.
LATE_START_SECONDS = 3900


def _add_requests(campaign: Campaign, op: Operation | None, now: datetime) -> None:
    """An ended target's operation's requests into the campaign's rate (once: the target is final now, and
    a retried call finds it so); slots no target can reach any more are let go: those before the earliest
    running target's start, less what its gate (or a pending target's) may have sent before the record
    said so (`LATE_START_SECONDS`), since a window over a dropped slot can grow no more."""
    running = [t.started_at for t in in_flight(campaign) if t.started_at is not None]
    reachable = min([*running, now]) - timedelta(seconds=LATE_START_SECONDS)
    campaign.rate.add_operation(op.requests if op is not None else None, now, reachable)


def campaign_finish(engine: Engine, campaign_id: str) -> dict[str, Any]:
    """The campaign's end as the record has it (settled once more, its rate over its whole run)."""

    def final(c: Campaign, now: datetime) -> None:
        settle(c, now)
        if c.state in FINAL_CAMPAIGN_STATES:
            c.rate.settle(c.ended_at or now)

    campaign, _ = _update(engine, campaign_id, final)
    return {
        "campaign_id": campaign.id,
        "state": campaign.state.value,
        "ended": campaign.state in FINAL_CAMPAIGN_STATES,
        "counts": campaign.counts(),
        "failures": campaign.failures,
        "rate": campaign.rate.figures(campaign.request.budget_rps),
    }
