"""The `rds-maint` commands that plan, run and look at operations, and the store and lock commands."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click

from rds_maint.cli import common
from rds_maint.engine import Engine
from rds_maint.errors import BadInput
from rds_maint.intervention import mask_token
from rds_maint.model import Operation, OperationState
from rds_maint.progress import Progress, drive

__all__ = [
    "create",
    "demo",
    "events",
    "init",
    "list_operations",
    "plan",
    "reset",
    "run",
    "run_operation",
    "status",
    "unlock",
]


@click.command()
@common.common_options
@common.request_options
def plan(**kw: Any) -> None:
    """Show the steps an operation would take. Changes nothing."""

    def body() -> int:
        engine = common.engine()
        preview = engine.preview(common.request(**kw))
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
@common.request_options
def create(**kw: Any) -> None:
    """Validate and store a new operation (not started)."""

    def body() -> int:
        op = common.engine().create(common.request(**kw))
        if common.opts().output == "json":
            click.echo(op.model_dump_json(indent=2))
        else:
            click.echo(f"Created {op.id} ({op.type.value} on {op.cluster_id}, {len(op.steps)} steps).")
            click.echo(f"Run it with: rds-maint run {op.id}{common.store_flag()}")
        return common.EXIT_OK

    common.guard(body)


@click.command()
@common.common_options
@common.request_options
@click.argument("operation_id", required=False)
def run(operation_id: str | None, **kw: Any) -> None:
    """Create (or take OPERATION_ID) and drive it to completion or a pause, showing progress."""

    def body() -> int:
        engine = common.engine()
        op_id = operation_id
        if op_id is None:
            op_id = engine.create(common.request(**kw)).id
        elif any(kw[k] for k in ("op_type", "cluster", "params", "input_file")):
            raise BadInput("give either an OPERATION_ID or --type/--cluster/--param, not both")
        return run_operation(engine, op_id, engine.clock.sleep)

    common.guard(body)


def run_operation(engine: Engine, op_id: str, sleep: Callable[[float], None]) -> int:
    op = engine.store.load(op_id)
    if not op.state.is_final:
        engine.rds(op.region).check_credentials()  # a missing login fails here, before any step changes
    progress = Progress(engine, op_id, json_output=common.opts().output == "json", store_flag=common.store_flag())
    engine.start(op_id)
    try:
        result = drive(engine, op_id, sleep, progress)
    except KeyboardInterrupt:
        click.echo(
            f"\nInterrupted. The operation is saved; carry on with: rds-maint run {op_id}{common.store_flag()}",
            err=True,
        )
        return 130
    progress.finish(result)
    return common.exit_code(result)


@click.command()
@common.common_options
@click.argument("operation_id")
def status(operation_id: str) -> None:
    """Show an operation: state, steps, what it waits for."""

    def body() -> int:
        engine = common.engine()
        op = engine.store.load(operation_id)
        result = engine.report(op)
        if common.opts().output == "json":
            click.echo(json.dumps({"operation": _public(op), "result": result.to_dict()}, indent=2))
        else:
            Progress(engine, op.id, store_flag=common.store_flag()).show_operation(op)
        return common.exit_code(result) if op.state is not OperationState.RUNNING else common.EXIT_OK

    common.guard(body)


def _public(op: Operation) -> dict[str, Any]:
    """The operation as JSON with its task token (a bearer credential) masked."""
    data = op.model_dump(mode="json")
    if data.get("intervention"):
        data["intervention"]["task_token"] = mask_token(op.intervention.task_token if op.intervention else None)
    return data


@click.command(name="list")
@common.common_options
@click.option("--cluster", help="Only operations on this cluster.")
@click.option("--state", help="Only operations in this state.")
def list_operations(cluster: str | None, state: str | None) -> None:
    """List operations in the store."""

    def body() -> int:
        if state is not None and state not in {s.value for s in OperationState}:
            allowed = ", ".join(s.value for s in OperationState)
            raise BadInput(f"--state {state!r} is not an operation state (expected one of: {allowed})")
        ops: list[Operation] = common.engine().store.list_operations(cluster_id=cluster or None, state=state or None)
        ops = [o for o in ops if (not cluster or o.cluster_id == cluster) and (not state or o.state.value == state)]
        if common.opts().output == "json":
            click.echo(json.dumps([_summary(o) for o in ops], indent=2))
        elif not ops:
            click.echo("No operations.")
        else:
            for o in ops:
                s = _summary(o)
                click.echo(f"{s['id']}  {s['type']:<22} {s['cluster_id']:<24} {s['state']:<12} {s['step'] or '-'}")
        return common.EXIT_OK

    common.guard(body)


def _summary(op: Operation) -> dict[str, Any]:
    step = op.current_step
    return {
        "id": op.id,
        "type": op.type.value,
        "cluster_id": op.cluster_id,
        "state": op.state.value,
        "step": step.name if step else None,
        "updated_at": op.updated_at.isoformat(),
    }


@click.command()
@common.common_options
@click.argument("operation_id")
def events(operation_id: str) -> None:
    """Show an operation's event log."""

    def body() -> int:
        found = common.engine().store.events(operation_id)
        if common.opts().output == "json":
            click.echo(json.dumps([e.model_dump(mode="json") for e in found], indent=2))
        else:
            for e in found:
                click.echo(f"{e.timestamp:%Y-%m-%d %H:%M:%S}  {e.type:<24} {e.message}")
        return common.EXIT_OK

    common.guard(body)


