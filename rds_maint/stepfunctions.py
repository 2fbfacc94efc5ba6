"""The operator's side of Step Functions mode: start an execution, answer an intervention.

Used by `rds-maint start-execution` and `rds-maint respond`; the Lambda never imports it.

Execution names are derived from the operation, so starting the same thing twice reports the
execution that already runs instead of racing it (a Standard execution name is unique per state
machine for 90 days; StartExecution with the name and input of a running execution answers
with that execution):

- a new operation: `<cluster>-<type>-<digest of the request>` (then `-2`, `-3`... once taken);
- an existing operation: `<operation_id>-<n>`, the names the machine's own hand-off uses, with the
  start input's `handoff` set to n so the next hand-off takes n+1.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from rds_maint.errors import AnswerRefused, BadInput, RdsMaintError
from rds_maint.intervention import Answer, mask_token, region_of_arn
from rds_maint.model import Intervention

__all__ = [
    "INTERVENTION_TIMEOUT",
    "MAX_ITERATIONS",
    "MAX_NAME",
    "STALE_TOKEN_CODES",
    "StartReport",
    "answer_region",
    "check_state_machine_arn",
    "execution_status",
    "find_running",
    "make_client",
    "new_operation_name",
    "send_answer",
    "start",
    "start_campaign",
    "start_input",
]

MAX_NAME = 80
MAX_ITERATIONS = (1, 800)
INTERVENTION_TIMEOUT = (60, 31_536_000)
STALE_TOKEN_CODES = frozenset({"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"})
_STATE_MACHINE_ARN = re.compile(r"^arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:stateMachine:[A-Za-z0-9_-]{1,80}$")
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


@dataclass(frozen=True)
class StartReport:
    started: bool
    execution_arn: str
    name: str
    input: dict[str, Any]
    note: str | None = None
    conflict: bool = False  # another operation's execution runs on the cluster


def make_client(region: str | None, profile: str | None = None) -> Any:
    from botocore.config import Config

    from rds_maint import credentials

    return credentials.client("stepfunctions", profile, region, Config(retries={"mode": "standard"}))


def check_state_machine_arn(arn: str | None) -> str:
    if not arn:
        raise BadInput("--state-machine-arn is required (or RDS_MAINT_STATE_MACHINE_ARN): the StateMachineArn output")
    if not _STATE_MACHINE_ARN.match(arn):
        raise BadInput(
            f"--state-machine-arn {arn!r} is not a state machine ARN (arn:aws:states:REGION:ACCOUNT:stateMachine:NAME)"
        )
    return arn


def start_input(
    request: dict[str, Any] | None = None,
    operation_id: str | None = None,
    cluster_id: str | None = None,
    max_iterations: int | None = None,
    intervention_timeout: int | None = None,
    *,
    instance_id: str | None = None,
) -> dict[str, Any]:
    """The machine's start input (DESIGN section 6), optional keys only when given.

    An existing operation is named with its target: `cluster_id` for a cluster's, `instance_id` (and no
    cluster_id) for an RDS DB instance's, so that the execution's notices name the target rightly."""
    if max_iterations is not None and not MAX_ITERATIONS[0] <= max_iterations <= MAX_ITERATIONS[1]:
        raise BadInput(f"--max-iterations must be between {MAX_ITERATIONS[0]} and {MAX_ITERATIONS[1]}")
    low, high = INTERVENTION_TIMEOUT
    if intervention_timeout is not None and not low <= intervention_timeout <= high:
        raise BadInput(
            f"--intervention-timeout must be between {INTERVENTION_TIMEOUT[0]} and {INTERVENTION_TIMEOUT[1]} seconds"
        )
    if cluster_id is not None and instance_id is not None:
        raise BadInput("an operation targets a cluster or a DB instance, not both: give cluster_id or instance_id")
    data: dict[str, Any] = {"params": request}
    if operation_id:
        data = {"operation_id": operation_id, "cluster_id": cluster_id}
        if instance_id is not None:
            data = {"operation_id": operation_id, "instance_id": instance_id}
    if max_iterations is not None:
        data["max_iterations"] = max_iterations
    if intervention_timeout is not None:
        data["intervention_timeout"] = intervention_timeout
    return data


def new_operation_name(request: dict[str, Any]) -> str:
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode()).hexdigest()[:10]
    target = request.get("cluster_id") or request.get("instance_id") or ""
    cluster = _UNSAFE.sub("-", str(target))[:40].strip("-_") or "target"
    kind = _UNSAFE.sub("-", str(request.get("type", "")))[:22]
    return f"{cluster}-{kind}-{digest}"[:MAX_NAME]


def _execution_arn(state_machine_arn: str, name: str) -> str:
    prefix, machine = state_machine_arn.split(":stateMachine:", 1)
    return f"{prefix}:execution:{machine}:{name}"


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", "Unknown"))


def _status(client: Any, arn: str) -> str | None:
    """An execution's status, or None when no execution has that ARN."""
    try:
        return str(client.describe_execution(executionArn=arn)["status"])
    except ClientError as exc:
        if _code(exc) == "ExecutionDoesNotExist":
            return None
        raise


