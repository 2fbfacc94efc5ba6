"""`rds-maint`: the local driver. Thin: parse, call the engine, show what happens.

Exit codes (DESIGN section 8): 0 completed, 2 bad input, 3 paused for a person, 1 failed.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any, NoReturn

import click

from rds_maint import config, stepfunctions
from rds_maint.config import Settings, build_engine
from rds_maint.engine import Engine, parse_request
from rds_maint.errors import AnswerRefused, BadInput, RdsMaintError
from rds_maint.intervention import Answer, mask_token, pending_intervention, region_of_arn, validate_answer
from rds_maint.model import Operation, OperationState, Outcome, StepResult
from rds_maint.progress import Progress, drive

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_PAUSED = 0, 1, 2, 3


class Options:
    """Global flags, given before or after the sub-command (the later one wins)."""

    def __init__(self) -> None:
        self.store: str | None = None
        self.region: str | None = None
        self.profile: str | None = None
        self.output = "text"

    def settings(self) -> Settings:
        return Settings.from_env(self.store, self.region, self.profile)


def _merge(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    if value is not None:
        opts = ctx.ensure_object(Options)
        setattr(opts, param.name or "", value)
    return value


def common_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(
        [
            click.option(
                "--store",
                expose_value=False,
                callback=_merge,
                help="State store URL (file://, s3://, dynamodb://).",
            ),
            click.option("--region", expose_value=False, callback=_merge, help="AWS region of the cluster."),
            click.option("--profile", expose_value=False, callback=_merge, help="AWS named profile."),
            click.option(
                "--output",
                type=click.Choice(["text", "json"]),
                expose_value=False,
                callback=_merge,
                help="Output format.",
            ),
        ]
    ):
        fn = option(fn)
    return fn


def _opts() -> Options:
    return click.get_current_context().ensure_object(Options)


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    if _opts().output == "json":
        click.echo(json.dumps({"error": message}))
    else:
        click.echo(f"error: {message}", err=True)
    sys.exit(code)


def _engine() -> Engine:
    try:
        return build_engine(_opts().settings())
    except BadInput as exc:
        fail(str(exc))


def exit_code(result: StepResult) -> int:
    if result.outcome is Outcome.COMPLETED:
        return EXIT_OK
    if result.outcome is Outcome.FAILED:
        return EXIT_FAILED
    if result.outcome is Outcome.INTERVENTION:
        return EXIT_PAUSED
    return EXIT_OK


def _guard(fn: Callable[[], int]) -> NoReturn:
    """Run a command body: bad input exits 2, any other error of ours exits 1, each with its message."""
    try:
        code = fn()
    except BadInput as exc:
        fail(str(exc), EXIT_BAD_INPUT)
    except RdsMaintError as exc:
        fail(str(exc), EXIT_FAILED)
    sys.exit(code)


# Parameters that are text even when they look like JSON numbers: an engine version such as 16.10
# must not become the float 16.1.
TEXT_PARAMS = frozenset(
    {"target_engine_version", "db_cluster_parameter_group_name", "db_instance_parameter_group_name"}
)


def _parse_param(text: str) -> tuple[str, Any]:
    if "=" not in text:
        raise BadInput(f"--param '{text}' must look like key=value")
    key, raw = text.split("=", 1)
    if key.strip() in TEXT_PARAMS:
        return key.strip(), raw
    try:
        value: Any = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    if key == "exclude_instances" and isinstance(value, str):
        value = [v for v in value.split(",") if v]
    return key.strip(), value


def _request(
    op_type: str | None,
    cluster: str | None,
    params: tuple[str, ...],
    input_file: str | None,
    pause_before: tuple[str, ...],
    wait_timeout: int | None,
) -> dict[str, Any]:
    if input_file:
        try:
            with open(input_file) as handle:
                data = json.load(handle)
        except (OSError, json.JSONDecodeError) as exc:
            raise BadInput(f"--input {input_file}: {exc}") from None
        if isinstance(data, dict) and set(data) == {"params"} and isinstance(data["params"], dict):
            data = data["params"]  # a start-execution input
        if not isinstance(data, dict):
            raise BadInput(f"--input {input_file} must hold a JSON object")
        request = dict(data)
    else:
        request = {}
    if op_type:
        request["type"] = op_type
    if cluster:
        request["cluster_id"] = cluster
    region = _opts().settings().region
    if region and (_opts().region or "region" not in request):
        request["region"] = region
    if params:
        merged = dict(request.get("params") or {})
        merged.update(dict(_parse_param(p) for p in params))
        request["params"] = merged
    if pause_before:
        request["pause_before_steps"] = list(pause_before)
    if wait_timeout is not None:
        request["wait_timeout"] = wait_timeout
    if "type" not in request:
        raise BadInput("--type is required (instance_type_change, storage_type_change, engine_upgrade, instance_cycle)")
    if "cluster_id" not in request:
        raise BadInput("--cluster is required")
    return request


def request_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(
        [
            click.option("--type", "op_type", help="Operation type."),
            click.option("--cluster", help="DB cluster identifier."),
            click.option("--param", "params", multiple=True, help="Operation parameter key=value (repeatable)."),
            click.option("--input", "input_file", help="JSON file: a request or a start-execution input."),
            click.option("--pause-before", multiple=True, help="Pause before this step (name, id or action)."),
            click.option("--wait-timeout", type=int, help="Seconds a wait may last before it pauses (default 2700)."),
        ]
    ):
        fn = option(fn)
    return fn


@click.group()
@common_options
@click.version_option(package_name="rds-maint")
def main() -> None:
    """Run Amazon Aurora maintenance one safe step at a time."""


@main.command()
@common_options
@request_options
def plan(**kw: Any) -> None:
    """Show the steps an operation would take. Changes nothing."""

    def body() -> int:
        engine = _engine()
        preview = engine.preview(_request(**kw))
        if _opts().output == "json":
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
        return EXIT_OK

    _guard(body)


@main.command()
@common_options
@request_options
def create(**kw: Any) -> None:
    """Validate and store a new operation (not started)."""

    def body() -> int:
        op = _engine().create(_request(**kw))
        if _opts().output == "json":
            click.echo(op.model_dump_json(indent=2))
        else:
            click.echo(f"Created {op.id} ({op.type.value} on {op.cluster_id}, {len(op.steps)} steps).")
            click.echo(f"Run it with: rds-maint run {op.id}{_store_flag()}")
        return EXIT_OK

    _guard(body)


def _store_flag() -> str:
    store = _opts().store
    return f" --store {store}" if store else ""


@main.command()
@common_options
@request_options
@click.argument("operation_id", required=False)
def run(operation_id: str | None, **kw: Any) -> None:
    """Create (or take OPERATION_ID) and drive it to completion or a pause, showing progress."""

    def body() -> int:
        engine = _engine()
        op_id = operation_id
        if op_id is None:
            op_id = engine.create(_request(**kw)).id
        elif any(kw[k] for k in ("op_type", "cluster", "params", "input_file")):
            raise BadInput("give either an OPERATION_ID or --type/--cluster/--param, not both")
        return run_operation(engine, op_id, engine.clock.sleep)

    _guard(body)


def run_operation(engine: Engine, op_id: str, sleep: Callable[[float], None]) -> int:
    op = engine.store.load(op_id)
    if not op.state.is_final:
        engine.rds(op.region).check_credentials()  # a missing login fails here, before any step changes
    progress = Progress(engine, op_id, json_output=_opts().output == "json", store_flag=_store_flag())
    engine.start(op_id)
    try:
        result = drive(engine, op_id, sleep, progress)
    except KeyboardInterrupt:
        click.echo(
            f"\nInterrupted. The operation is saved; carry on with: rds-maint run {op_id}{_store_flag()}",
            err=True,
        )
        return 130
    progress.finish(result)
    return exit_code(result)


@main.command()
@common_options
@click.argument("operation_id")
def status(operation_id: str) -> None:
    """Show an operation: state, steps, what it waits for."""

    def body() -> int:
        engine = _engine()
        op = engine.store.load(operation_id)
        result = engine.report(op)
        if _opts().output == "json":
            click.echo(json.dumps({"operation": _public(op), "result": result.to_dict()}, indent=2))
        else:
            Progress(engine, op.id, store_flag=_store_flag()).show_operation(op)
        return exit_code(result) if op.state is not OperationState.RUNNING else EXIT_OK

    _guard(body)


def _public(op: Operation) -> dict[str, Any]:
    """The operation as JSON with its task token (a bearer credential) masked."""
    data = op.model_dump(mode="json")
    if data.get("intervention"):
        data["intervention"]["task_token"] = mask_token(op.intervention.task_token if op.intervention else None)
    return data


@main.command(name="list")
@common_options
@click.option("--cluster", help="Only operations on this cluster.")
@click.option("--state", help="Only operations in this state.")
def list_operations(cluster: str | None, state: str | None) -> None:
    """List operations in the store."""

    def body() -> int:
        if state is not None and state not in {s.value for s in OperationState}:
            allowed = ", ".join(s.value for s in OperationState)
            raise BadInput(f"--state {state!r} is not an operation state (expected one of: {allowed})")
        ops: list[Operation] = _engine().store.list_operations(cluster_id=cluster or None, state=state or None)
        ops = [o for o in ops if (not cluster or o.cluster_id == cluster) and (not state or o.state.value == state)]
        if _opts().output == "json":
            click.echo(json.dumps([_summary(o) for o in ops], indent=2))
        elif not ops:
            click.echo("No operations.")
        else:
            for o in ops:
                s = _summary(o)
                click.echo(f"{s['id']}  {s['type']:<22} {s['cluster_id']:<24} {s['state']:<12} {s['step'] or '-'}")
        return EXIT_OK

    _guard(body)


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


@main.command()
@common_options
@click.argument("operation_id")
def events(operation_id: str) -> None:
    """Show an operation's event log."""

    def body() -> int:
        found = _engine().store.events(operation_id)
        if _opts().output == "json":
            click.echo(json.dumps([e.model_dump(mode="json") for e in found], indent=2))
        else:
            for e in found:
                click.echo(f"{e.timestamp:%Y-%m-%d %H:%M:%S}  {e.type:<24} {e.message}")
        return EXIT_OK

    _guard(body)


