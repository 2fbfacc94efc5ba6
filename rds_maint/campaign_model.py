"""The campaign record: one operation type over many targets, kept in the operations' store.

A campaign is data only: which targets, in which waves, with which operation id each, and what each
has come to. Each target is an ordinary operation (its own id, lock, pauses and answers); the record
only points at it. The operation ids are fixed when the campaign is made (`target_operation_id`), so a
driver that dies after creating a target's operation and before saving the record finds that operation
again under the same id instead of starting the target twice. Saves are conditional on `version`, as an
operation's are: two drivers of one campaign never both win a change.
"""

from __future__ import annotations

import math
import re
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from rds_maint.errors import BadInput
from rds_maint.model import OperationType
from rds_maint.request_tally import RequestTally, slot_of

__all__ = [
    "ACTIVE_TARGET_STATES",
    "CAMPAIGN_SCHEMA_VERSION",
    "DEFAULT_BUDGET_RPS",
    "FINAL_CAMPAIGN_STATES",
    "FINAL_TARGET_STATES",
    "Campaign",
    "CampaignEvent",
    "CampaignRequest",
    "CampaignState",
    "CampaignTarget",
    "FailureTolerance",
    "RequestRate",
    "TargetState",
    "check_campaign_id",
    "target_operation_id",
]

CAMPAIGN_SCHEMA_VERSION = 1
# RDS allows about 12 requests/s per account and Region, shared with everything else (FIELD_NOTES 4.9);
# a campaign keeps to a sixth of it unless told otherwise.
DEFAULT_BUDGET_RPS = 2.0

# `c-` + a timestamp and a random suffix, or any id a person chose: it prefixes the targets' operation
# ids (+ `-NNNN`) and Step Functions execution names (80 characters at most), so it is kept short.
_CAMPAIGN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


def check_campaign_id(campaign_id: str) -> str:
    """Refuse ids that could escape a directory, key prefix or table key, or make target ids too long."""
    if not isinstance(campaign_id, str) or not _CAMPAIGN_ID.match(campaign_id):
        raise BadInput(f"invalid campaign id {campaign_id!r}: use letters, digits, '-' and '_' (at most 64 characters)")
    return campaign_id


def target_operation_id(campaign_id: str, index: int) -> str:
    """The operation id of a campaign's target `index` (0-based): fixed at plan time, never reused."""
    return f"{campaign_id}-{index + 1:04d}"


class FailureTolerance(BaseModel):
    """How many targets may fail before no new target starts: a count, or a percent of the targets.

    "Past it" means more failures than tolerated: with `count=0` the first failure stops new starts.
    """

    model_config = ConfigDict(frozen=True)

    count: int | None = Field(default=None, ge=0)
    percent: float | None = Field(default=None, ge=0, le=100)

    @model_validator(mode="after")
    def _one(self) -> FailureTolerance:
        if (self.count is None) == (self.percent is None):
            raise ValueError("a failure tolerance is a count or a percent, exactly one")
        return self

    @classmethod
    def parse(cls, text: str) -> FailureTolerance:
        """`3` (targets) or `10%` (of the campaign's targets); ValueError with the reason otherwise."""
        value = text.strip()
        try:
            if value.endswith("%"):
                return cls(percent=float(value[:-1]))
            return cls(count=int(value))
        except ValueError:
            raise ValueError(
                f"failure tolerance {text!r}: give a whole number of targets (3) or a percent from 0 to 100 (10%)"
            ) from None

    def allowed(self, targets: int) -> int:
        """The most failures tolerated among `targets` (a percent is rounded down: 10% of 15 is 1)."""
        if self.count is not None:
            return self.count
        return math.floor((self.percent or 0.0) * targets / 100 + 1e-9)

    def __str__(self) -> str:
        return str(self.count) if self.count is not None else f"{self.percent:g}%"


