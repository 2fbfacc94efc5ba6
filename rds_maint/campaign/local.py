"""Driving a campaign in this process: every target's operation advanced in turn, by when each is due.

The interface the CLI calls; the loop itself is being built (issue 15).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from rds_maint.campaign_model import Campaign, CampaignEvent, CampaignTarget
from rds_maint.engine import Engine
from rds_maint.model import StepResult

__all__ = ["CampaignListener", "DriveOutcome", "drive_campaign"]


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


def drive_campaign(
    engine: Engine,
    campaign_id: str,
    sleep: Callable[[float], None],
    listener: CampaignListener | None = None,
) -> DriveOutcome:
    """Drive the campaign until it ends or only a person can move it on."""
    raise NotImplementedError("campaign driving lands with issue 15")
