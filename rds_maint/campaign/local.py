"""Driving a campaign in this process: every target's operation advanced in turn, by when each is due.

One process, no threads. Each in-flight target has a due time (from its last result's `wait_seconds`, or
from its operation's `next_look_at` when a drive picks the campaign up again); the loop always advances
the earliest-due one, and sleeps (the engine's clock: virtual in tests and rehearsals) until the next.
The request budget (`budget`) may make it wait longer. Whenever a target's operation changed state (it
started, paused for a person, ended) the record is told (`schedule.observe`), settled, the free slots
filled (`schedule.next_starts`) and the record saved, conditionally: on Conflict (a person paused or
resumed the campaign meanwhile) it is read again and the decision made again on it. A campaign found
paused asks each running operation to pause at its next step boundary (`Engine.request_pause`). A target paused for a
person keeps its slot and is not advanced; the others go on. The drive returns when the campaign has
ended, or when nothing can move without a person.

Crash windows (the driver dies, or Ctrl-C, between two saves), and why each is safe:
- the target's operation was created (or created and started), the record not saved: the record still
  says pending. Starting is look-before-act: the operation id is fixed at plan time, so the next drive
  finds the operation under it and carries it on instead of creating another. At pick-up, a pending
  target whose operation has already started is taken as running at once (it holds a slot on AWS).
- a target's operation ended (or paused), the record not saved: the next drive reads every running
  target's operation before deciding anything, so the record catches up.
- the record was saved, the operations moved on since: the same, each operation's own record wins.
- two drivers at once: every save is conditional on the record's version; the loser reads it again, and
  its starts find the winner's operations. Each operation has its own lock, so a step never runs twice.
- the request window: it is in the record (`RequestRate.tally`, each call's requests by 10 s slot, saved
  with every save), and a drive starts with the record's last minute in its window (`RequestBudget`), so
  it waits for what the dead driver (or the planning) sent just before. What was sent after the last save
  is not in it: at most what the driver sends between two saves (one advance when a target changed
  state, up to `SAVE_EVERY_SECONDS` of looks otherwise) may, for one window, come on top of the budget.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from rds_maint.campaign import schedule
from rds_maint.campaign.budget import RequestBudget, look_floor
from rds_maint.campaign.planner import operation_request
from rds_maint.campaign_model import (
    FINAL_CAMPAIGN_STATES,
    Campaign,
    CampaignEvent,
    CampaignState,
    CampaignTarget,
    TargetState,
)
from rds_maint.engine import Engine
from rds_maint.errors import BadInput, Conflict
from rds_maint.model import Operation, OperationState, Outcome, StepResult
from rds_maint.store.base import find_operation

__all__ = ["CampaignListener", "DriveOutcome", "RequestCount", "drive_campaign"]

MAX_CONFLICT_RETRIES = 5
# The record is saved at least this often (the engine's clock) while targets run, with the rate so far;
# a save that loses to a person's pause or abort is how the drive hears of it.
SAVE_EVERY_SECONDS = 60.0
# How often a target paused for a person is read again while others run: an answer given meanwhile
# (rds-maint resume OP --action continue) lets the drive carry it on without being started again.
PAUSED_RECHECK_SECONDS = 60.0

RequestCount = Callable[[], "int | None"]
"""RDS requests the engine has sent so far (`wiring.aws_requests(engine)`); None: not counted."""


class CampaignListener(Protocol):
    """What a view of the campaign is told as the driver goes (the CLI's combined progress view)."""

    def campaign_changed(self, campaign: Campaign, events: list[CampaignEvent]) -> None: ...

    def target_started(self, campaign: Campaign, target: CampaignTarget) -> None: ...

    def target_advanced(self, campaign: Campaign, target: CampaignTarget, result: StepResult) -> None: ...

    def waiting(self, campaign: Campaign, seconds: float) -> None: ...


@dataclass
class DriveOutcome:
    """Where the drive stopped: the campaign ended, or nothing more can happen without a person."""

    campaign: Campaign
    # Targets paused for a person (their operations' answers are needed), when the drive stopped on them.
    blocked: list[CampaignTarget] = field(default_factory=list)


@dataclass
class _OperationSeen:
    """What a target's operation was last seen in, kept apart from the record to re-apply after a Conflict."""

    state: str
    reason: str | None
    started_at: datetime


def drive_campaign(
    engine: Engine,
    campaign_id: str,
    sleep: Callable[[float], None],
    listener: CampaignListener | None = None,
    *,
    requests: RequestCount | None = None,
) -> DriveOutcome:
    """Drive the campaign until it ends or only a person can move it on.

    `requests` counts the RDS requests the engine sent (the budget measures each call with it); without
    it each call is taken to cost what the budget expects of its kind."""
    return _Driver(engine, campaign_id, sleep, listener, requests).drive()


class _Driver:
    def __init__(
        self,
        engine: Engine,
        campaign_id: str,
        sleep: Callable[[float], None],
        listener: CampaignListener | None,
        requests: RequestCount | None,
    ) -> None:
        self.engine = engine
        self.store = engine.store
        self.clock = engine.clock
        self.sleep = sleep
        self.listener = listener
        self.requests = requests or (lambda: None)
        self.campaign = self.store.load_campaign(campaign_id)
        request = self.campaign.request
        self.budget = RequestBudget(request.budget_rps, self.clock.now(), self.campaign.rate)
        self.floor = look_floor(request.max_concurrency, request.budget_rps)
        self.seen: dict[int, _OperationSeen] = {}
        self.due: dict[int, datetime] = {}
        self.asked_to_pause: set[int] = set()
        self.started_now: list[CampaignTarget] = []
        self.saved_at = self.clock.now()
        self.rechecked_at = self.clock.now()

    # -- the loop -----------------------------------------------------------------------------

    def drive(self) -> DriveOutcome:
        self._pick_up()
        self._decide()
        while True:
            campaign = self.campaign
            if campaign.state in FINAL_CAMPAIGN_STATES:
                return DriveOutcome(campaign)
            running = [t for t in schedule.in_flight(campaign) if t.index in self.due]
            if not running:
                blocked = [t for t in schedule.in_flight(campaign) if t.index not in self.due]
                self._save_rate()
                return DriveOutcome(self.campaign, blocked)
            target = min(running, key=lambda t: (self.due[t.index], t.index))
            now = self.clock.now()
            wait = max((self.due[target.index] - now).total_seconds(), self.budget.wait_seconds(now, "look"))
            if wait > 0:
                if self.listener is not None:
                    self.listener.waiting(campaign, wait)
                self.sleep(wait)
            changed = self._advance(target)
            now = self.clock.now()
            if self._recheck_paused(now):
                changed = True
            if changed or (now - self.saved_at).total_seconds() >= SAVE_EVERY_SECONDS:
                self._decide()

    def _advance(self, target: CampaignTarget) -> bool:
        """One advance of the target's operation; True when its state changed (the record must hear of it)."""
        before = self.requests()
        result = self.engine.advance(target.operation_id)
        now = self.clock.now()
        self._spent(now, "look", before)
        if self.listener is not None:
            self.listener.target_advanced(self.campaign, target, result)
        if result.error and result.error.startswith("conflict"):
            self.due[target.index] = now + timedelta(seconds=1)  # another driver moved it: look again soon
            return False
        if result.outcome is Outcome.WAIT:
            self.due[target.index] = now + timedelta(seconds=result.wait_seconds)
        elif result.outcome is Outcome.CONTINUE:
            self.due[target.index] = now
        else:  # paused for a person, or ended: not advanced again by this drive
            self.due.pop(target.index, None)
        reason = result.pause_reason if result.outcome is Outcome.INTERVENTION else result.error
        return self._note(target, result.operation_state or "running", reason, now)

    def _note(self, target: CampaignTarget, state: str, reason: str | None, now: datetime) -> bool:
        earlier = self.seen.get(target.index)
        self.seen[target.index] = _OperationSeen(state, reason, earlier.started_at if earlier else now)
        return earlier is None or earlier.state != state

    # -- deciding and saving ------------------------------------------------------------------

    def _decide(self) -> None:
        """Observe, settle, start into the free slots, save; on Conflict read the record again and redo."""
        for _ in range(MAX_CONFLICT_RETRIES + 1):
            campaign = self.campaign
            now = self.clock.now()
            self.started_now = []  # a start redone after a lost save is told once, by the retry
            events = self._apply_seen(campaign, now)
            events += schedule.settle(campaign, now)
            starts = schedule.next_starts(campaign)
            while starts:
                for target in starts:
                    events += self._start(campaign, target)
                events += schedule.settle(campaign, self.clock.now())
                starts = schedule.next_starts(campaign)
            if self._save(campaign):
                if self.listener is not None:  # saved, then told: what ended and the wave, then the starts
                    self.listener.campaign_changed(self.campaign, events)
                    for started in self.started_now:
                        self.listener.target_started(self.campaign, self.campaign.targets[started.index])
                self._pass_on_pause()
                return
        raise Conflict(f"campaign '{self.campaign.id}' kept changing under this driver; run it again")

    def _apply_seen(self, campaign: Campaign, now: datetime) -> list[CampaignEvent]:
        events: list[CampaignEvent] = []
        for target in campaign.targets:
            seen = self.seen.get(target.index)
            if seen is None:
                continue
            if target.state is TargetState.PENDING:
                schedule.mark_started(campaign, target, seen.started_at)
            events += schedule.observe(campaign, target, seen.state, seen.reason, now)
        return events

    def _save(self, campaign: Campaign) -> bool:
        now = self.clock.now()
        campaign.rate = self.budget.rate(now)
        try:
            self.campaign = self.store.save_campaign(campaign)
        except Conflict:
            self.campaign = self.store.load_campaign(campaign.id)
            return False
        self.saved_at = now
        return True

    def _save_rate(self) -> None:
        """The rate as it stands when the drive stops short of the end (the decisions were saved already)."""
        for _ in range(MAX_CONFLICT_RETRIES + 1):
            if self._save(self.campaign):
                return

    def _pass_on_pause(self) -> None:
        """A paused campaign asks its running operations to pause at their next step boundary, once each
        (asking again is harmless: the engine answers that it was asked already)."""
        if self.campaign.state is not CampaignState.PAUSED:
            return
        for target in schedule.in_flight(self.campaign):
            if target.index in self.asked_to_pause or target.operation_state == "paused":
                continue
            self.asked_to_pause.add(target.index)
            # BadInput: it is ending, or in its last step: it ends on its own, as a running target does
            with contextlib.suppress(BadInput):
                self.engine.request_pause(
                    target.operation_id, actor=f"campaign {self.campaign.id}", comment="the campaign was paused"
                )

    # -- starting -----------------------------------------------------------------------------

    def _start(self, campaign: Campaign, target: CampaignTarget) -> list[CampaignEvent]:
        """Start the target's operation, or carry on the one a dead driver made (look before act)."""
        wait = self.budget.wait_seconds(self.clock.now(), "start")
        if wait > 0:
            if self.listener is not None:
                self.listener.waiting(campaign, wait)
            self.sleep(wait)
        before = self.requests()
        try:
            op = find_operation(self.store, target.operation_id) or self._create(campaign, target)
            result = self.engine.start(op.id)
        except BadInput as exc:
            # refused at start: the target changed since the plan; a change that could not be made failed
            now = self.clock.now()
            self._spent(now, "start", before)
            schedule.mark_started(campaign, target, now)
            self._note(target, "failed", f"refused when starting: {exc}", now)
            return schedule.observe(campaign, target, "failed", self.seen[target.index].reason, now)
        now = self.clock.now()
        self._spent(now, "start", before)
        schedule.mark_started(campaign, target, now)
        reason = result.pause_reason if result.outcome is Outcome.INTERVENTION else result.error
        state = result.operation_state or "running"
        self._note(target, state, reason, now)
        if result.outcome in (Outcome.CONTINUE, Outcome.WAIT):
            self.due[target.index] = now
        self.started_now.append(target)
        return schedule.observe(campaign, target, state, reason, now)

    def _create(self, campaign: Campaign, target: CampaignTarget) -> Operation:
        request = campaign.request
        preview = self.engine.preview(
            operation_request(request, target.target_id), request.region, operation_id=target.operation_id
        )
        try:
            return self.engine.create_from_preview(preview, campaign_id=campaign.id, min_look_seconds=self.floor)
        except BadInput:
            made = find_operation(self.store, target.operation_id)  # another driver of this campaign made it just now
            if made is None:
                raise
            return made

    # -- picking a campaign up -----------------------------------------------------------------

    def _pick_up(self) -> None:
        """Read every started target's operation (and a pending one's, made before a crash) before deciding."""
        for target in self.campaign.targets:
            if target.state not in (TargetState.RUNNING, TargetState.PENDING):
                continue
            op = find_operation(self.store, target.operation_id)
            if target.state is TargetState.PENDING and (op is None or op.state is OperationState.CREATED):
                continue  # not made yet, or made and never started: `next_starts` gives it its slot in turn
            if op is None or op.state is OperationState.CREATED:
                # the record says started (another driver's order of saves); start it as any other
                self._start(self.campaign, target)
                continue
            self._see(target, op)

    def _see(self, target: CampaignTarget, op: Operation) -> None:
        now = self.clock.now()
        reason = op.pause_reason if op.state is OperationState.PAUSED else op.error
        self._note(target, op.state.value, reason, op.started_at or now)
        if op.state.is_final or op.state is OperationState.PAUSED:
            self.due.pop(target.index, None)
            return
        step = op.current_step
        next_look = step.progress.next_look_at if step is not None else None
        self.due[target.index] = max(next_look, now) if next_look is not None else now

    def _recheck_paused(self, now: datetime) -> bool:
        """A paused target answered meanwhile (from another terminal) goes on; True if one did."""
        if (now - self.rechecked_at).total_seconds() < PAUSED_RECHECK_SECONDS:
            return False
        self.rechecked_at = now
        changed = False
        for target in schedule.in_flight(self.campaign):
            if target.index in self.due:
                continue
            op = find_operation(self.store, target.operation_id)
            if op is not None and op.state is not OperationState.PAUSED:
                before = self.seen.get(target.index)
                self._see(target, op)
                changed = changed or before is None or before.state != op.state.value
        return changed

    def _spent(self, now: datetime, kind: str, before: int | None) -> None:
        after = self.requests()
        cost = after - before if after is not None and before is not None else self.budget.expected(kind)
        self.budget.spent(now, kind, cost)