class CampaignRequest(BaseModel):
    """What a person asked: one operation type with its params over targets, and how to go through them.

    `target_ids` (in the order given) or `tag` (key, value: every target of `kind` with that tag, in
    identifier order) names the targets. `overrides` maps a target id to params that replace the
    campaign's for that target (key by key). Order: `canary` targets first (a wave of their own), then
    waves of `wave_size` (all the rest in one wave when None); a wave starts when the one before it has
    ended, and, with `approve_waves`, when a person has said so.
    """

    model_config = ConfigDict(extra="forbid")

    type: OperationType
    kind: Literal["cluster", "instance"] = "cluster"
    target_ids: list[str] | None = None
    tag: tuple[str, str] | None = None
    region: str
    params: dict[str, Any] = Field(default_factory=dict)
    overrides: dict[str, dict[str, Any]] = Field(default_factory=dict)
    # As in an operation's request: steps to pause before, and the wait timeout (None: the default).
    pause_before_steps: list[str] = Field(default_factory=list)
    wait_timeout: int | None = None
    max_concurrency: int = Field(ge=1, le=1000)
    failure_tolerance: FailureTolerance = Field(default_factory=lambda: FailureTolerance(count=0))
    canary: int = Field(default=1, ge=0)
    wave_size: int | None = Field(default=None, ge=1)
    approve_waves: bool = False
    budget_rps: float = Field(default=DEFAULT_BUDGET_RPS, gt=0, le=12)
    # Start the targets that pass preflight and record the others as refused, instead of refusing the campaign.
    skip_refused: bool = False

    @model_validator(mode="after")
    def _targets(self) -> CampaignRequest:
        if (self.target_ids is None) == (self.tag is None):
            raise ValueError("a campaign names its targets by id or by a tag filter, exactly one")
        if self.target_ids is not None:
            if not self.target_ids:
                raise ValueError("a campaign needs at least one target")
            seen: set[str] = set()
            doubled = [t for t in self.target_ids if t in seen or seen.add(t)]  # type: ignore[func-returns-value]
            if doubled:
                raise ValueError(f"target named twice: {', '.join(sorted(set(doubled)))}")
        return self


class TargetState(StrEnum):
    PENDING = "pending"  # not started yet
    REFUSED = "refused"  # failed preflight when the campaign was planned: never started
    SKIPPED = "skipped"  # never started: the campaign was aborted or stopped by its failure tolerance
    RUNNING = "running"  # its operation exists and has not ended (it may be paused for a person)
    COMPLETED = "completed"
    FAILED = "failed"
    ROLLED_BACK = "rolled_back"  # ended without the change: counts as a failure of the campaign


ACTIVE_TARGET_STATES = frozenset({TargetState.RUNNING})
FINAL_TARGET_STATES = frozenset(
    {TargetState.REFUSED, TargetState.SKIPPED, TargetState.COMPLETED, TargetState.FAILED, TargetState.ROLLED_BACK}
)


class CampaignState(StrEnum):
    RUNNING = "running"
    AWAITING_APPROVAL = "awaiting_approval"  # a wave ended; the next starts when a person resumes the campaign
    PAUSED = "paused"  # a person paused it: no new target starts
    HALTED = "halted"  # more failures than tolerated: no new target starts; the running ones go on
    ABORTING = "aborting"  # aborted by a person while targets still run: they go on, nothing new starts
    COMPLETED = "completed"  # every target ended, failures within tolerance
    FAILED = "failed"  # every started target ended after the tolerance was passed
    ABORTED = "aborted"


FINAL_CAMPAIGN_STATES = frozenset({CampaignState.COMPLETED, CampaignState.FAILED, CampaignState.ABORTED})


class CampaignTarget(BaseModel):
    """One target: where it is in the order, its operation, and what it came to."""

    index: int
    target_id: str
    wave: int
    operation_id: str
    params: dict[str, Any]
    state: TargetState = TargetState.PENDING
    # The operation's own state as last seen (created, running, paused, ...), and why it paused or failed.
    operation_state: str | None = None
    reason: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    # Step Functions: the child execution's name (the operation id) and ARN once started.
    execution_arn: str | None = None


