"""`plan`, `create` and `run`: see what an operation would do, store it, carry it out.

`run` with a new operation is an apply: the plan and its summary are shown, a person confirms on a
terminal (or passes --yes), and the operation stored is the very plan shown (same id and names).
`plan --out FILE` / `run --plan FILE` carry a reviewed plan over time; it is made again from the
live target (cluster or DB instance) under its saved id and refused if the steps came out different.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import click

from rds_maint.cli import common, control, plan_view, request_flags
from rds_maint.cli.driving import run_operation
from rds_maint.engine import Engine, PlanPreview
from rds_maint.errors import BadInput, OperationNotFound
from rds_maint.planning.saved_plan import SavedPlan, plan_document, read_plan, step_difference
from rds_maint.progress.naming import target_text

__all__ = [
    "ApplyRequest",
    "apply_request",
    "create",
    "plan",
    "plan_file_option",
    "preview_for_apply",
    "run",
    "yes_option",
]

_REQUEST_KEYS = ("op_type", "cluster", "instance", "params", "input_file")

yes_option = click.option("--yes", "-y", is_flag=True, help="Create and start without asking (needed off a terminal).")
plan_file_option = click.option(
    "--plan", "plan_file", type=click.Path(dir_okay=False), help="Apply exactly the plan saved by `plan --out FILE`."
)


@dataclass(frozen=True)
class ApplyRequest:
    """What a new operation is asked with: the request, and the saved plan it must match (if any)."""

    data: dict[str, Any]
    saved: SavedPlan | None
    plan_file: str | None


def apply_request(plan_file: str | None, kw: dict[str, Any]) -> ApplyRequest:
    """The request from --plan FILE or from the request flags; reads no AWS and no store."""
    if plan_file is None:
        return ApplyRequest(request_flags.request(**kw), None, None)
    if any(kw[k] for k in _REQUEST_KEYS):
        raise BadInput("give either --plan FILE or --type/--cluster/--instance/--param, not both")
    saved = read_plan(plan_file)
    return ApplyRequest(saved.request, saved, plan_file)


def preview_for_apply(engine: Engine, asked: ApplyRequest) -> PlanPreview:
    """The plan a new operation will be created from: a fresh one, or the saved one made again and
    checked (BadInput if it no longer holds; nothing is written either way)."""
    saved = asked.saved
    if saved is None:
        return engine.preview(asked.data)
    try:
        engine.store.load(saved.operation_id)
    except OperationNotFound:
        pass
    else:
        raise BadInput(
            f"--plan {asked.plan_file}: operation '{saved.operation_id}' already exists; plan again for a new one"
        )
    preview = engine.preview(saved.request, saved.region, operation_id=saved.operation_id)
    difference = step_difference(saved.steps, preview.plan.steps)
    if difference is not None:
        raise BadInput(
            f"--plan {asked.plan_file}: the {'DB instance' if preview.request.instance_id else 'cluster'} "
            f"changed since it was planned: "
            f"{difference}; plan again"
        )
    return preview


@click.command(
    epilog="\b\nExample (review it, then apply exactly it with run --plan plan.json):\n"
    "  rds-maint plan --type instance_type_change --cluster orders-prod --region us-east-1 \\\n"
    "      --param target_instance_type=db.r6g.2xlarge --out plan.json\n"
    "  rds-maint plan --type storage_type_change --instance orders-db --region us-east-1 \\\n"
    "      --param target_storage_type=gp3 --param iops=12000"
)
@common.common_options
@request_flags.request_options
@click.option("--out", "out_file", type=click.Path(dir_okay=False), help="Save the plan here for `run --plan FILE`.")
def plan(out_file: str | None, **kw: Any) -> None:
    """Show the steps an operation would take, with expected duration and write interruptions. Changes nothing."""

    def body() -> int:
        engine = common.engine()
        request = request_flags.request(**kw)
        preview = engine.preview(request)
        if out_file is not None:
            document = plan_document(preview, request, engine.clock.now())
            try:
                with open(out_file, "w", encoding="utf-8") as handle:
                    json.dump(document, handle, indent=2)
                    handle.write("\n")
            except OSError as exc:
                raise BadInput(f"--out {out_file}: {exc.strerror or exc}") from None
        if common.opts().output == "json":
            click.echo(json.dumps(plan_view.plan_json(preview), indent=2))
            return common.EXIT_OK
        plan_view.show_plan(preview)
        if out_file is not None:
            click.echo(f"Saved to {out_file}; apply exactly this plan with: rds-maint run --plan {out_file}")
        click.echo("Nothing was changed.")
        return common.EXIT_OK

    common.guard(body)


@click.command(
    epilog="\b\nExample (then start it with rds-maint run OPERATION_ID):\n"
    "  rds-maint create --type instance_cycle --cluster orders-prod --region us-east-1"
)
@common.common_options
@request_flags.request_options
def create(**kw: Any) -> None:
    """Validate and store a new operation (not started)."""

    def body() -> int:
        op = common.engine().create(request_flags.request(**kw))
        if common.opts().output == "json":
            click.echo(op.model_dump_json(indent=2))
        else:
            where = target_text(op.target_id, op.target_kind)
            click.echo(f"Created {op.id} ({op.type.value} on {where}, {len(op.steps)} steps).")
            click.echo(f"Run it with: rds-maint run {op.id}{common.store_flag()}")
        return common.EXIT_OK

    common.guard(body)


@click.command(
    epilog="\b\nExamples:\n"
    "  rds-maint run --type instance_type_change --cluster orders-prod --region us-east-1 \\\n"
    "      --param target_instance_type=db.r6g.2xlarge      # shows the plan, asks\n"
    "  rds-maint run --plan plan.json --yes                 # a plan saved by plan --out\n"
    "  rds-maint run OPERATION_ID                           # carry on after a pause or Ctrl-C"
)
@common.common_options
@request_flags.request_options
@plan_file_option
@yes_option
@click.argument("operation_id", required=False)
def run(operation_id: str | None, plan_file: str | None, yes: bool, **kw: Any) -> None:
    """Plan, confirm, create and drive a new operation (or carry on OPERATION_ID) to completion or a pause."""

    def body() -> int:
        engine = common.engine()
        op_id = operation_id
        if op_id is None:
            plan_view.refuse_off_terminal(yes, "run")
            preview = preview_for_apply(engine, apply_request(plan_file, kw))
            json_mode = common.opts().output == "json"
            if not plan_view.confirm_apply(preview, yes=yes, json_mode=json_mode, what="Create and run this operation"):
                click.echo("Not applied; nothing was changed.", err=json_mode)
                return common.EXIT_FAILED
            op_id = engine.create_from_preview(preview).id
        elif plan_file is not None or any(kw[k] for k in _REQUEST_KEYS):
            raise BadInput("give either an OPERATION_ID or --type/--cluster/--instance/--param/--plan, not both")
        else:
            control.apply_run_flags(engine, op_id, kw)
        return run_operation(engine, op_id, engine.clock.sleep)

    common.guard(body)
