"""Which targets of a campaign start next, and what the campaign has come to: pure decisions on the record.

Every driver (the CLI's loop in one process, the Lambda that the campaign state machine calls) reads the
targets' operations, tells the record what it saw (`observe`), lets the record settle (`settle`: waves,
failure tolerance, the end), and asks which targets to start (`next_starts`). None of this reads AWS or a
store, so both drivers decide alike, and a driver that died can decide again from the saved record.

The rules (DESIGN section 10):
- a target in flight holds one of `max_concurrency` slots until its operation ends, also while it is paused
  for a person (as a child execution waiting for its answer holds its Map slot on Step Functions); a paused
  target never stops the others;
- waves go in order; a wave starts when every target of the one before it has ended, and, with
  `approve_waves`, when a person resumes the campaign (`resume`);
- a failure in the canary wave, or more failures than `failure_tolerance` anywhere, halts the campaign:
  no new target starts, the running ones go on to their own end, then the campaign has failed;
- `pause` stops new starts (the driver also asks the running operations to pause at their next step
  boundary); `abort` skips every target not started, and lets the running ones end.
"""

from __future__ import annotations

from datetime import datetime

from rds_maint.campaign_model import (
    FINAL_CAMPAIGN_STATES,
    FINAL_TARGET_STATES,
    Campaign,
    CampaignEvent,
    CampaignState,
    CampaignTarget,
    FailureTolerance,
    TargetState,
)
from rds_maint.errors import BadInput

__all__ = [
    "abort",
    "in_flight",
    "mark_started",
    "next_starts",
    "observe",
    "pause",
    "resume",
    "settle",
    "wave_of_each",
]

_TARGET_STATE_OF_OPERATION = {
    "completed": TargetState.COMPLETED,
    "failed": TargetState.FAILED,
    "rolled_back": TargetState.ROLLED_BACK,
}