@main.command()
@common_options
@click.argument("operation_id")
@click.option("--action", "answer", required=True, help="continue, abort, rollback or mark_complete.")
@click.option("--comment", help="Why; kept in the event log.")
@click.option("--run/--no-run", "drive_after", default=False, help="Drive the operation on after answering.")
def resume(operation_id: str, answer: str, comment: str | None, drive_after: bool) -> None:
    """Answer a paused operation (through its Step Functions execution when one waits for the answer)."""

    def body() -> int:
        engine = _engine()
        op = engine.store.load(operation_id)
        if op.state is OperationState.PAUSED and op.intervention is not None:
            checked = validate_answer(answer, comment)
            if _answer_through_execution(op, checked, local_fallback=True):
                if drive_after and _opts().output == "text":
                    click.echo("Not driven here: the execution drives the operation on (--run is ignored).")
                return EXIT_OK
            click.echo(f"Answering {op.id} here instead.", err=True)
        result = engine.resume(operation_id, answer, comment)
        if drive_after and result.outcome is Outcome.CONTINUE:
            return run_operation(engine, operation_id, engine.clock.sleep)
        _print_result(result)
        if result.outcome is Outcome.CONTINUE and _opts().output == "text":
            click.echo(f"Carry on with: rds-maint run {operation_id}{_store_flag()}")
        return exit_code(result)

    _guard(body)


