"""How a campaign's plan is shown before it is created: per target its operation's summary, then the campaign's.

What a person weighs before saying yes to many changes at once: which targets, in which wave, how long each
and the whole campaign take, how often writes stop on each, what stops the campaign (the failure tolerance,
a failed canary), how hard it leans on RDS (the request budget, and what planning itself sent, paced by it),
and which targets would not run and why.
Each target's figures are its operation's, from `plan_view` (the same estimate `rds-maint plan` shows); the
campaign's duration is the planner's schedule arithmetic (`campaign.planner.campaign_seconds`).

`plan_document` is the same content as JSON for scripts: snake_case keys, kept stable (new keys may be
added, none renamed or removed).
"""

from __future__ import annotations

from typing import Any

from rds_maint.campaign.planner import CampaignPlan, TargetPlan, campaign_seconds
from rds_maint.campaign.targets import tag_text
from rds_maint.campaign_model import DEFAULT_BUDGET_RPS
from rds_maint.cli.plan_view import duration_text, plan_json, summary_json, summary_lines

__all__ = ["plan_document", "plan_text"]

_INTERRUPTIONS = "Write interruptions: "
_KIND_WORDS = {"cluster": ("cluster", "clusters"), "instance": ("DB instance", "DB instances")}
# RDS's own limit the budget is a share of (FIELD_NOTES 4.9: 12 requests/s per account and Region, shared).
_RDS_RPS = 12
_GIST = 60


def _count(n: int, kind: str) -> str:
    one, many = _KIND_WORDS[kind]
    return f"{n} {one if n == 1 else many}"


def _interruptions(target: TargetPlan) -> str:
    """The write interruptions of one target's plan, in `rds-maint plan`'s words ("-" when refused)."""
    if target.preview is None:
        return "-"
    for line in summary_lines(target.preview):
        if line.startswith(_INTERRUPTIONS):
            return line[len(_INTERRUPTIONS) :]
    return "-"


def _waves(plan: CampaignPlan) -> list[dict[str, Any]]:
    request = plan.request
    found = []
    for wave in sorted({t.wave for t in plan.targets}):
        members = [t for t in plan.targets if t.wave == wave]
        found.append(
            {
                "wave": wave,
                "canary": wave == 0 and request.canary > 0 and len(plan.targets) > request.canary,
                "targets": len(members),
                "runnable": sum(1 for t in members if t.refusal is None),
                "expected_seconds": campaign_seconds(members, request.max_concurrency),
                "needs_approval": request.approve_waves and wave > 0,
            }
        )
    return found


def _tolerance(plan: CampaignPlan) -> dict[str, Any]:
    tolerance = plan.request.failure_tolerance
    allowed = tolerance.allowed(len(plan.targets))
    canary = any(w["canary"] for w in _waves(plan))
    stop = "no new target starts, the running ones go on to their end, then the campaign has failed"
    past_it = f"at {allowed + 1} failed target{'s' if allowed else ''}, {stop}"
    if canary:
        past_it += "; any failure in the canary wave stops it the same way"
    return {
        "text": str(tolerance),
        "count": tolerance.count,
        "percent": tolerance.percent,
        "allowed_failures": allowed,
        "of_targets": len(plan.targets),
        "past_it": past_it,
    }


def _refused_outcome(plan: CampaignPlan) -> str:
    refused, runnable = len(plan.refused), len(plan.runnable)
    if not refused:
        return ""
    if not runnable:
        return "no target can run: the campaign cannot be created"
    if plan.request.skip_refused:
        return f"--skip-refused given: the other {runnable} run, these are recorded as refused and never started"
    these = "this one" if refused == 1 else f"these {refused}"
    return (
        f"the campaign is not created as it is: --skip-refused would run the other {runnable} and record "
        f"{these} as refused (never started)"
    )


def _gist(refusal: str) -> str:
    """The refusal's first clause for the table (the whole text is listed under it)."""
    first = refusal.splitlines()[0]
    for stop in (": ", "; ", ". "):
        if stop in first:
            first = first.split(stop, 1)[0]
    return first if len(first) <= _GIST else first[: _GIST - 3] + "..."


def _row(cells: list[str], widths: list[int]) -> str:
    return "  " + "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()


