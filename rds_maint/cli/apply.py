"""`plan`, `create` and `run`: see what an operation would do, store it, carry it out."""

from __future__ import annotations

import json
from typing import Any

import click

from rds_maint.cli import common, control, request_flags
from rds_maint.cli.driving import run_operation
from rds_maint.errors import BadInput

__all__ = ["create", "plan", "run"]


@click.command()
@common.common_options
@request_flags.request_options
def plan(**kw: Any) -> None:
    """Show the steps an operation would take. Changes nothing."""

    def body() -> int:
        engine = common.engine()
        preview = engine.preview(request_flags.request(**kw))
        if common.opts().output == "json":
            click.echo(
                json.dumps(
                    {
                        "cluster_id": preview.cluster.id,
                        "type": preview.request.type.value,
                        "steps": [
                            s.model_dump(mode="json", include={"id", "name", "action", "description"})
                            for s in preview.plan.steps
                        ],
                        "notes": preview.plan.notes,
                    },
                    indent=2,
                )
            )
        else:
            cluster = preview.cluster
            click.echo(
                f"Plan: {preview.request.type.value} on {cluster.id} ({cluster.engine} {cluster.engine_version})"
            )
            click.echo(
                f"Writer: {cluster.writer_id}; members: "
                + ", ".join(f"{m.id} ({m.instance.instance_class})" for m in cluster.members)
            )
            for number, step in enumerate(preview.plan.steps, start=1):
                click.echo(f"  {number:2d}. {step.name}: {step.description}")
            for note in preview.plan.notes:
                click.echo(f"  note: {note}")
            click.echo("Nothing was changed.")
        return common.EXIT_OK

    common.guard(body)


@click.command()
@common.common_options
@request_flags.request_options
def create(**kw: Any) -> None:
    """Validate and store a new operation (not started)."""

    def body() -> int:
        op = common.engine().create(request_flags.request(**kw))
        if common.opts().output == "json":
            click.echo(op.model_dump_json(indent=2))
        else:
            click.echo(f"Created {op.id} ({op.type.value} on {op.cluster_id}, {len(op.steps)} steps).")
            click.echo(f"Run it with: rds-maint run {op.id}{common.store_flag()}")
        return common.EXIT_OK

    common.guard(body)


@click.command()
@common.common_options
@request_flags.request_options
@click.argument("operation_id", required=False)
def run(operation_id: str | None, **kw: Any) -> None:
    """Create (or take OPERATION_ID) and drive it to completion or a pause, showing progress."""

    def body() -> int:
        engine = common.engine()
        op_id = operation_id
        if op_id is None:
            op_id = engine.create(request_flags.request(**kw)).id
        elif any(kw[k] for k in ("op_type", "cluster", "params", "input_file")):
            raise BadInput("give either an OPERATION_ID or --type/--cluster/--param, not both")
        else:
            control.apply_run_flags(engine, op_id, kw)
        return run_operation(engine, op_id, engine.clock.sleep)

    common.guard(body)
