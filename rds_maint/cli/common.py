"""What every `rds-maint` command shares: global flags, the engine they build, exit codes, the request.

Which engine a command gets is `Options.engine_factory`: the real wiring (`rds_maint.wiring`) unless a
caller passes its own `Options` as click's `obj` (tests, on the simulator). Exit codes (DESIGN
section 8): 0 completed, 2 bad input, 3 paused for a person, 1 failed.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any, NoReturn

import click

from rds_maint.config import Settings
from rds_maint.engine import Engine, EngineFactory
from rds_maint.errors import BadInput, RdsMaintError
from rds_maint.model import Outcome, StepResult

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_FAILED",
    "EXIT_OK",
    "EXIT_PAUSED",
    "Options",
    "common_options",
    "engine",
    "exit_code",
    "fail",
    "guard",
    "opts",
    "print_result",
    "request",
    "request_options",
    "store_flag",
]

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_PAUSED = 0, 1, 2, 3


class Options:
    """Global flags, given before or after the sub-command (the later one wins)."""

    def __init__(self, engine_factory: EngineFactory | None = None) -> None:
        self.engine_factory: EngineFactory = engine_factory or _real_engine
        self.store: str | None = None
        self.region: str | None = None
        self.profile: str | None = None
        self.output = "text"

    def settings(self) -> Settings:
        return Settings.from_env(self.store, self.region, self.profile)


def _real_engine(settings: Settings) -> Engine:
    from rds_maint import wiring

    return wiring.build_engine(settings)


def merge(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
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
                callback=merge,
                help="State store URL (file://, s3://, dynamodb://).",
            ),
            click.option("--region", expose_value=False, callback=merge, help="AWS region of the cluster."),
            click.option("--profile", expose_value=False, callback=merge, help="AWS named profile."),
            click.option(
                "--output",
                type=click.Choice(["text", "json"]),
                expose_value=False,
                callback=merge,
                help="Output format.",
            ),
        ]
    ):
        fn = option(fn)
    return fn


def opts() -> Options:
    return click.get_current_context().ensure_object(Options)


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    if opts().output == "json":
        click.echo(json.dumps({"error": message}))
    else:
        click.echo(f"error: {message}", err=True)
    sys.exit(code)


def engine() -> Engine:
    try:
        return opts().engine_factory(opts().settings())
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


def guard(fn: Callable[[], int]) -> NoReturn:
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


def parse_param(text: str) -> tuple[str, Any]:
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


def request(
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
    region = opts().settings().region
    if region and (opts().region or "region" not in request):
        request["region"] = region
    if params:
        merged = dict(request.get("params") or {})
        merged.update(dict(parse_param(p) for p in params))
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


def store_flag() -> str:
    store = opts().store
    return f" --store {store}" if store else ""


def print_result(result: StepResult) -> None:
    if opts().output == "json":
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