def plan_text(plan: CampaignPlan) -> str:
    request = plan.request
    named = f" (tag {tag_text(request.tag)})" if request.tag else ""
    lines = [
        f"Campaign {plan.campaign_id}: {request.type.value} on {_count(len(plan.targets), request.kind)}"
        f" in {request.region}{named}"
    ]
    header = ["#", "target", "wave", "operation", "steps", "expected", "write interruptions", "refusal"]
    rows = [
        [
            str(t.index + 1),
            t.target_id,
            str(t.wave),
            t.operation_id,
            str(len(t.preview.plan.steps)) if t.preview else "-",
            duration_text(t.expected_seconds) if t.preview else "-",
            _interruptions(t),
            _gist(t.refusal) + " (below)" if t.refusal else "-",
        ]
        for t in plan.targets
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines += [_row(header, widths), *(_row(r, widths) for r in rows)]
    lines.append(
        f"Expected duration: about {duration_text(plan.expected_seconds)} at most {request.max_concurrency} at a"
        " time, waves in order (a person's approvals and answers not counted)"
    )
    waves = _waves(plan)
    wave_parts = []
    for w in waves:
        label = f"wave {w['wave']}" + (" (canary)" if w["canary"] else "")
        runnable = f", {w['runnable']} runnable" if w["runnable"] != w["targets"] else ""
        approval = ", after a person approves it" if w["needs_approval"] else ""
        length = f"about {duration_text(w['expected_seconds'])}" if w["runnable"] else "nothing runs"
        wave_parts.append(f"{label}: {_count(w['targets'], request.kind)}{runnable}, {length}{approval}")
    lines.append(f"Waves: {len(waves)}; " + "; ".join(wave_parts))
    tolerance = _tolerance(plan)
    allowed = tolerance["allowed_failures"]
    share = f"{tolerance['text']} of {tolerance['of_targets']} targets" if tolerance["percent"] is not None else ""
    may = f"{share}{' = ' if share else ''}{allowed} {'target' if allowed == 1 else 'targets'} may fail"
    lines.append(f"Failure tolerance: {may}; {tolerance['past_it']}")
    default = " (the default)" if request.budget_rps == DEFAULT_BUDGET_RPS else ""
    lines.append(
        f"Request budget: {request.budget_rps:g} RDS requests/s for the whole campaign{default}; RDS allows about"
        f" {_RDS_RPS}/s per account and Region, shared with everything else"
    )
    lines.append(_planning_text(plan))
    if plan.refused:
        lines.append(f"Refused ({len(plan.refused)} of {len(plan.targets)}):")
        for t in plan.refused:
            reason = (t.refusal or "").replace("\n", " ")
            lines.append(f"  {t.target_id}: {reason}")
        lines.append(f"  {_refused_outcome(plan)}")
    lines.append("Durations are typical AWS figures, not a promise; AWS often takes longer.")
    return "\n".join(lines)


def _planning_text(plan: CampaignPlan) -> str:
    """What planning sent, how long it took, against the budget (it is paced by it, as the run is)."""
    rate, budget = plan.rate, f"budget {plan.request.budget_rps:g} req/s"
    sent = f"Planning: {rate.requests} RDS request{'' if rate.requests == 1 else 's'}"
    if rate.seconds < 1:
        return f"{sent} in under a second ({budget})"
    if rate.seconds < rate.window_seconds:
        # a mean over less than a window reads high: the pacing waits after each call, so the time after
        # the last one is not in it (9 requests paced at 2 req/s go out in 3.5 s)
        return f"{sent} in {duration_text(rate.seconds)} ({budget})"
    return f"{sent} in {duration_text(rate.seconds)} ({rate.mean_rps:.2f} req/s; {budget})"


def _planning_document(plan: CampaignPlan) -> dict[str, Any]:
    rate = plan.rate
    return {
        "requests": rate.requests,
        "seconds": rate.seconds,
        "mean_rps": round(rate.mean_rps, 3),
        "peak_rps": rate.peak_rps,
        "window_seconds": rate.window_seconds,
        "started_at": rate.started_at.isoformat() if rate.started_at else None,
    }


def _target_document(t: TargetPlan) -> dict[str, Any]:
    return {
        "index": t.index,
        "target_id": t.target_id,
        "wave": t.wave,
        "operation_id": t.operation_id,
        "params": t.params,
        "refusal": t.refusal,
        "expected_seconds": t.expected_seconds,
        "summary": summary_json(t.preview) if t.preview else None,
        "steps": plan_json(t.preview)["steps"] if t.preview else [],
    }


def plan_document(plan: CampaignPlan) -> dict[str, Any]:
    request = plan.request
    return {
        "campaign_id": plan.campaign_id,
        "type": request.type.value,
        "kind": request.kind,
        "region": request.region,
        "tag": {"key": request.tag[0], "value": request.tag[1]} if request.tag else None,
        "params": request.params,
        "overrides": request.overrides,
        "pause_before_steps": list(request.pause_before_steps),
        "wait_timeout": request.wait_timeout,
        "max_concurrency": request.max_concurrency,
        "canary": request.canary,
        "wave_size": request.wave_size,
        "approve_waves": request.approve_waves,
        "budget_rps": request.budget_rps,
        "planning_requests": plan.requests,
        "planning": _planning_document(plan),
        "expected_seconds": plan.expected_seconds,
        "waves": _waves(plan),
        "failure_tolerance": _tolerance(plan),
        "skip_refused": request.skip_refused,
        "runnable": len(plan.runnable),
        "refused": [{"target_id": t.target_id, "refusal": t.refusal} for t in plan.refused],
        "refused_outcome": _refused_outcome(plan) or None,
        "targets": [_target_document(t) for t in plan.targets],
    }