def wave_of_each(targets: int, canary: int, wave_size: int | None) -> list[int]:
    """The wave of each target in order: the first `canary` in wave 0 (when there are more targets than
    that), then waves of `wave_size` (the rest in one wave when None)."""
    waves: list[int] = []
    first = canary if 0 < canary < targets else 0
    waves.extend([0] * first)
    rest = targets - first
    size = wave_size or max(rest, 1)
    start_wave = 1 if first else 0
    waves.extend(start_wave + i // size for i in range(rest))
    return waves


def _event(campaign: Campaign, now: datetime, type_: str, message: str, actor: str | None = None) -> CampaignEvent:
    event = CampaignEvent(type=type_, message=message, timestamp=now, actor=actor)
    campaign.history.append(event)
    campaign.updated_at = now
    return event


def in_flight(campaign: Campaign) -> list[CampaignTarget]:
    return [t for t in campaign.targets if t.state is TargetState.RUNNING]


def observe(
    campaign: Campaign, target: CampaignTarget, operation_state: str, reason: str | None, now: datetime
) -> list[CampaignEvent]:
    """Record what the target's operation was seen in; an ended operation ends the target."""
    if target.state in FINAL_TARGET_STATES:
        return []
    target.operation_state = operation_state
    target.reason = reason
    ended = _TARGET_STATE_OF_OPERATION.get(operation_state)
    if target.state is TargetState.PENDING:
        target.state = TargetState.RUNNING
        target.started_at = target.started_at or now
    if ended is None:
        return []
    target.state = ended
    target.ended_at = now
    why = f": {reason}" if reason and ended is not TargetState.COMPLETED else ""
    return [
        _event(campaign, now, f"target_{ended.value}", f"{target.target_id} ({target.operation_id}) {ended.value}{why}")
    ]


def mark_started(campaign: Campaign, target: CampaignTarget, now: datetime, execution_arn: str | None = None) -> None:
    """The target's operation exists (or its execution started): it holds a slot from now on."""
    if target.state is TargetState.PENDING:
        target.state = TargetState.RUNNING
        target.started_at = now
        target.operation_state = target.operation_state or "created"
    if execution_arn is not None:
        target.execution_arn = execution_arn
    campaign.updated_at = now


def _halt_reason(campaign: Campaign) -> str | None:
    request = campaign.request
    canary_failed = [
        t.target_id
        for t in campaign.targets
        if t.wave == 0 and campaign.waves > 1 and request.canary > 0 and t.state in _FAILURES
    ]
    if canary_failed:
        return f"the canary failed ({', '.join(canary_failed)})"
    allowed = request.failure_tolerance.allowed(len(campaign.targets))
    if campaign.failures > allowed:
        return (
            f"{campaign.failures} targets failed, more than the failure tolerance allows "
            f"({request.failure_tolerance}: {allowed})"
        )
    return None


_FAILURES = frozenset({TargetState.FAILED, TargetState.ROLLED_BACK})


def settle(campaign: Campaign, now: datetime) -> list[CampaignEvent]:
    """Move the campaign on from what its targets came to: halt, next wave, approval, its end."""
    events: list[CampaignEvent] = []
    if campaign.state in FINAL_CAMPAIGN_STATES:
        return events
    if campaign.state in (CampaignState.RUNNING, CampaignState.AWAITING_APPROVAL, CampaignState.PAUSED):
        reason = _halt_reason(campaign)
        if reason is not None:
            campaign.state = CampaignState.HALTED
            events.append(_event(campaign, now, "campaign_halted", f"No new target starts: {reason}"))
    if campaign.state is CampaignState.RUNNING:
        while campaign.current_wave < campaign.waves and all(
            t.state in FINAL_TARGET_STATES for t in campaign.targets if t.wave == campaign.current_wave
        ):
            if campaign.current_wave + 1 >= campaign.waves:
                break
            campaign.current_wave += 1
            if campaign.request.approve_waves and campaign.approved_wave < campaign.current_wave:
                campaign.state = CampaignState.AWAITING_APPROVAL
                events.append(
                    _event(
                        campaign,
                        now,
                        "wave_awaiting_approval",
                        f"Wave {campaign.current_wave} of {campaign.waves - 1} waits for a person: "
                        f"rds-maint campaign resume {campaign.id}",
                    )
                )
                break
            events.append(_event(campaign, now, "wave_started", f"Wave {campaign.current_wave} starts"))
    if in_flight(campaign):
        return events
    if campaign.state in (CampaignState.HALTED, CampaignState.ABORTING):
        for target in campaign.targets:
            if target.state is TargetState.PENDING:
                target.state = TargetState.SKIPPED
                target.reason = "not started: " + (
                    "the campaign was aborted" if campaign.state is CampaignState.ABORTING else "the campaign halted"
                )
        final = CampaignState.FAILED if campaign.state is CampaignState.HALTED else CampaignState.ABORTED
        campaign.state = final
        campaign.ended_at = now
        events.append(_event(campaign, now, f"campaign_{final.value}", f"Campaign {final.value}: {_tally(campaign)}"))
    elif campaign.state is CampaignState.RUNNING and all(t.state in FINAL_TARGET_STATES for t in campaign.targets):
        campaign.state = CampaignState.COMPLETED
        campaign.ended_at = now
        events.append(_event(campaign, now, "campaign_completed", f"Campaign completed: {_tally(campaign)}"))
    return events


def _tally(campaign: Campaign) -> str:
    return ", ".join(f"{n} {state}" for state, n in campaign.counts().items() if n)


def next_starts(campaign: Campaign) -> list[CampaignTarget]:
    """The pending targets to start now, in order: of the current wave, into the free slots."""
    if campaign.state is not CampaignState.RUNNING:
        return []
    free = campaign.request.max_concurrency - len(in_flight(campaign))
    if free <= 0:
        return []
    pending = [t for t in campaign.targets if t.wave == campaign.current_wave and t.state is TargetState.PENDING]
    return pending[:free]


def pause(campaign: Campaign, actor: str, now: datetime, comment: str | None = None) -> CampaignEvent:
    """No new target starts until `resume`. Refused (BadInput) once the campaign has ended."""
    _refuse_final(campaign, "pause")
    if campaign.state in (CampaignState.HALTED, CampaignState.ABORTING):
        raise BadInput(f"campaign {campaign.id} is {campaign.state.value}: no new target starts already")
    campaign.state = CampaignState.PAUSED
    return _event(campaign, now, "campaign_paused", "Paused: no new target starts" + _comment(comment), actor)


def resume(
    campaign: Campaign,
    actor: str,
    now: datetime,
    comment: str | None = None,
    tolerance: FailureTolerance | None = None,
) -> CampaignEvent:
    """Start targets again: after a pause, or the next wave when it waits for approval. A halted campaign
    goes on only with a `tolerance` its failures do not pass (a person raising it)."""
    _refuse_final(campaign, "resume")
    if tolerance is not None:
        if campaign.state is CampaignState.ABORTING:
            raise BadInput(f"campaign {campaign.id} was aborted; it cannot be resumed")
        before = campaign.request.failure_tolerance
        campaign.request.failure_tolerance = tolerance
        if _halt_reason(campaign) is not None:
            campaign.request.failure_tolerance = before
            raise BadInput(
                f"campaign {campaign.id}: {campaign.failures} targets failed; a failure tolerance of {tolerance} "
                "does not allow that many"
            )
        if campaign.state is CampaignState.HALTED:
            campaign.state = CampaignState.RUNNING
            return _event(
                campaign,
                now,
                "campaign_resumed",
                f"Resumed with failure tolerance {tolerance}" + _comment(comment),
                actor,
            )
    if campaign.state is CampaignState.HALTED:
        raise BadInput(
            f"campaign {campaign.id} halted ({_halt_reason(campaign) or 'failure tolerance passed'}); "
            "no new target starts. Raise --failure-tolerance to go on"
        )
    if campaign.state is CampaignState.ABORTING:
        raise BadInput(f"campaign {campaign.id} was aborted; it cannot be resumed")
    if campaign.state is CampaignState.AWAITING_APPROVAL:
        campaign.approved_wave = campaign.current_wave
        campaign.state = CampaignState.RUNNING
        return _event(
            campaign, now, "wave_approved", f"Wave {campaign.current_wave} approved" + _comment(comment), actor
        )
    if campaign.state is CampaignState.RUNNING:
        raise BadInput(f"campaign {campaign.id} is running already")
    campaign.state = CampaignState.RUNNING
    return _event(campaign, now, "campaign_resumed", "Resumed" + _comment(comment), actor)


def abort(campaign: Campaign, actor: str, now: datetime, comment: str | None = None) -> CampaignEvent:
    """Skip every target not started; the running ones go on to their own end (each can be aborted alone)."""
    _refuse_final(campaign, "abort")
    campaign.state = CampaignState.ABORTING
    for target in campaign.targets:
        if target.state is TargetState.PENDING:
            target.state = TargetState.SKIPPED
            target.reason = "not started: the campaign was aborted"
    event = _event(
        campaign, now, "campaign_aborting", "Aborted: targets not started are skipped" + _comment(comment), actor
    )
    settle(campaign, now)
    return event


def _refuse_final(campaign: Campaign, verb: str) -> None:
    if campaign.state in FINAL_CAMPAIGN_STATES:
        raise BadInput(f"campaign {campaign.id} has ended ({campaign.state.value}); there is nothing to {verb}")


def _comment(comment: str | None) -> str:
    return f" ({comment})" if comment else ""
