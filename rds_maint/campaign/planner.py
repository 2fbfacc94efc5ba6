"""A campaign's plan: each target's operation planned as `rds-maint plan` would, changing nothing.

Each target is previewed under the operation id it will have (`target_operation_id`), so the names derived
from the id (temp instances, parameter groups) are the ones the run will use. A target whose preview is
refused (it fails preflight, is busy, does not exist) is kept with the reason: `campaign_of` refuses the
campaign unless the request says to run the rest (`skip_refused`).

What is refused once for the whole campaign instead of once per target: a request every target's operation
would refuse alike (a params key the operation type does not take, a bad value no override replaces), so
that a typo reads as one message, not twenty. Those checks need no AWS call. A target held by another
operation of this store is refused before it is described (the holder named); one held by an operation of
another store shows in its describe (the cluster's mark) and is refused by the preview.

Planning keeps to the campaign's request budget (`request.budget_rps`) as the run does: it shares RDS's
limit with everything else, and previewing 200 targets in one burst (3 requests each) is twice RDS's burst
allowance (FIELD_NOTES 4.9). Each preview waits on the engine's clock (virtual in the simulator and in
rehearsals) for room in a `RequestBudget`, and what each sent is measured on the gateway's call count. The
plan keeps that budget's rate (`CampaignPlan.rate`), and the campaign's record starts from it
(`campaign_of`), so the rate a campaign reports includes its planning, and the first drive's window holds
planning's last minute.

The campaign's expected duration is the arithmetic of its schedule (`campaign.schedule`): waves one after
the other, each target of a wave into the first free of `max_concurrency` slots, each taking what its own
plan's estimate says (`planning.estimate`, the figure `rds-maint plan` shows). A person's approvals between
waves and pauses for answers are not counted.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rds_maint.campaign.budget import RequestBudget
from rds_maint.campaign.schedule import wave_of_each
from rds_maint.campaign.targets import resolve_targets
from rds_maint.campaign_model import (
    Campaign,
    CampaignRequest,
    CampaignTarget,
    RequestRate,
    TargetState,
    target_operation_id,
)
from rds_maint.engine import Engine, PlanPreview
from rds_maint.engine.coordination import live_holder, locked_error
from rds_maint.errors import BadInput
from rds_maint.model import PARAMS_BY_TYPE

__all__ = [
    "CampaignPlan",
    "PlanningProgress",
    "TargetPlan",
    "campaign_of",
    "campaign_seconds",
    "new_campaign_id",
    "operation_request",
    "plan_campaign",
    "resolve_targets",
]


@dataclass(frozen=True)
class TargetPlan:
    index: int
    target_id: str
    wave: int
    operation_id: str
    params: dict[str, Any]
    preview: PlanPreview | None
    refusal: str | None
    expected_seconds: float


@dataclass(frozen=True)
class CampaignPlan:
    campaign_id: str
    request: CampaignRequest
    targets: tuple[TargetPlan, ...]
    # The campaign's expected duration at its max_concurrency, waves in order (approvals not counted).
    expected_seconds: float
    # The RDS requests the planning itself made (the tag's listing and every preview), against the same
    # account-wide limit as the campaign's run: requests, seconds, peak, tally, started_at (planning began).
    rate: RequestRate = field(default_factory=RequestRate)

    @property
    def requests(self) -> int:
        return self.rate.requests

    @property
    def refused(self) -> tuple[TargetPlan, ...]:
        return tuple(t for t in self.targets if t.refusal is not None)

    @property
    def runnable(self) -> tuple[TargetPlan, ...]:
        return tuple(t for t in self.targets if t.refusal is None)


def new_campaign_id(now: datetime) -> str:
    return f"c-{now.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"


def operation_request(request: CampaignRequest, target_id: str) -> dict[str, Any]:
    """The create request of one target's operation: the campaign's params, then the target's overrides."""
    data: dict[str, Any] = {
        "type": request.type.value,
        "cluster_id" if request.kind == "cluster" else "instance_id": target_id,
        "region": request.region,
        "params": {**request.params, **request.overrides.get(target_id, {})},
    }
    if request.pause_before_steps:
        data["pause_before_steps"] = list(request.pause_before_steps)
    if request.wait_timeout is not None:
        data["wait_timeout"] = request.wait_timeout
    return data


def _expected(preview: PlanPreview) -> float:
    """The plan's expected duration, as `rds-maint plan` shows it (the writer known, as there)."""
    from rds_maint.planning.estimate import estimate_steps
    from rds_maint.snapshots import ClusterSnapshot

    writer_id = preview.target.writer_id if isinstance(preview.target, ClusterSnapshot) else None
    return float(estimate_steps(preview.plan.steps, writer_id=writer_id).total_seconds)


