"""What a person sees before an operation is created: the plan, its summary, and the question.

`plan`, `run` and `start-execution` show the same view, so what is confirmed is what `plan` showed.
The summary (planning.estimate) is what someone weighs at 2 a.m.: how long, how many times writes
stop and for how long, what extra instance is paid for. Off a terminal nobody can answer the
question, so a command that would create an operation refuses unless `--yes` was given: a script
must say it means it.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from rds_maint.errors import BadInput
from rds_maint.planning import PlanPreview
from rds_maint.planning.estimate import PlanEstimate, estimate_steps

__all__ = [
    "confirm_apply",
    "duration_text",
    "plan_json",
    "refuse_off_terminal",
    "show_plan",
    "stdin_is_terminal",
    "summary_json",
    "summary_lines",
]

_KIND_WORDS = {"failover": ("failover", "failovers"), "switchover": ("switchover", "switchovers")}
_KIND_WORDS["reboot"] = ("writer reboot", "writer reboots")
_KIND_WORDS |= {
    "multi_az_failover": ("failover to a standby", "failovers to a standby"),
    "downtime": ("downtime", "downtimes"),
}


def stdin_is_terminal() -> bool:
    """Whether a person can answer a question (tests replace this to play one)."""
    return sys.stdin.isatty()


def duration_text(seconds: float) -> str:
    """A rounded duration a person reads at a glance: '35 s', '1 min', '1 h 10 min', '7 days'."""
    if seconds < 60:
        return f"{round(seconds)} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, rest = divmod(minutes, 60)
    if hours >= 48:
        return f"{round(seconds / 86400)} days"
    return f"{hours} h {rest} min" if rest else f"{hours} h"


def _estimate(preview: PlanPreview) -> PlanEstimate:
    return estimate_steps(preview.plan.steps, writer_id=preview.cluster.writer_id)


def _interruption_lines(estimate: PlanEstimate) -> list[str]:
    by_kind: dict[str, list[float]] = {}
    for item in estimate.interruptions:
        by_kind.setdefault(item.kind, []).append(item.seconds)
    lines = []
    for kind, lengths in by_kind.items():
        one, many = _KIND_WORDS[kind]
        word = one if len(lengths) == 1 else many
        each = " each" if len(lengths) > 1 else ""
        lines.append(f"{len(lengths)} {word} of about {duration_text(max(lengths))}{each}")
    return lines


def summary_lines(preview: PlanPreview) -> list[str]:
    estimate = _estimate(preview)
    lines = [f"Steps: {len(preview.plan.steps)}; expected duration about {duration_text(estimate.total_seconds)}"]
    if estimate.retained_seconds:
        lines.append(f"  then the old cluster is kept {duration_text(estimate.retained_seconds)} before it is deleted")
    interruptions = _interruption_lines(estimate)
    lines.append("Write interruptions: " + ("; ".join(interruptions) if interruptions else "none expected"))
    if estimate.temp_instance_class:
        lines.append(
            f"Temporary instance: a {estimate.temp_instance_class} writer"
            f" for about {duration_text(estimate.temp_instance_seconds)}"
        )
    lines.append("Durations are typical AWS figures, not a promise; AWS often takes longer.")
    return lines


def summary_json(preview: PlanPreview) -> dict[str, Any]:
    estimate = _estimate(preview)
    return {
        "steps": len(preview.plan.steps),
        "expected_seconds": estimate.total_seconds,
        "retained_seconds": estimate.retained_seconds,
        "write_interruptions": [
            {"step_id": i.step_id, "kind": i.kind, "expected_seconds": i.seconds} for i in estimate.interruptions
        ],
        "temp_instance": (
            {"instance_class": estimate.temp_instance_class, "expected_seconds": estimate.temp_instance_seconds}
            if estimate.temp_instance_class
            else None
        ),
    }


def plan_json(preview: PlanPreview) -> dict[str, Any]:
    return {
        "operation_id": preview.operation_id,
        "cluster_id": preview.cluster.id,
        "region": preview.request.region,
        "type": preview.request.type.value,
        "steps": [
            s.model_dump(mode="json", include={"id", "name", "action", "description"}) for s in preview.plan.steps
        ],
        "notes": preview.plan.notes,
        "summary": summary_json(preview),
    }


def show_plan(preview: PlanPreview, *, err: bool = False) -> None:
    """The plan as text; `err`: on stderr (JSON mode keeps stdout for the one document)."""
    cluster = preview.cluster

    def echo(line: str) -> None:
        click.echo(line, err=err)

    echo(f"Plan {preview.operation_id}: {preview.request.type.value} on {cluster.id} in {preview.request.region}")
    echo(f"Cluster: {cluster.engine} {cluster.engine_version}")
    echo(
        f"Writer: {cluster.writer_id}; members: "
        + ", ".join(f"{m.id} ({m.instance.instance_class})" for m in cluster.members)
    )
    for number, step in enumerate(preview.plan.steps, start=1):
        echo(f"  {number:2d}. {step.name}: {step.description}")
    for note in preview.plan.notes:
        echo(f"  note: {note}")
    for line in summary_lines(preview):
        echo(line)


def refuse_off_terminal(yes: bool, command: str) -> None:
    """Before anything is asked of AWS: off a terminal, only `--yes` says a person meant it."""
    if not yes and not stdin_is_terminal():
        raise BadInput(f"{command} creates an operation and no one is at a terminal to confirm it: pass --yes")


def confirm_apply(preview: PlanPreview, *, yes: bool, json_mode: bool, what: str) -> bool:
    """Show the plan (text mode always, JSON mode on stderr when asking) and ask; True to go on.
    `what`: what saying yes does, in words."""
    if yes and json_mode:
        return True
    show_plan(preview, err=json_mode)
    if yes:
        return True
    return click.confirm(f"{what}?", default=False, err=json_mode)