def _running(client: Any, state_machine_arn: str) -> Iterator[dict[str, Any]]:
    kwargs: dict[str, Any] = {"stateMachineArn": state_machine_arn, "statusFilter": "RUNNING", "maxResults": 100}
    while True:
        page = client.list_executions(**kwargs)
        yield from page.get("executions", [])
        if not page.get("nextToken"):
            return
        kwargs["nextToken"] = page["nextToken"]


def _input_of(client: Any, arn: str) -> dict[str, Any]:
    try:
        data = json.loads(client.describe_execution(executionArn=arn).get("input") or "{}")
    except (ClientError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def find_running(
    client: Any,
    state_machine_arn: str,
    cluster_id: str,
    cluster_of: Callable[[str], str | None],
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Running executions that drive an operation on the target `cluster_id` (a cluster's or a DB instance's
    id: an execution on a cluster and one on a DB instance of the same name are both reported, the safe side):
    (execution, start input) pairs."""
    found = []
    for execution in _running(client, state_machine_arn):
        data = _input_of(client, execution["executionArn"])
        raw_params = data.get("params")
        params: dict[str, Any] = raw_params if isinstance(raw_params, dict) else {}
        cluster = (
            data.get("cluster_id") or data.get("instance_id") or params.get("cluster_id") or params.get("instance_id")
        )
        op_id = data.get("operation_id")
        if not cluster and isinstance(op_id, str):
            cluster = cluster_of(op_id)
        if cluster == cluster_id:
            found.append((execution, data))
    return found


def start(
    client: Any,
    state_machine_arn: str,
    data: dict[str, Any],
    cluster_id: str,
    cluster_of: Callable[[str], str | None],
) -> StartReport:
    """Start the execution for `data`, unless one already drives this operation or cluster."""
    operation_id = data.get("operation_id")
    base = operation_id if isinstance(operation_id, str) else new_operation_name(data["params"])
    for execution, running_input in find_running(client, state_machine_arn, cluster_id, cluster_of):
        name = str(execution["name"])
        if operation_id:
            # A root execution (started with params) on this cluster drives the cluster's one active
            # operation, most likely this one: report it rather than start a second driver.
            same = running_input.get("operation_id") in (operation_id, None)
        else:
            same = name == base or name.startswith(base + "-")
        what = f"operation {running_input['operation_id']}" if running_input.get("operation_id") else "a new operation"
        return StartReport(
            started=False,
            execution_arn=str(execution["executionArn"]),
            name=name,
            input=running_input,
            note=(
                f"already running: execution {name} drives this operation; nothing started"
                if same
                else f"{_kind_of(data)} {cluster_id} is busy: execution {name} drives {what}; nothing started"
            ),
            conflict=not same,
        )
    data = dict(data)
    number = 1 if operation_id else 0
    while True:
        name = f"{base}-{number}" if number else base
        if len(name) > MAX_NAME:
            raise BadInput(f"execution name {name!r} would be longer than {MAX_NAME} characters")
        if _status(client, _execution_arn(state_machine_arn, name)) is None:
            break
        number += 1
    if operation_id:
        data["handoff"] = number
    try:
        response = client.start_execution(stateMachineArn=state_machine_arn, name=name, input=json.dumps(data))
    except ClientError as exc:
        raise RdsMaintError(f"Step Functions refused to start {name}: {_code(exc)}: {exc}") from None
    return StartReport(started=True, execution_arn=str(response["executionArn"]), name=name, input=data)


def start_campaign(client: Any, state_machine_arn: str, campaign_id: str) -> StartReport:
    """Start the campaign machine on a stored campaign, unless an execution of it runs already.

    Names are the campaign id, then `<campaign_id>-<n>`: the machine's own hand-offs take the same names, so
    a running one of them is found and reported instead of a second driver started; an ended one (stopped by
    hand, or failed) is passed over for the next free name.
    """
    number = 0
    while True:
        name = f"{campaign_id}-{number}" if number else campaign_id
        if len(name) > MAX_NAME:
            raise BadInput(f"execution name {name!r} would be longer than {MAX_NAME} characters")
        arn = _execution_arn(state_machine_arn, name)
        status = _status(client, arn)
        if status is None:
            break
        if status == "RUNNING":
            note = f"already running: execution {name} drives campaign {campaign_id}; nothing started"
            return StartReport(started=False, execution_arn=arn, name=name, input=_input_of(client, arn), note=note)
        number += 1
    data: dict[str, Any] = {"campaign_id": campaign_id, "handoff": number}
    try:
        response = client.start_execution(stateMachineArn=state_machine_arn, name=name, input=json.dumps(data))
    except ClientError as exc:
        raise RdsMaintError(f"Step Functions refused to start {name}: {_code(exc)}: {exc}") from None
    return StartReport(started=True, execution_arn=str(response["executionArn"]), name=name, input=data)


def _kind_of(data: dict[str, Any]) -> str:
    """`instance` when the start input names a DB instance (its own key or its request's), else `cluster`."""
    params = data.get("params")
    named = data.get("instance_id") or (params.get("instance_id") if isinstance(params, dict) else None)
    return "instance" if named else "cluster"


def send_answer(client: Any, intervention: Intervention, answer: Answer, operation_id: str) -> None:
    """`send-task-success` with the answer, abort included: the machine aborts on `{"action": "abort"}` as on
    `send-task-failure OperationAborted`, and only the task output carries who answered and their comment."""
    token = intervention.task_token
    try:
        client.send_task_success(taskToken=token, output=answer.task_output())
    except ClientError as exc:
        code = _code(exc)
        if code in STALE_TOKEN_CODES:
            raise AnswerRefused(
                f"the recorded task token {mask_token(token)} of operation '{operation_id}' is no longer valid "
                f"({code}): that notice was already answered, timed out and was sent again, or its execution "
                f"ended. Run `rds-maint status {operation_id}`: if a newer notice is pending, answer again"
            ) from None
        raise AnswerRefused(f"Step Functions refused the answer: {code}: {exc}") from None


def execution_status(client: Any, execution_arn: str | None) -> str | None:
    """RUNNING, SUCCEEDED, FAILED, ... of the execution a notice came from; None if unknown or gone."""
    if not execution_arn:
        return None
    try:
        return _status(client, execution_arn)
    except ClientError:
        return None


def answer_region(intervention: Intervention, fallback: str | None) -> str | None:
    """Answers go to the region of the waiting execution."""
    return region_of_arn(intervention.execution_arn) or fallback
