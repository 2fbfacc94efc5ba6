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
from rds_maint.progress.naming import target_text
from rds_maint.snapshots import ClusterSnapshot, InstanceSnapshot

__all__ = [
    "confirm_apply",
    "duration_text",
    "plan_json",
    "refuse_off_terminal",
    "show_plan",
    "stdin_is_terminal",
    "summary_json",
    "summary_lines",
    "target_lines",
]

_KIND_WORDS = {"failover": ("failover", "failovers"), "switchover": ("switchover", "switchovers")}
_KIND_WORDS["reboot"] = ("writer reboot", "writer reboots")
_KIND_WORDS["multi_az_failover"] = ("Multi-AZ failover", "Multi-AZ failovers")
_KIND_WORDS["downtime"] = ("downtime (the database is unavailable)", "downtimes (the database is unavailable)")


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
    target = preview.target
    writer_id = target.writer_id if isinstance(target, ClusterSnapshot) else None
    return estimate_steps(preview.plan.steps, writer_id=writer_id)


def _interruption_lines(estimate: PlanEstimate) -> list[str]:
    by_kind: dict[str, list[float]] = {}
    for item in estimate.interruptions:
        by_kind.setdefault(item.kind, []).append(item.seconds)
    lines = []
    for kind, lengths in by_kind.items():
        one, many = _KIND_WORDS.get(kind, (kind.replace("_", " "), kind.replace("_", " ") + "s"))
        word = one if len(lengths) == 1 else many
        each = " each" if len(lengths) > 1 else ""
        lines.append(f"{len(lengths)} {word} of about {duration_text(max(lengths))}{each}")
    return lines


def summary_lines(preview: PlanPreview) -> list[str]:
    estimate = _estimate(preview)
    lines = [f"Steps: {len(preview.plan.steps)}; expected duration about {duration_text(estimate.total_seconds)}"]
    if estimate.retained_seconds:
        old = "instance" if preview.kind == "db_instance" else "cluster"
        lines.append(f"  then the old {old} is kept {duration_text(estimate.retained_seconds)} before it is deleted")
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
        "target_id": preview.target.id,
        "target_type": preview.kind,
        "cluster_id": preview.request.cluster_id,
        "instance_id": preview.request.instance_id,
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

    def echo(line: str) -> None:
        click.echo(line, err=err)

    request = preview.request
    where = target_text(request.target_id, "instance" if request.instance_id else "cluster")
    echo(f"Plan {preview.operation_id}: {request.type.value} on {where} in {request.region}")
    for line in target_lines(preview):
        echo(line)
    for number, step in enumerate(preview.plan.steps, start=1):
        echo(f"  {number:2d}. {step.name}: {step.description}")
    for note in preview.plan.notes:
        echo(f"  note: {note}")
    for line in summary_lines(preview):
        echo(line)


def _storage_text(storage_type: str | None, gib: int | None, iops: int | None, throughput: int | None) -> str:
    """`gp3 500 GiB, 12000 IOPS, 500 MiB/s`: what the storage is, as far as AWS reported it."""
    parts = [storage_type or "unknown"]
    if gib:
        parts[0] += f" {gib} GiB"
    if iops:
        parts.append(f"{iops} IOPS")
    if throughput:
        parts.append(f"{throughput} MiB/s")
    return ", ".join(parts)


def _instance_lines(instance: InstanceSnapshot) -> list[str]:
    if instance.multi_az:
        standby = instance.secondary_availability_zone or "?"
        zones = f"Multi-AZ: primary in {instance.availability_zone or '?'}, standby in {standby}"
    else:
        zones = f"Single-AZ in {instance.availability_zone or '?'}"
    storage = _storage_text(
        instance.storage_type, instance.allocated_storage, instance.iops, instance.storage_throughput
    )
    lines = [
        f"Instance: {instance.engine} {instance.engine_version}, {instance.instance_class}; {zones}",
        f"Storage: {storage}",
    ]
    if instance.read_replica_ids:
        lines.append(f"Read replicas: {', '.join(instance.read_replica_ids)}")
    return lines


def _cluster_lines(cluster: ClusterSnapshot) -> list[str]:
    members = "members: " + ", ".join(f"{m.id} ({m.instance.instance_class})" for m in cluster.members)
    if cluster.is_multi_az_db_cluster:
        storage = _storage_text(
            cluster.storage_type, cluster.allocated_storage, cluster.iops, cluster.storage_throughput
        )
        return [
            f"Multi-AZ DB cluster: {cluster.engine} {cluster.engine_version}, {cluster.cluster_instance_class}",
            f"Storage: {storage}",
            f"Writer: {cluster.writer_id}; {members}",
        ]
    return [f"Cluster: {cluster.engine} {cluster.engine_version}", f"Writer: {cluster.writer_id}; {members}"]


def target_lines(preview: PlanPreview) -> list[str]:
    """What the plan was made on: an Aurora cluster and its members, a Multi-AZ DB cluster with its class
    and storage, or a DB instance with its zones (a Single-AZ one has no standby) and storage."""
    target = preview.target
    return _cluster_lines(target) if isinstance(target, ClusterSnapshot) else _instance_lines(target)


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
