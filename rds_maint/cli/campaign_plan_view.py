"""How a campaign's plan is shown: per target its operation's plan summary, then the campaign's."""

from __future__ import annotations

from typing import Any

from rds_maint.campaign.planner import CampaignPlan

__all__ = ["plan_document", "plan_text"]


def plan_text(plan: CampaignPlan) -> str:
    lines = [f"Campaign {plan.campaign_id}: {plan.request.type.value} on {len(plan.targets)} targets"]
    for t in plan.targets:
        lines.append(f"  {t.index + 1:>4}  {t.target_id:<40} wave {t.wave}  {t.refusal or t.operation_id}")
    lines.append(f"Expected duration at concurrency {plan.request.max_concurrency}: {plan.expected_seconds:.0f} s")
    return "\n".join(lines)


def plan_document(plan: CampaignPlan) -> dict[str, Any]:
    return {
        "campaign_id": plan.campaign_id,
        "expected_seconds": plan.expected_seconds,
        "targets": [
            {
                "index": t.index,
                "target_id": t.target_id,
                "wave": t.wave,
                "operation_id": t.operation_id,
                "refusal": t.refusal,
                "expected_seconds": t.expected_seconds,
            }
            for t in plan.targets
        ],
    }
