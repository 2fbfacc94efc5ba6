"""The operation request a command builds from its flags, or from an --input file."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click

from rds_maint.cli import common
from rds_maint.errors import BadInput

__all__ = ["TEXT_PARAMS", "parse_param", "request", "request_options"]


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
    region = common.opts().settings().region
    if region and (common.opts().region or "region" not in request):
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