def _answer_through_execution(op: Operation, checked: Answer, *, local_fallback: bool = False) -> bool:
    """Send the answer to the Step Functions execution that waits for it (as `respond`); True once sent.

    With `local_fallback`, a token Step Functions no longer knows whose execution is not running any
    more (it failed, was stopped or timed out) returns False: nobody waits, the caller answers here.
    A stale token of a still running execution is refused (a newer notice may be pending).
    """
    pending = pending_intervention(op)
    region = stepfunctions.answer_region(pending, _opts().settings().region or op.region)
    client = stepfunctions.make_client(region, _opts().settings().profile)
    try:
        stepfunctions.send_answer(client, pending, checked, op.id)
    except AnswerRefused:
        if not local_fallback:
            raise
        status = stepfunctions.execution_status(client, pending.execution_arn)
        if status is None or status == "RUNNING":
            raise
        click.echo(
            f"The execution that recorded the notice of {op.id} is {status}: nobody waits for the answer.",
            err=True,
        )
        return False
    sent = "send-task-failure OperationAborted" if checked.is_abort else f"send-task-success {checked.action.value}"
    if _opts().output == "json":
        click.echo(
            json.dumps(
                {
                    "operation_id": op.id,
                    "action": checked.action.value,
                    "answered_through": "step_functions",
                    "execution_arn": pending.execution_arn,
                    "step_name": pending.step_name,
                    "task_token": mask_token(pending.task_token),
                },
                indent=2,
            )
        )
    else:
        token = mask_token(pending.task_token)
        click.echo(
            f"Answered {op.id} at step {pending.step_name or '-'} through its Step Functions execution with "
            f"{sent} (token {token}); the execution drives the operation on."
        )
        if pending.execution_arn:
            click.echo(f"Execution: {pending.execution_arn}")
        click.echo(f"Follow it with: rds-maint status {op.id}{_store_flag()}")
    return True


