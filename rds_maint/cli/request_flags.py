"""The operation request a command builds from its flags, or from an --input file.

`--param key=value` is judged here only for its shape (the planner judges keys and values against the
operation type, with the valid keys and a "did you mean"): a value is read as JSON when it is JSON (numbers,
true/false, lists), as text otherwise; a text parameter stays text (an engine version 16.10 is not the
number 16.1); a list parameter takes `a,b` or a JSON list `["a","b"]`. A key given twice is refused rather
than one value silently kept. Flags override the same keys of an --input file.
"""

from __future__ import annotations

import functools
import json
import types
import typing
from collections.abc import Callable
from typing import Any

import click

from rds_maint.cli import common
from rds_maint.errors import BadInput
from rds_maint.model import PARAMS_BY_TYPE, OperationType
from rds_maint.planning.step_refs import ACTION_WORDS

__all__ = ["LIST_PARAMS", "TEXT_PARAMS", "check_one_target", "parse_param", "request", "request_options"]


def _params_of(kind: type) -> frozenset[str]:
    """The parameters (of any operation type) declared as `kind`, or as `kind | None`."""
    found = set()
    for model in PARAMS_BY_TYPE.values():
        for name, field in model.model_fields.items():
            annotation = field.annotation
            options = typing.get_args(annotation) if isinstance(annotation, types.UnionType) else (annotation,)
            if any(option is kind or typing.get_origin(option) is kind for option in options):
                found.add(name)
    return frozenset(found)


# Parameters that are text even when they look like JSON numbers: an engine version such as 16.10
# must not become the float 16.1.
TEXT_PARAMS = _params_of(str)
# Parameters that are lists: `a,b` or a JSON list.
LIST_PARAMS = _params_of(list)

_TYPES = [t.value for t in OperationType]


def _list_value(key: str, raw: str) -> list[Any]:
    text = raw.strip()
    if text.startswith("["):
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BadInput(
                f'--param {key}={raw}: not a JSON list ({exc.msg}); write {key}=a,b or {key}=\'["a","b"]\''
            ) from None
        return list(value)  # JSON that starts with [ is a list
    return [item.strip() for item in text.split(",")] if text else []


def parse_param(text: str) -> tuple[str, Any]:
    """`key=value` as the key and its value (see the module docstring for how a value is read)."""
    if "=" not in text:
        raise BadInput(f"--param '{text}' must look like key=value")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key:
        raise BadInput(f"--param '{text}' has no key: it must look like key=value")
    if key in TEXT_PARAMS:
        return key, raw
    if key in LIST_PARAMS:
        return key, _list_value(key, raw)
    try:
        value: Any = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return key, value


def _flag_params(params: tuple[str, ...]) -> dict[str, Any]:
    """Each --param once: a key given twice is refused with both values, whatever they are."""
    given: dict[str, Any] = {}
    raw_of: dict[str, str] = {}
    for text in params:
        key, value = parse_param(text)
        if key in given:
            raise BadInput(
                f"--param {key} is given twice ({raw_of[key]!r} and {text.split('=', 1)[1]!r}); give it once"
                + (f" (a list is one value: {key}=a,b)" if key in LIST_PARAMS else "")
            )
        given[key] = value
        raw_of[key] = text.split("=", 1)[1]
    return given


def _read_input(input_file: str) -> dict[str, Any]:
    """The request an --input file holds, itself or as the `params` of a start-execution input."""
    try:
        with open(input_file) as handle:
            data = json.load(handle)
    except (OSError, json.JSONDecodeError) as exc:
        raise BadInput(f"--input {input_file}: {exc}") from None
    if not isinstance(data, dict):
        raise BadInput(f"--input {input_file} must hold a JSON object")
    inner = data.get("params")
    if "type" not in data and isinstance(inner, dict) and {"type", "cluster_id", "instance_id", "params"} & set(inner):
        extra = sorted(set(data) - {"params"})
        if extra:
            raise BadInput(
                f"--input {input_file} is a start-execution input: only its params (the request) are read here, "
                f"not {', '.join(extra)} (start-execution takes --max-iterations and --intervention-timeout)"
            )
        data = inner
    return dict(data)


