"""A plan saved to a file (`plan --out`), and the check that it still holds (`run --plan`).

A person reviews a plan, maybe in a change ticket, and later applies it. What runs must be what was
reviewed: the same operation id (so the same temp instance and parameter group names) and the same
steps. The file keeps the request, not the steps alone, so the plan can be made again from the live
cluster under the saved id; if the cluster changed since (a reader added, another class), the steps
differ and the plan is refused instead of silently becoming another one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rds_maint.errors import BadInput
from rds_maint.model import Step
from rds_maint.planning.request import PlanPreview

__all__ = ["PLAN_FORMAT", "SavedPlan", "plan_document", "read_plan", "step_difference"]

# Bumped when the file's meaning changes; an unknown format is refused, never guessed at.
PLAN_FORMAT = 1

_STEP_FIELDS = ("id", "name", "action", "parameters")


@dataclass(frozen=True)
class SavedPlan:
    operation_id: str
    request: dict[str, Any]
    region: str
    steps: list[dict[str, Any]]


def _step_record(step: Step) -> dict[str, Any]:
    return step.model_dump(mode="json", include={"id", "name", "action", "description", "parameters"})


def plan_document(preview: PlanPreview, request: dict[str, Any], planned_at: datetime) -> dict[str, Any]:
    """What `plan --out` writes: enough to make the same plan again and to see it without the tool."""
    return {
        "format": PLAN_FORMAT,
        "operation_id": preview.operation_id,
        "region": preview.request.region,
        "planned_at": planned_at.isoformat(),
        "request": request,
        "steps": [_step_record(s) for s in preview.plan.steps],
    }


def read_plan(path: str) -> SavedPlan:
    """The saved plan in `path`, or BadInput naming the file and what is wrong with it."""
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except OSError as exc:
        raise BadInput(f"--plan {path}: {exc.strerror or exc}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadInput(f"--plan {path}: not a plan file (not JSON: {exc})") from None
    if not isinstance(data, dict):
        raise BadInput(f"--plan {path}: not a plan file (expected a JSON object from rds-maint plan --out)")
    if data.get("format") != PLAN_FORMAT:
        raise BadInput(f"--plan {path}: unknown plan format {data.get('format')!r} (this version reads {PLAN_FORMAT})")
    operation_id, request, region, steps = (data.get(k) for k in ("operation_id", "request", "region", "steps"))
    if not isinstance(operation_id, str) or not operation_id:
        raise BadInput(f"--plan {path}: 'operation_id' must be a non-empty string")
    if not isinstance(request, dict):
        raise BadInput(f"--plan {path}: 'request' must be an object")
    if not isinstance(region, str) or not region:
        raise BadInput(f"--plan {path}: 'region' must be a non-empty string")
    if not isinstance(steps, list) or not all(isinstance(s, dict) for s in steps):
        raise BadInput(f"--plan {path}: 'steps' must be a list of objects")
    return SavedPlan(operation_id=operation_id, request={**request, "region": region}, region=region, steps=steps)


def _changes(field: str, was: Any, now: Any) -> str:
    """One field's change in words; for parameters, only the keys that changed."""
    if field != "parameters" or not isinstance(was, dict) or not isinstance(now, dict):
        return f"{field} {was!r} -> {now!r}"
    keys = [k for k in dict.fromkeys([*was, *now]) if was.get(k) != now.get(k)]
    return ", ".join(f"{k} {was.get(k)!r} -> {now.get(k)!r}" for k in keys)


def step_difference(saved: list[dict[str, Any]], now: list[Step]) -> str | None:
    """How the plan made now differs from the saved one, in words; None when they are the same."""
    current = [{k: v for k, v in _step_record(s).items() if k in _STEP_FIELDS} for s in now]
    for number, (was, is_) in enumerate(zip(saved, current, strict=False), start=1):
        was = {k: was.get(k) for k in _STEP_FIELDS}
        if was != is_:
            changed = "; ".join(_changes(k, was[k], is_[k]) for k in _STEP_FIELDS if was[k] != is_[k])
            return f"step {number} ({was['name']}) differs: {changed}"
    if len(saved) != len(current):
        extra = current[len(saved) :] or saved[len(current) :]
        which = "now has {} more step(s)" if len(current) > len(saved) else "no longer has {} step(s)"
        names = ", ".join(str(s.get("name")) for s in extra)
        return f"the plan {which.format(len(extra))} ({len(saved)} saved, {len(current)} now): {names}"
    return None