@main.command()
@common_options
@click.argument("operation_id")
@click.option("--action", "answer", required=True, help="continue, abort, rollback or mark_complete.")
@click.option("--comment", help="Why; kept in the event log.")
def respond(operation_id: str, answer: str, comment: str | None) -> None:
    """Answer the Step Functions intervention an operation waits for (by operation id)."""

    def body() -> int:
        checked = validate_answer(answer, comment)
        op = _engine().store.load(operation_id)
        _answer_through_execution(op, checked)
        return EXIT_OK

    _guard(body)


@main.command(name="start-execution")
@common_options
@request_options
@click.argument("operation_id", required=False)
@click.option(
    "--state-machine-arn",
    default=config.state_machine_arn,
    help="The deployed machine (StateMachineArn output); or RDS_MAINT_STATE_MACHINE_ARN.",
)
@click.option("--max-iterations", type=int, help="Loop iterations per execution before a hand-off (1-800).")
@click.option(
    "--intervention-timeout", type=int, help="Seconds a notice waits before it is sent again (default 86400)."
)
def start_execution(
    operation_id: str | None,
    state_machine_arn: str | None,
    max_iterations: int | None,
    intervention_timeout: int | None,
    **kw: Any,
) -> None:
    """Start a Step Functions execution: a new operation (same flags as run) or OPERATION_ID."""

    def body() -> int:
        machine = stepfunctions.check_state_machine_arn(state_machine_arn)
        engine = _engine()
        if operation_id is not None:
            if any(kw[k] for k in ("op_type", "cluster", "params", "input_file")):
                raise BadInput("give either an OPERATION_ID or --type/--cluster/--param, not both")
            op = engine.store.load(operation_id)
            if op.state.is_final:
                raise BadInput(f"operation '{op.id}' is {op.state.value}; there is nothing left to drive")
            cluster_id = op.cluster_id
            data = stepfunctions.start_input(None, op.id, cluster_id, max_iterations, intervention_timeout)
        else:
            request = _request(**kw)
            parse_request(request, _opts().settings().region)  # judge it here; the Lambda checks the cluster
            cluster_id = str(request["cluster_id"])
            data = stepfunctions.start_input(request, None, None, max_iterations, intervention_timeout)

        def cluster_of(op_id: str) -> str | None:
            try:
                return engine.store.load(op_id).cluster_id
            except RdsMaintError:
                return None

        client = stepfunctions.make_client(region_of_arn(machine), _opts().settings().profile)
        report = stepfunctions.start(client, machine, data, cluster_id, cluster_of)
        if _opts().output == "json":
            click.echo(
                json.dumps(
                    {
                        "started": report.started,
                        "execution_arn": report.execution_arn,
                        "name": report.name,
                        "input": report.input,
                        "note": report.note,
                    },
                    indent=2,
                )
            )
        elif report.started:
            click.echo(f"Started execution {report.name}")
            click.echo(f"  {report.execution_arn}")
            click.echo(f"Follow it with: aws stepfunctions describe-execution --execution-arn {report.execution_arn}")
        else:
            click.echo(f"Not started: {report.note}")
            click.echo(f"  {report.execution_arn}")
        return EXIT_FAILED if report.conflict else EXIT_OK

    _guard(body)