class RequestRate(BaseModel):
    """What the campaign sent to RDS: the rate it used, against its budget.

    `tally` holds the requests by ten-second slot (`rds_maint.request_tally`): a local driver adds each
    call's as it goes (and reads the last minute back when it picks the campaign up); on Step Functions
    `campaign_target_ended` adds each ended target's operation's tally (`add_operation`). Slots no running
    target can add to any more are dropped, their busiest minute kept."""

    requests: int = 0
    seconds: float = 0.0
    peak_rps: float = 0.0  # the highest rate over any window of `window_seconds`
    window_seconds: float = 60.0
    tally: RequestTally = Field(default_factory=RequestTally)
    # When the campaign's first request was sent (its planning). None only outside a campaign's record: the
    # record fills in its creation time (`Campaign`), for a rate kept before this field was.
    started_at: datetime | None = None

    @property
    def mean_rps(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else 0.0

    def figures(self, budget_rps: float) -> dict[str, Any]:
        """The rate as documents show it (`campaign status --output json`, the campaign execution's output)."""
        return {
            "requests": self.requests,
            "seconds": round(self.seconds, 1),
            "mean_rps": round(self.mean_rps, 3),
            "peak_rps": self.peak_rps,
            "window_seconds": self.window_seconds,
            "budget_rps": budget_rps,
        }

    def add_operation(self, tally: RequestTally | None, now: datetime, reachable_from: datetime) -> None:
        """An ended target's operation sent `tally`; `reachable_from`: the earliest time a target not ended
        yet may have sent requests at (no later than `now`): slots before it can grow no more."""
        if tally is not None:
            self.tally.add_tally(tally)
        self.settle(now)
        self.tally.drop_before(slot_of(reachable_from), int(self.window_seconds))

    def settle(self, now: datetime) -> None:
        """The figures from the tally, over the time since the first request."""
        self.requests = max(self.requests, self.tally.requests)
        self.peak_rps = round(max(self.peak_rps, self.tally.peak_rps(int(self.window_seconds))), 3)
        if self.started_at is not None:
            self.seconds = max(self.seconds, (now - self.started_at).total_seconds())

    def with_running(self, tallies: list[RequestTally], now: datetime) -> RequestRate:
        """This rate with the tallies of targets still running added (what `campaign status` shows live)."""
        live = self.model_copy(deep=True)
        for tally in tallies:
            live.tally.add_tally(tally)
        live.settle(now)
        return live


class CampaignEvent(BaseModel):
    """What happened to the campaign itself (not to a target's operation: that is in the operation's log)."""

    type: str
    message: str
    timestamp: datetime
    actor: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)


class Campaign(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str
    request: CampaignRequest
    targets: list[CampaignTarget]
    state: CampaignState = CampaignState.RUNNING
    # The wave whose targets may start now; waves before it have ended.
    current_wave: int = 0
    # The last wave a person let start (with approve_waves); wave 0 needs no approval.
    approved_wave: int = 0
    created_at: datetime
    updated_at: datetime
    ended_at: datetime | None = None
    version: int = 0
    rate: RequestRate = Field(default_factory=RequestRate)
    history: list[CampaignEvent] = Field(default_factory=list)
    # Step Functions: the campaign execution's ARN, when it runs there.
    execution_arn: str | None = None
    schema_version: int = CAMPAIGN_SCHEMA_VERSION

    @field_validator("id")
    @classmethod
    def _id(cls, value: str) -> str:
        if not _CAMPAIGN_ID.match(value):
            raise ValueError(f"invalid campaign id {value!r}")
        return value

    @model_validator(mode="after")
    def _rate_started(self) -> Campaign:
        """A rate that does not say when its first request went (a record kept before rates were counted by
        slot) started with the campaign."""
        if self.rate.started_at is None:
            self.rate.started_at = self.created_at
        return self

    @property
    def waves(self) -> int:
        return 1 + max((t.wave for t in self.targets), default=0)

    def counts(self) -> dict[str, int]:
        """How many targets are in each state (every state present, zeros included)."""
        found = {state.value: 0 for state in TargetState}
        for target in self.targets:
            found[target.state.value] += 1
        return found

    @property
    def failures(self) -> int:
        return sum(1 for t in self.targets if t.state in (TargetState.FAILED, TargetState.ROLLED_BACK))

    def target(self, ref: str) -> CampaignTarget:
        """A target by its id or its operation id; KeyError if the campaign has none such."""
        for target in self.targets:
            if ref in (target.target_id, target.operation_id):
                return target
        raise KeyError(ref)