def check_one_target(cluster: str | None, instance: str | None) -> None:
    """--cluster or --instance, not both: refused before anything is read or written (exit 2)."""
    if cluster and instance:
        raise BadInput(
            f"give --cluster or --instance, not both (got --cluster {cluster} and --instance {instance}): "
            "--cluster names an Aurora or Multi-AZ DB cluster, --instance an RDS DB instance"
        )


def request(
    op_type: str | None,
    cluster: str | None,
    params: tuple[str, ...],
    input_file: str | None,
    pause_before: tuple[str, ...],
    wait_timeout: int | None,
    instance: str | None = None,
) -> dict[str, Any]:
    check_one_target(cluster, instance)
    flag_params = _flag_params(params)  # judged before the file is read: a bad flag is the first thing said
    request = _read_input(input_file) if input_file else {}
    if op_type:
        request["type"] = op_type
    # A target flag replaces the file's target, whichever key the file used: the flag names what to change.
    if cluster:
        request.pop("instance_id", None)
        request["cluster_id"] = cluster
    if instance:
        request.pop("cluster_id", None)
        request["instance_id"] = instance
    region = common.opts().settings().region
    if region and (common.opts().region or "region" not in request):
        request["region"] = region
    if flag_params:
        file_params = request.get("params")
        merged = dict(file_params) if isinstance(file_params, dict) else {}
        merged.update(flag_params)
        request["params"] = merged
    if pause_before:
        request["pause_before_steps"] = list(pause_before)
    if wait_timeout is not None:
        request["wait_timeout"] = wait_timeout
    if "type" not in request:
        raise BadInput(f"--type is required (one of {', '.join(_TYPES)})")
    if "cluster_id" not in request and "instance_id" not in request:
        raise BadInput(
            "--cluster or --instance is required: --cluster ID for an Aurora or Multi-AZ DB cluster, "
            "--instance ID for an RDS DB instance (aws rds describe-db-instances lists them)"
        )
    return request


def _complete_action_words(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    return [word for word in ACTION_WORDS if word.startswith(incomplete)]


PARAM_HELP = (
    "Operation parameter key=value (repeat for each key; a key given twice is refused). Values are JSON when "
    'they parse (3000, true), else text; a list is a,b or \'["a","b"]\' (e.g. exclude_instances=orders-3,'
    "orders-4). Overrides the same key of --input."
)
PAUSE_HELP = (
    "Pause before a step: its id (s04), its name as `plan` prints it (failback, reboot:orders-2), or an "
    f"action, which names every step of that kind: {', '.join(ACTION_WORDS)}. Repeatable; replaces the "
    "pause_before_steps of --input."
)


def _one_target_first(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Both --cluster and --instance: a usage error (exit 2) before the command body builds an engine."""

    @functools.wraps(fn)
    def checked(*args: Any, **kw: Any) -> Any:
        try:
            check_one_target(kw.get("cluster"), kw.get("instance"))
        except BadInput as exc:
            raise click.UsageError(str(exc)) from None
        return fn(*args, **kw)

    return checked


def request_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn = _one_target_first(fn)
    for option in reversed(
        [
            click.option("--type", "op_type", type=click.Choice(_TYPES), help="Operation type."),
            click.option("--cluster", help="DB cluster identifier (an Aurora or Multi-AZ DB cluster)."),
            click.option("--instance", help="DB instance identifier (an RDS DB instance; instead of --cluster)."),
            click.option("--param", "params", multiple=True, metavar="KEY=VALUE", help=PARAM_HELP),
            click.option(
                "--input",
                "input_file",
                help="JSON file: a request ({type, cluster_id or instance_id, region, params, pause_before_steps, "
                "wait_timeout}) or a start-execution input ({params: request}); flags override its keys.",
            ),
            click.option(
                "--pause-before", multiple=True, metavar="STEP", shell_complete=_complete_action_words, help=PAUSE_HELP
            ),
            click.option(
                "--wait-timeout",
                type=int,
                help="Seconds a wait may last before it pauses (default 2700); overrides wait_timeout of --input.",
            ),
        ]
    ):
        fn = option(fn)
    return fn