def _judged(request: CampaignRequest, ids: list[str]) -> dict[str, str]:
    """Each target's request judged on its own (no AWS call): target id -> the refusal of those refused.

    BadInput for the campaign when the fault is the campaign's: a params key its operation type does not
    take (in every target's params, whatever the overrides), or one refusal shared by every target."""
    from rds_maint.planning.request import parse_request

    refusals: dict[str, str] = {}
    for target_id in ids:
        try:
            parse_request(operation_request(request, target_id))
        except BadInput as exc:
            refusals[target_id] = str(exc)
    if len(refusals) < len(ids):  # some target's request stands: the others' refusals are their own
        return refusals
    unknown = set(request.params) - set(PARAMS_BY_TYPE[request.type].model_fields)
    messages = set(refusals.values())
    if unknown or len(messages) == 1:
        raise BadInput(refusals[ids[0]])
    return refusals


def _holder_refusal(engine: Engine, request: CampaignRequest, target_id: str) -> str | None:
    """Another operation of this store holds the target's lock: named, before AWS is asked anything."""
    holder = live_holder(engine.store, target_id, request.region, request.kind)
    return str(locked_error(target_id, request.region, holder, request.kind)) if holder is not None else None


PlanningProgress = Callable[[int, int], None]
"""Told after each target is planned: (targets planned so far, targets in all)."""


def plan_campaign(
    engine: Engine, request: CampaignRequest, campaign_id: str, progress: PlanningProgress | None = None
) -> CampaignPlan:
    """Every target previewed (nothing written, no AWS change), paced by the campaign's budget; BadInput
    only for a request that names no usable target at all (an unknown override target, a tag that matches
    nothing) or that every target's operation would refuse alike (see the module docstring)."""
    rds = engine.rds(request.region)
    clock = engine.clock
    budget = RequestBudget(request.budget_rps, clock.now())

    def sent_since(before: int, kind: str) -> None:
        budget.spent(clock.now(), kind, sum(rds.calls.values()) - before)

    before = sum(rds.calls.values())
    ids = resolve_targets(engine, request)
    sent_since(before, "listing")
    unknown = sorted(set(request.overrides) - set(ids))
    if unknown:
        raise BadInput(f"--override names targets the campaign does not have: {', '.join(unknown)}")
    judged = _judged(request, ids)
    waves = wave_of_each(len(ids), request.canary, request.wave_size)
    targets = []
    for index, target_id in enumerate(ids):
        operation_id = target_operation_id(campaign_id, index)
        data = operation_request(request, target_id)
        preview: PlanPreview | None = None
        refusal = judged.get(target_id) or _holder_refusal(engine, request, target_id)
        if refusal is None:
            wait = budget.wait_seconds(clock.now(), "preview")
            if wait > 0:
                clock.sleep(wait)
            before = sum(rds.calls.values())
            try:
                preview = engine.preview(data, request.region, operation_id=operation_id)
            except BadInput as exc:
                refusal = str(exc)
            sent_since(before, "preview")
        expected = _expected(preview) if preview is not None else 0.0
        targets.append(
            TargetPlan(index, target_id, waves[index], operation_id, data["params"], preview, refusal, expected)
        )
        if progress is not None:
            progress(index + 1, len(ids))
    expected = campaign_seconds(targets, request.max_concurrency)
    return CampaignPlan(campaign_id, request, tuple(targets), expected, budget.rate(clock.now()))


def campaign_seconds(targets: Sequence[TargetPlan], concurrency: int) -> float:
    """Waves one after the other; in each, the runnable targets start in order, each into the slot that
    frees first of `concurrency` (as `schedule.next_starts` fills them); a wave lasts until its last ends."""
    total = 0.0
    for wave in sorted({t.wave for t in targets}):
        slots = [0.0] * concurrency
        for target in (t for t in targets if t.wave == wave and t.refusal is None):
            slots.sort()
            slots[0] += target.expected_seconds
        total += max(slots)
    return total


def campaign_of(plan: CampaignPlan, now: datetime) -> Campaign:
    """The campaign record to store from a plan a person accepted; BadInput if a target is refused and the
    request does not say to run the rest, or if no target can run."""
    refused = plan.refused
    if refused and not plan.request.skip_refused:
        lines = "\n".join(f"  {t.target_id}: {t.refusal}" for t in refused)
        raise BadInput(
            f"{len(refused)} of {len(plan.targets)} targets fail preflight:\n{lines}\n"
            "fix them, leave them out, or pass --skip-refused to run the rest"
        )
    if not plan.runnable:
        raise BadInput("no target of the campaign can run: every one fails preflight")
    targets = [
        CampaignTarget(
            index=t.index,
            target_id=t.target_id,
            wave=t.wave,
            operation_id=t.operation_id,
            params=t.params,
            state=TargetState.REFUSED if t.refusal else TargetState.PENDING,
            reason=t.refusal,
        )
        for t in plan.targets
    ]
    return Campaign(
        id=plan.campaign_id,
        request=plan.request,
        targets=targets,
        created_at=now,
        updated_at=now,
        rate=plan.rate.model_copy(deep=True),  # the campaign's rate starts with its planning's
    )
