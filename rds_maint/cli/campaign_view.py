"""What a person watching `rds-maint campaign run` sees: one line per happening, a status line, the end.

Many targets run at once, so a target's own steps are not shown (`rds-maint status OP` shows them): a line
when a target starts, ends or pauses for a person (with the exact answer), one per campaign event (a wave,
a halt), and on a terminal one status line redrawn in place, as `rds-maint run`'s live line is:
`3 running (1 paused) · 12 completed · 1 failed · 4 pending · wave 2 of 0-3 · 1.6 req/s of 2`.
`--output json` prints only the final document (`campaign_document`), nothing as it goes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

import click

from rds_maint.campaign.local import DriveOutcome
from rds_maint.campaign_model import (
    FINAL_CAMPAIGN_STATES,
    Campaign,
    CampaignEvent,
    CampaignState,
    CampaignTarget,
    TargetState,
)
from rds_maint.model import Outcome, StepResult
from rds_maint.progress.live import LiveLine, stdout_is_terminal
from rds_maint.progress.loop import TICK_SECONDS
from rds_maint.progress.naming import target_text
from rds_maint.progress.summary import duration

__all__ = ["CampaignView", "campaign_document", "status_text"]

_SHOWN_STATES = (
    TargetState.COMPLETED,
    TargetState.FAILED,
    TargetState.ROLLED_BACK,
    TargetState.REFUSED,
    TargetState.SKIPPED,
    TargetState.PENDING,
)


def status_text(campaign: Campaign) -> str:
    """The status line: what runs (how many of them wait for a person), what ended, the wave, the rate."""
    counts = campaign.counts()
    running = [t for t in campaign.targets if t.state is TargetState.RUNNING]
    paused = sum(1 for t in running if t.operation_state == "paused")
    parts = [f"{len(running)} running" + (f" ({paused} paused)" if paused else "")] if running else []
    parts += [f"{counts[s.value]} {s.value.replace('_', ' ')}" for s in _SHOWN_STATES if counts[s.value]]
    # waves are numbered from 0 (the canary) everywhere: in the plan, the events and here
    parts.append(f"wave {campaign.current_wave} of 0-{campaign.waves - 1}" if campaign.waves > 1 else "one wave")
    parts.append(f"{_rps(campaign.rate.mean_rps)} req/s of {campaign.request.budget_rps:g}")
    return " · ".join(parts)


def rate_text(campaign: Campaign) -> str:
    rate = campaign.rate
    return (
        f"RDS requests: {rate.requests} in {duration(rate.seconds)}: {_rps(rate.mean_rps)} req/s mean, "
        f"{_rps(rate.peak_rps)} peak (over {rate.window_seconds:g} s), budget {campaign.request.budget_rps:g}"
    )


def _rps(value: float) -> str:
    """`1.7`, but `0.05` rather than a `0.0` that hides a campaign whose targets mostly wait."""
    return f"{value:.1f}" if value >= 1 or value == 0 else f"{value:.2f}"


def campaign_document(campaign: Campaign, blocked: list[CampaignTarget] | None = None) -> dict[str, Any]:
    """The record's summary a script reads: state, counts, each target's operation and state, the rate."""
    return {
        "campaign_id": campaign.id,
        "state": campaign.state.value,
        "type": campaign.request.type.value,
        "counts": {state: n for state, n in campaign.counts().items() if n},
        "wave": campaign.current_wave,
        "waves": campaign.waves,
        "targets": [
            {
                "target_id": t.target_id,
                "operation_id": t.operation_id,
                "wave": t.wave,
                "state": t.state.value,
                "operation_state": t.operation_state,
                "reason": t.reason,
                "started_at": t.started_at.isoformat() if t.started_at else None,
                "ended_at": t.ended_at.isoformat() if t.ended_at else None,
            }
            for t in campaign.targets
        ],
        "blocked": [t.operation_id for t in blocked or []],
        "rate": campaign.rate.figures(campaign.request.budget_rps),
    }


class CampaignView:
    """The CampaignListener of the CLI: lines as things happen, the status line on a terminal, the end."""

    def __init__(self, now: Callable[[], datetime], *, json_output: bool = False, store_flag: str = "") -> None:
        self.now = now
        self.json = json_output
        self.store_flag = store_flag
        self.live = LiveLine(stdout_is_terminal() and not json_output)
        self._campaign: Campaign | None = None
        self._paused: set[str] = set()

    # -- the CampaignListener ------------------------------------------------------------------

    def campaign_changed(self, campaign: Campaign, events: list[CampaignEvent]) -> None:
        self._campaign = campaign
        for event in events:
            self._line(event.timestamp, event.message)
        for target in campaign.targets:
            if target.operation_state != "paused":
                self._paused.discard(target.operation_id)
        self._status()

    def target_started(self, campaign: Campaign, target: CampaignTarget) -> None:
        self._campaign = campaign
        self._line(target.started_at or self.now(), f"{_name(campaign, target)} started (wave {target.wave})")
        self._status()

    def target_advanced(self, campaign: Campaign, target: CampaignTarget, result: StepResult) -> None:
        self._campaign = campaign
        if result.outcome is Outcome.INTERVENTION and target.operation_id not in self._paused:
            self._paused.add(target.operation_id)
            self._line(
                self.now(),
                f"{_name(campaign, target)} paused for a person: {result.pause_reason}; {self._answer(target)}",
            )
        self._status()

    def waiting(self, campaign: Campaign, seconds: float) -> None:
        self._campaign = campaign
        self._status()

    def sleeper(self, sleep: Callable[[float], None]) -> Callable[[float], None]:
        """`sleep` cut into one-second slices with a redraw after each, on a terminal (the clock's seconds)."""

        def sliced(seconds: float) -> None:
            if not self.live.on_terminal:
                sleep(seconds)
                return
            left = float(seconds)
            while left > 0:
                step = min(TICK_SECONDS, left)
                sleep(step)
                left -= step
                self._status()

        return sliced

    # -- the end --------------------------------------------------------------------------------

    def finish(self, outcome: DriveOutcome) -> None:
        campaign = outcome.campaign
        if self.json:
            click.echo(json.dumps(campaign_document(campaign, outcome.blocked), indent=2))
            return
        self.live.clear()
        click.echo(f"\nCampaign {campaign.id}: {campaign.state.value.replace('_', ' ')}")
        click.echo("  " + status_text(campaign))
        waiting = {t.index for t in outcome.blocked}
        for target in campaign.targets:
            if target.state in (TargetState.COMPLETED, TargetState.PENDING) or target.index in waiting:
                continue
            if target.state is TargetState.RUNNING and target.operation_state != "paused":
                continue
            state = "paused" if target.state is TargetState.RUNNING else target.state.value
            click.echo(f"  {_name(campaign, target)} {state}" + (f": {target.reason}" if target.reason else ""))
        click.echo(rate_text(campaign))
        carry_on = f"rds-maint campaign run {campaign.id}{self.store_flag}"
        resume = f"rds-maint campaign resume {campaign.id}{self.store_flag}"
        if outcome.blocked:
            click.echo("Waiting for a person:")
            for target in outcome.blocked:
                click.echo(f"  {target.target_id}: {self._answer(target)}")
        if campaign.state is CampaignState.AWAITING_APPROVAL:
            click.echo(f"Wave {campaign.current_wave} waits for approval: {resume}")
        elif campaign.state is CampaignState.PAUSED:
            click.echo(f"The campaign is paused: {resume}")
        if outcome.blocked or campaign.state in (CampaignState.AWAITING_APPROVAL, CampaignState.PAUSED):
            click.echo(f"then carry on with: {carry_on}")

    def interrupted(self, campaign: Campaign) -> None:
        """Ctrl-C: where the campaign stands (as of its last save) and the command that carries on."""
        carry_on = f"rds-maint campaign run {campaign.id}{self.store_flag}"
        if self.json:
            document = {**campaign_document(campaign), "interrupted": True, "carry_on": carry_on}
            click.echo(json.dumps(document, indent=2))
            return
        self.live.clear()
        click.echo(
            f"\nInterrupted. Campaign {campaign.id} and each target's operation are saved as of their last "
            "save; the running targets wait where they are."
        )
        click.echo("  " + status_text(campaign))
        click.echo(f"Carry on with: {carry_on}")

    # -- inside ------------------------------------------------------------------------------

    def _answer(self, target: CampaignTarget) -> str:
        return f"answer with rds-maint resume {target.operation_id} --action continue{self.store_flag}"

    def _line(self, at: datetime, text: str) -> None:
        if self.json:
            return
        self.live.clear()
        click.echo(f"[{at:%H:%M:%S}] {text}")

    def _status(self) -> None:
        if self._campaign is not None and not self.json and self._campaign.state not in FINAL_CAMPAIGN_STATES:
            self.live.show(status_text(self._campaign))


def _name(campaign: Campaign, target: CampaignTarget) -> str:
    """`orders-3 (c-...-0004)`, or `instance orders-db (c-...-0004)`: which kind of thing, as every report says."""
    return f"{target_text(target.target_id, campaign.request.kind)} ({target.operation_id})"