@click.command()
@common.common_options
@click.argument("operation_id")
@click.option("--step", "step_ref", required=True, help="Step id or name to go back (or forward) to.")
def reset(operation_id: str, step_ref: str) -> None:
    """Move a paused operation to a step; answer continue to run from there."""

    def body() -> int:
        engine = common.engine()
        result = engine.reset(operation_id, step_ref)
        common.print_result(result)
        if common.opts().output == "text":
            click.echo(f"Answer with: rds-maint resume {operation_id} --action continue{common.store_flag()}")
        return common.exit_code(result)

    common.guard(body)


@click.command()
@common.common_options
@click.option(
    "--type",
    "op_type",
    default="instance_type_change",
    show_default=True,
    help="Operation to show: instance_type_change, storage_type_change, instance_cycle, ...",
)
@click.option("--readers", default=2, show_default=True, help="Readers in the simulated cluster.")
@click.option(
    "--target",
    default=None,
    help="The operation's target: instance class (db.r6g.xlarge), storage type (aurora-iopt1), ...",
)
@click.option("--speed", default=400.0, show_default=True, help="Virtual seconds per real second.")
def demo(op_type: str, readers: int, target: str | None, speed: float) -> None:
    """Run an operation on the embedded simulated Aurora (no AWS account needed)."""
    from rds_maint.demo import run_demo

    common.guard(lambda: run_demo(op_type=op_type, readers=readers, target=target, speed=speed, options=common.opts()))


@click.command()
@common.common_options
def init() -> None:
    """Create the store's bucket or table (or directory) with the layout it needs."""

    def body() -> int:
        from rds_maint.store import init_store

        settings = common.opts().settings()
        for line in init_store(settings.store_url, settings.region, settings.profile):
            click.echo(line)
        return common.EXIT_OK

    common.guard(body)


@click.command()
@common.common_options
@click.argument("cluster_id")
@click.option("--force", is_flag=True, help="Release the lock whatever operation holds it.")
@click.option("--comment", help="Why; kept in the holding operation's event log.")
def unlock(cluster_id: str, force: bool, comment: str | None) -> None:
    """Release a cluster's lock (an operator's last resort: the holder is not stopped)."""

    def body() -> int:
        region = common.opts().settings().region
        if not region:
            raise BadInput("--region is required (the cluster's region), or set AWS_REGION")
        engine = common.engine()
        holder = engine.lock_holder(cluster_id, region)
        if holder is None:
            click.echo(f"Cluster {cluster_id} in {region} is not locked.")
            return common.EXIT_OK
        if not force:
            raise BadInput(
                f"cluster {cluster_id} in {region} is locked by operation '{holder}'. Releasing it lets another "
                "operation start while that one may still be changing the cluster; if you are sure, pass --force"
            )
        released = engine.force_unlock(cluster_id, region, comment)
        if released is None:
            click.echo(f"Cluster {cluster_id} in {region} is not locked (it was released meanwhile).")
            return common.EXIT_OK
        click.echo(f"Released the lock of {cluster_id} in {region} held by {released}; recorded on {released}.")
        return common.EXIT_OK

    common.guard(body)