@main.command()
@common_options
@click.argument("operation_id")
@click.option("--step", "step_ref", required=True, help="Step id or name to go back (or forward) to.")
def reset(operation_id: str, step_ref: str) -> None:
    """Move a paused operation to a step; answer continue to run from there."""

    def body() -> int:
        engine = _engine()
        result = engine.reset(operation_id, step_ref)
        _print_result(result)
        if _opts().output == "text":
            click.echo(f"Answer with: rds-maint resume {operation_id} --action continue{_store_flag()}")
        return exit_code(result)

    _guard(body)


def _print_result(result: StepResult) -> None:
    if _opts().output == "json":
        click.echo(json.dumps(result.to_dict(), indent=2))
        return
    line = f"{result.operation_id}: {result.operation_state}"
    if result.step_name:
        line += f" at step {result.step_name} ({result.step_state})"
    click.echo(line)
    if result.pause_reason:
        click.echo(f"Paused: {result.pause_reason}")
    if result.error:
        click.echo(f"Error: {result.error}")


@main.command()
@common_options
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

    _guard(lambda: run_demo(op_type=op_type, readers=readers, target=target, speed=speed, options=_opts()))


@main.command()
@common_options
def init() -> None:
    """Create the store's bucket or table (or directory) with the layout it needs."""

    def body() -> int:
        from rds_maint.store import init_store

        settings = _opts().settings()
        for line in init_store(settings.store_url, settings.region, settings.profile):
            click.echo(line)
        return EXIT_OK

    _guard(body)


@main.command()
@common_options
@click.argument("cluster_id")
@click.option("--force", is_flag=True, help="Release the lock whatever operation holds it.")
@click.option("--comment", help="Why; kept in the holding operation's event log.")
def unlock(cluster_id: str, force: bool, comment: str | None) -> None:
    """Release a cluster's lock (an operator's last resort: the holder is not stopped)."""

    def body() -> int:
        region = _opts().settings().region
        if not region:
            raise BadInput("--region is required (the cluster's region), or set AWS_REGION")
        engine = _engine()
        holder = engine.lock_holder(cluster_id, region)
        if holder is None:
            click.echo(f"Cluster {cluster_id} in {region} is not locked.")
            return EXIT_OK
        if not force:
            raise BadInput(
                f"cluster {cluster_id} in {region} is locked by operation '{holder}'. Releasing it lets another "
                "operation start while that one may still be changing the cluster; if you are sure, pass --force"
            )
        released = engine.force_unlock(cluster_id, region, comment)
        if released is None:
            click.echo(f"Cluster {cluster_id} in {region} is not locked (it was released meanwhile).")
            return EXIT_OK
        click.echo(f"Released the lock of {cluster_id} in {region} held by {released}; recorded on {released}.")
        return EXIT_OK

    _guard(body)


if __name__ == "__main__":  # pragma: no cover
    main()
