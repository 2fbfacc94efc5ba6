"""The project's own state machine, run in moto's Step Functions interpreter against the real engine.

Why it exists: the ASL in `sfn/rds-maint-machine.asl.json` is product code, and what it costs
(state transitions, Lambda invocations, history events against the 25,000-event cap) and whether
it routes every engine answer right can only be seen by running it. Here it runs as written (only
`${LambdaArn}` substituted) in moto's interpreter, with the engine Lambda in-process and the Wait
states on the virtual clock, so an operation of virtual hours runs in seconds. The tests
(`tests/scenarios/test_sfn_execution.py`) and the benchmark (`bench/sfn_history.py`) both use it.

Every Task invokes moto's simple Lambda backend, whose `invoke` is routed in-process to the handler
the caller's `make_handler` (`rds_maint.lambda_handler.make_handler`) builds around the harness's
engine factory: the real engine on the simulated Aurora, a file store and the virtual clock, handed
in explicitly (nothing is patched into the product). moto's EventBridge delivers the machine's
`InterventionRequired` notices and the Lambda's `OperationStatusChanged` events to SQS queues the
caller reads, and to the engine Lambda through the template's own rule and input transformer.
Operators answer with `send_task_success` / `send_task_failure` or `rds-maint respond`.

Time: the Wait states advance the virtual clock by the seconds the engine asked for and return at
once, and so do the retriers' back-off sleeps; when asked (`short_notice_timeouts`), a notice's
`TimeoutSecondsPath` is scaled from virtual to real time (60 s -> 0.3 s). Nothing in the ASL is edited.
Under `serialise_aws`, virtual time moves between AWS requests, never during one: a Lambda invocation
(one request) sees the clock move only by its own sleeps, as on AWS, where an invocation lasts seconds
whatever another execution's Wait says.

moto gaps worked around here, never in the ASL:
- `states:startExecution` passes PascalCase field names to boto3 (`shim_moto_sfn_integration`);
- a Lambda service error (HTTP 5xx) reaches Retry/Catch as `Exception`, not `Lambda.<Code>`, and a
  function error whose payload has no `errorType` (what a timed-out or out-of-memory function
  returns) as `Exception`, not `Lambda.Unknown` (`install_lambda_error_names`);
- EventBridge rules cannot target Lambda functions, and input transformers insert string values
  without JSON quotes: the harness delivers Lambda targets in-process with JSON-quoted values;
- an input transformer with a text (not JSON) template, as the template's SNS target has, fails in
  moto: the harness renders it (values inserted as text) and keeps the message in `Harness.messages`,
  which stands in for the SNS topic (its subscribers' mailboxes).

The campaign machine (`sfn/rds-maint-campaign.asl.json`, built when the caller names it with
`campaign_asl_path`) runs as written too, only `${LambdaArn}` and `${OperationMachineArn}` substituted,
with the operation machine as its child (`states:startExecution.sync:2`). What moto does differently there,
worked around here or only noted:
- a `.sync` task looks at its child every 0.5 s of real time; the harness makes it 0.02 s
  (`SYNC_POLL_SECONDS`), so a campaign's real time is its children's Lambda calls. AWS follows the child
  through EventBridge; either way the parent sees the child's end and its JSON output (`.sync:2`);
- the startExecution hand-off's field names (`shim_moto_sfn_integration`, above) apply to `.sync:2` too;
- `ToleratedFailureCountPath` is parsed and has no effect in moto (its own warning says so): the
  Distributed Map's tolerance is not exercised; the campaign's own failure tolerance, which the Lambda steps
  enforce, is;
- a Distributed Map runs its iterations in the parent's interpreter (no Map Run child executions, no
  history of their own), so it proves the definition and the routing, not AWS's Map Run limits;
- stopping a parent leaves its `.sync` children running in moto; on AWS they are stopped with it
  (which is why the campaign role may StopExecution its children). Only noted: a test that stops a
  campaign execution sees moto's behaviour;
- one virtual clock for every execution: each Wait advances it by its own seconds, so waits that overlap
  on AWS (two children polling at once) add up here. Virtual time runs faster than on AWS, never slower:
  nothing waits for less than it asked.

A Lambda that dies: a `SimulatedCrash` out of the handler (armed with `sim.faults.crash_after`, so
the AWS call it follows took effect) is a function killed by its timeout or by the out-of-memory
killer. Such a process does nothing after its death, so the engine's store refuses every call made
while the crash unwinds (`MortalStore`: the step lease it held is left to expire, as on AWS), and the
invocation answers what Lambda answers for a timeout: a function error whose payload has no
`errorType` (`Harness.death_error_type` names one, e.g. `Sandbox.Timedout`, for the runtimes that say so).

Every patch goes through a `Patcher` (anything with `setattr(target, name, value)`: pytest's
`MonkeyPatch`, or `Patches` here, which undoes them on exit). moto is imported inside the functions:
importing this module costs no more than `rds_sim`. The caller names what it runs: the ASL definition
and the SAM template (the checkout's `sfn/`) and the Lambda handler; nothing is found relative to this
file, so it runs installed too. It needs moto with the stepfunctions, events, sqs, awslambda and iam
extras (the dev extra), plus PyYAML. It lives outside both `rds_maint` (it is no product code: tests
and benchmarks import it) and `rds_sim` (which models AWS and imports nothing of rds-maint).
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import threading
import time
import types
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from botocore.exceptions import ClientError

from rds_maint import wiring
from rds_maint.actions.polling import PollPolicy
from rds_maint.config import Settings
from rds_maint.engine import Engine, EngineFactory
from rds_maint.intervention import STATUS_DETAIL_TYPE
from rds_maint.rds import make_rds_client
from rds_maint.store import StateStore, open_store
from rds_maint.store.base import Followed, TargetKindFilter
from rds_maint.store.summary import OperationSummary
from rds_sim.aurora import SimulatedAurora
from rds_sim.clock import VirtualClock
from rds_sim.errors import SimulatedCrash

if TYPE_CHECKING:
    from rds_maint.campaign_model import Campaign
    from rds_maint.model import Event, Operation

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient
    from mypy_boto3_stepfunctions.client import SFNClient

JsonDict = dict[str, Any]
LambdaHandler = Callable[[Any, Any], JsonDict]  # (event, context) -> result, as Lambda calls it

MOTO_CONFIG: Any = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}
REGION = "us-east-1"
FUNCTION_NAME = "rds-maint-engine"
MACHINE_NAME = "rds-maint-machine"
CAMPAIGN_MACHINE_NAME = f"{MACHINE_NAME}-campaign"  # as sfn/template.yaml names it
CAMPAIGN_APPROVAL_DETAIL_TYPE = "CampaignApprovalRequired"  # rds_maint.campaign.machine_steps
NOTICE_TIME_SCALE = 200.0  # virtual seconds of a notice timeout per real second
SYNC_POLL_SECONDS = 0.02  # how often (real time) a `.sync` task looks at its child execution; moto: 0.5

_SFN = "moto.stepfunctions.parser.asl.component"
# Held by every AWS request under `serialise_aws` (a Lambda invocation is one, with its own requests nested)
# and by every advance of virtual time, so a Wait of one execution cannot pass inside another's invocation.
_AWS_LOCK = threading.RLock()
_MISSING = object()

W = TypeVar("W")


class Patcher(Protocol):
    """What the install functions need: pytest's `MonkeyPatch` has it, and so does `Patches`."""

    def setattr(self, target: Any, name: str, value: Any) -> None: ...


class Patches:
    """A patcher for code outside pytest: keeps each original and puts it back in `undo()` (or on exit)."""

    def __init__(self) -> None:
        self._saved: list[tuple[Any, str, Any]] = []

    def setattr(self, target: Any, name: str, value: Any) -> None:
        # the object's own attribute, not what getattr finds (a bound or inherited one): undo then
        # deletes what was not there, and the class's method shows through again
        try:
            old = vars(target).get(name, _MISSING)
        except TypeError:  # no __dict__ (slots)
            old = getattr(target, name, _MISSING)
        self._saved.append((target, name, old))
        setattr(target, name, value)

    def undo(self) -> None:
        while self._saved:
            target, name, old = self._saved.pop()
            if old is _MISSING:
                delattr(target, name)
            else:
                setattr(target, name, old)

    def __enter__(self) -> Patches:
        return self

    def __exit__(self, *exc: object) -> None:
        self.undo()


@dataclass
class SimWorld:
    """What a run needs besides the machine: the simulated Aurora, its clock and the engine's store."""

    sim: SimulatedAurora
    clock: VirtualClock
    store: StateStore
    store_url: str


@dataclass
class Harness(Generic[W]):
    world: W
    sfn: SFNClient
    sqs: SQSClient
    machine_arn: str
    function_arn: str
    queues: dict[str, str]
    invocations: list[JsonDict] = field(default_factory=list)  # every engine Lambda event, in order
    delivered: list[JsonDict] = field(default_factory=list)  # those EventBridge rules delivered (not Tasks)
    service_errors: dict[str, int] = field(default_factory=dict)
    waits: list[float] = field(default_factory=list)
    short_notice_timeouts: int = 0  # how many notices time out in virtual-to-real scaled time
    backoffs: list[float] = field(default_factory=list)
    death_error_type: str | None = None  # the errorType a dead function's payload carries (None: none)
    deaths: int = 0  # invocations that died (a SimulatedCrash out of the handler)
    received: dict[str, list[JsonDict]] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)  # what the template's SNS target published, in order
    campaign_machine_arn: str | None = None  # the campaign machine, when built (`campaign_asl_path`)

    # -- driving -------------------------------------------------------------------------

    def start(self, payload: JsonDict, name: str = "run-1") -> str:
        arn = self.sfn.start_execution(stateMachineArn=self.machine_arn, name=name, input=json.dumps(payload))
        return arn["executionArn"]

    def start_campaign(self, campaign_id: str, name: str | None = None) -> str:
        """An execution of the campaign machine for the stored campaign `campaign_id`."""
        if self.campaign_machine_arn is None:
            raise RuntimeError("no campaign machine: build the harness with campaign_asl_path")
        started = self.sfn.start_execution(
            stateMachineArn=self.campaign_machine_arn,
            name=name or campaign_id,
            input=json.dumps({"campaign_id": campaign_id}),
        )
        return started["executionArn"]

    def executions(self, machine_arn: str | None = None) -> list[JsonDict]:
        """Every execution of a machine (default: the operation machine), all pages."""
        found: list[JsonDict] = []
        kwargs: JsonDict = {"stateMachineArn": machine_arn or self.machine_arn, "maxResults": 1000}
        while True:
            page: Any = self.sfn.list_executions(**kwargs)
            found.extend(page["executions"])
            if not page.get("nextToken"):
                return found
            kwargs["nextToken"] = page["nextToken"]

    def describe(self, arn: str) -> JsonDict:
        described: Any = self.sfn.describe_execution(executionArn=arn)
        return dict(described)

    def wait_done(self, arn: str, timeout: float = 180) -> JsonDict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            described = self.describe(arn)
            if described["status"] != "RUNNING":
                return described
            time.sleep(0.05)
        raise TimeoutError(f"{arn} still running after {timeout}s; last calls: {self.actions()[-8:]}")

    def actions(self) -> list[str]:
        return [str(event.get("action")) for event in list(self.invocations)]

    def history(self, arn: str) -> list[JsonDict]:
        return execution_history(self.sfn, arn)

    # -- reading EventBridge deliveries ----------------------------------------------------

    def drain(self, queue: str) -> list[JsonDict]:
        seen = self.received.setdefault(queue, [])
        while True:
            got: Any = self.sqs.receive_message(QueueUrl=self.queues[queue], MaxNumberOfMessages=10)
            messages = got.get("Messages", [])
            if not messages:
                return seen
            for message in messages:
                seen.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=self.queues[queue], ReceiptHandle=message["ReceiptHandle"])

    def notice(self, arn: str, number: int = 1, timeout: float = 180) -> JsonDict:
        """The `detail` of the n-th InterventionRequired event delivered to the operators' queue."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            notices = self.drain("interventions")
            if len(notices) >= number:
                detail: JsonDict = notices[number - 1]["detail"]
                return detail
            status = self.describe(arn)["status"]
            if status != "RUNNING":
                raise RuntimeError(f"execution ended {status} before notice {number}: {self.describe(arn)}")
            time.sleep(0.05)
        raise TimeoutError(f"no notice {number} within {timeout}s; calls: {self.actions()[-8:]}")

    def status_events(self) -> list[JsonDict]:
        return [event["detail"] for event in self.drain("status")]


HarnessRef = list[Harness[Any]]  # filled once the harness is built; the patches read it at call time


def execution_history(sfn: Any, arn: str) -> list[JsonDict]:
    """Every history event of one execution, all pages, oldest first."""
    events: list[JsonDict] = []
    kwargs: JsonDict = {"executionArn": arn, "maxResults": 1000}
    while True:
        page: Any = sfn.get_execution_history(**kwargs)
        events.extend(page["events"])
        if not page.get("nextToken"):
            return events
        kwargs["nextToken"] = page["nextToken"]


def install_lambda(harness_ref: HarnessRef, patcher: Patcher, handler: LambdaHandler) -> None:
    """moto's simple Lambda backend runs `handler` (the real one) in-process."""
    from moto.awslambda_simple.models import LambdaSimpleBackend
    from moto.core.exceptions import JsonRESTError

    class ServiceException(JsonRESTError):
        code = 500

        def __init__(self) -> None:
            super().__init__("ServiceException", "simulated Lambda service failure")

    def invoke(self: Any, function_name: str, qualifier: Any, body: Any, headers: Any, response_headers: Any) -> bytes:
        harness = harness_ref[0]
        event = json.loads(body) if body else {}
        harness.invocations.append(event)
        action = str(event.get("action"))
        if harness.service_errors.get(action, 0) > 0:
            harness.service_errors[action] -= 1
            raise ServiceException()
        try:
            result = handler(event, None)
        except SimulatedCrash:
            # Killed by its timeout or out of memory: Lambda answers a function error whose payload has
            # no errorType ("Task timed out after 300.00 seconds"); Step Functions names it Lambda.Unknown.
            harness.deaths += 1
            response_headers["x-amz-function-error"] = "Unhandled"
            died: JsonDict = {"errorMessage": "Task timed out after 300.00 seconds"}
            if harness.death_error_type is not None:
                died["errorType"] = harness.death_error_type
            return json.dumps(died).encode()
        except BaseException as exc:  # an unhandled error in the function
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps({"errorType": type(exc).__name__, "errorMessage": str(exc)}).encode()
        return json.dumps(result).encode()

    patcher.setattr(LambdaSimpleBackend, "invoke", invoke)


def install_lambda_error_names(patcher: Patcher) -> None:
    """AWS names a Lambda service error `Lambda.<Code>` (e.g. Lambda.ServiceException); moto says `Exception`."""
    task_lambda: Any = importlib.import_module(f"{_SFN}.state.exec.state_task.state_task_lambda")
    failure: Any = importlib.import_module(f"{_SFN}.common.error_name.failure_event")
    custom: Any = importlib.import_module(f"{_SFN}.common.error_name.custom_error_name")
    api: Any = importlib.import_module("moto.stepfunctions.parser.api")
    detail: Any = importlib.import_module("moto.stepfunctions.parser.asl.eval.event.event_detail")
    lambda_eval: Any = importlib.import_module(f"{_SFN}.state.exec.state_task.lambda_eval_utils")
    original = task_lambda.StateTaskLambda._from_error

    def from_error(self: Any, env: Any, ex: Exception) -> Any:
        if isinstance(ex, lambda_eval.LambdaFunctionErrorException) and not _error_type(ex.payload):
            # "Unhandled errors in Lambda are reported as Lambda.Unknown ... out-of-memory errors and
            # function timeouts" (Step Functions developer guide, bp-lambda-serviceexception).
            name, cause = "Lambda.Unknown", str(ex.payload)
        elif isinstance(ex, ClientError):
            name, cause = f"Lambda.{ex.response['Error']['Code']}", str(ex.response["Error"].get("Message", ""))
        else:
            return original(self, env, ex)
        return failure.FailureEvent(
            env=env,
            error_name=custom.CustomErrorName(name),
            event_type=api.HistoryEventType.LambdaFunctionFailed,
            event_details=detail.EventDetails(
                lambdaFunctionFailedEventDetails=api.LambdaFunctionFailedEventDetails(error=name, cause=cause)
            ),
        )

    patcher.setattr(task_lambda.StateTaskLambda, "_from_error", from_error)


def _error_type(payload: Any) -> str | None:
    try:
        parsed = json.loads(payload) if isinstance(payload, str | bytes) else payload
    except ValueError:
        return None
    value = parsed.get("errorType") if isinstance(parsed, dict) else None
    return value if isinstance(value, str) and value else None


class MortalStore:
    """The engine's store in a Lambda that can die: nothing reaches it while a `SimulatedCrash` unwinds.

    In-process, the crash is an exception, and the engine's `except BaseException` clean-up (drop
    the step lease) would still write. A function killed by its timeout or the OOM killer runs no
    clean-up, so every call made while the crash is being handled raises it again.
    """

    def __init__(self, inner: StateStore) -> None:
        self.inner = inner
        self.url = inner.url

    @staticmethod
    def _alive() -> None:
        if isinstance(sys.exc_info()[1], SimulatedCrash):
            raise SimulatedCrash("the Lambda is dead: its clean-up never runs")

    def create(self, operation: Operation, events: list[Event]) -> Operation:
        self._alive()
        return self.inner.create(operation, events)

    def load(self, operation_id: str) -> Operation:
        self._alive()
        return self.inner.load(operation_id)

    def create_campaign(self, campaign: Campaign) -> Campaign:
        self._alive()
        return self.inner.create_campaign(campaign)

    def load_campaign(self, campaign_id: str) -> Campaign:
        self._alive()
        return self.inner.load_campaign(campaign_id)

    def save_campaign(self, campaign: Campaign) -> Campaign:
        self._alive()
        return self.inner.save_campaign(campaign)

    def campaigns(self) -> list[Campaign]:
        self._alive()
        return self.inner.campaigns()

    def save(self, operation: Operation, events: list[Event]) -> Operation:
        self._alive()
        return self.inner.save(operation, events)

    def list_operations(self, cluster_id: str | None = None, state: str | None = None) -> list[Operation]:
        self._alive()
        return self.inner.list_operations(cluster_id, state)

    def events(self, operation_id: str) -> list[Event]:
        self._alive()
        return self.inner.events(operation_id)

    def summaries(
        self, target_id: str | None = None, kind: TargetKindFilter | None = None, state: str | None = None
    ) -> list[OperationSummary]:
        self._alive()
        return self.inner.summaries(target_id, kind, state)

    def follow(self, operation_id: str, cursor: str | None = None) -> Followed:
        self._alive()
        return self.inner.follow(operation_id, cursor)

    def acquire_lock(self, cluster_id: str, region: str, operation_id: str, replace: str | None = None) -> str:
        self._alive()
        return self.inner.acquire_lock(cluster_id, region, operation_id, replace)

    def release_lock(self, cluster_id: str, region: str, operation_id: str) -> bool:
        self._alive()
        return self.inner.release_lock(cluster_id, region, operation_id)

    def lock_holder(self, cluster_id: str, region: str) -> str | None:
        self._alive()
        return self.inner.lock_holder(cluster_id, region)


def install_virtual_time(harness_ref: HarnessRef, clock: VirtualClock, patcher: Patcher) -> None:
    """Wait states and retry back-offs spend virtual time; notice timeouts shrink to real fractions; a `.sync`
    task looks at its child every `SYNC_POLL_SECONDS` of real time."""
    wait_function: Any = importlib.import_module(f"{_SFN}.state.wait.wait_function.wait_function")
    retrier: Any = importlib.import_module(f"{_SFN}.common.retry.retrier_decl")
    timeouts: Any = importlib.import_module(f"{_SFN}.common.timeouts.timeout")

    def wait_interval(self: Any, env: Any, wait_seconds: int) -> None:
        with _AWS_LOCK:
            harness_ref[0].waits.append(wait_seconds)
            clock.advance(wait_seconds)

    def backoff(seconds: float) -> None:
        with _AWS_LOCK:
            harness_ref[0].backoffs.append(seconds)
            clock.advance(seconds)

    original_path_seconds = timeouts.TimeoutSecondsPath._eval_seconds

    def path_seconds(self: Any, env: Any) -> float:
        seconds = float(original_path_seconds(self, env))
        harness = harness_ref[0]
        if harness.short_notice_timeouts > 0:
            harness.short_notice_timeouts -= 1
            return seconds / NOTICE_TIME_SCALE
        return seconds

    callback: Any = importlib.import_module(f"{_SFN}.state.exec.state_task.service.state_task_service_callback")
    patcher.setattr(callback, "_DELAY_SECONDS_SYNC_CONDITION_CHECK", SYNC_POLL_SECONDS)
    patcher.setattr(wait_function.WaitFunction, "_wait_interval", wait_interval)
    patcher.setattr(retrier, "time", types.SimpleNamespace(sleep=backoff))
    patcher.setattr(timeouts.TimeoutSecondsPath, "_eval_seconds", path_seconds)


# Parsed JSONPaths and ASL syntax trees, kept for the whole process: each is only read once made.
_PARSED_PATHS: dict[tuple[str, str], Any] = {}
_ASL_TREES: dict[str, Any] = {}


def memoise_json_paths(patcher: Patcher) -> None:
    """moto's interpreter parses each JSONPath it evaluates afresh, building a new parser (its grammar's
    tables) every time: a sixth of a campaign test's CPU. A parsed path is a plain expression that `find`
    only reads, so one parse per path string gives the same answers."""
    for name in ("moto.stepfunctions.parser.asl.utils.json_path", f"{_SFN}.common.path.result_path"):
        module: Any = importlib.import_module(name)
        patcher.setattr(module, "parse", _parse_once(name, module.parse))


def _parse_once(kind: str, parse_afresh: Callable[[str], Any]) -> Callable[[str], Any]:
    def parse(path: str) -> Any:
        found = _PARSED_PATHS.get((kind, path))
        if found is None:
            found = _PARSED_PATHS.setdefault((kind, path), parse_afresh(path))
        return found

    return parse


def memoise_asl_syntax(patcher: Patcher) -> None:
    """moto parses a machine's definition at every execution's start, and the operation machine's is long:
    a twelfth of a campaign test's CPU is that parse. The syntax tree of a definition that parsed is only
    read afterwards, so it is kept by definition; each execution still gets components of its own, made
    from it as moto makes them (a definition with errors is parsed, and refused, every time)."""
    module: Any = importlib.import_module("moto.stepfunctions.parser.asl.parse.asl_parser")
    parser = module.AmazonStateLanguageParser
    parse_afresh = parser.parse

    def parse(definition: str) -> tuple[Any, Any]:
        tree = _ASL_TREES.get(definition)
        if tree is None:
            program, tree = parse_afresh(definition)
            _ASL_TREES.setdefault(definition, tree)
            return program, tree
        return module.Preprocessor().visit(tree), tree

    patcher.setattr(parser, "parse", staticmethod(parse))


def _lookup(event: JsonDict, path: str) -> Any:
    """The value at an input transformer's `$.a.b` path in the event (None where it is missing)."""
    value: Any = event
    for part in path.removeprefix("$.").split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def _transform(transformer: JsonDict, event: JsonDict) -> JsonDict:
    """EventBridge's input transformer for a JSON template: placeholders take JSON values."""

    text = str(transformer["InputTemplate"])
    for key, path in transformer["InputPathsMap"].items():
        text = text.replace(f"<{key}>", json.dumps(_lookup(event, str(path))))
    result: JsonDict = json.loads(text)
    return result


def render_text(transformer: JsonDict, event: JsonDict) -> str:
    """EventBridge's input transformer for a text template: placeholders take the values as text."""

    text = str(transformer["InputTemplate"])
    for key, path in transformer["InputPathsMap"].items():
        value = _lookup(event, str(path))
        text = text.replace(f"<{key}>", value if isinstance(value, str) else json.dumps(value))
    return text


def install_lambda_targets(harness_ref: HarnessRef, patcher: Patcher, handler: LambdaHandler) -> None:
    """Rules whose target is the engine Lambda deliver to `handler` in-process (moto cannot); SNS targets
    with a text template are rendered into `Harness.messages`."""
    from moto.events.models import Rule

    original = Rule.send_to_targets

    def send_to_targets(rule: Any, original_event: Any, transform_input: bool = True) -> None:
        targets = list(rule.targets)
        to_lambda = [t for t in targets if ":lambda:" in str(t["Arn"])]
        to_sns = [t for t in targets if ":sns:" in str(t["Arn"])]
        if (to_lambda or to_sns) and rule.event_pattern.matches_event(original_event):
            # Lambda first, so that a caller that has read a notice finds its token recorded.
            harness = harness_ref[0]
            for target in to_lambda:
                event = _transform(target["InputTransformer"], original_event)
                harness.invocations.append(event)
                harness.delivered.append(event)
                handler(event, None)
            for target in to_sns:
                harness.messages.append(render_text(target["InputTransformer"], original_event))
        rule.targets = [t for t in targets if t not in to_lambda and t not in to_sns]
        try:
            original(rule, original_event, transform_input)
        finally:
            rule.targets = targets

    patcher.setattr(Rule, "send_to_targets", send_to_targets)


def shim_moto_sfn_integration(patcher: Patcher) -> bool:
    """Give moto's `states:startExecution` integration the field-name mapping AWS does.

    The optimized integration takes `StateMachineArn`/`Name`/`Input` and answers
    `ExecutionArn`/`StartDate`; moto's interpreter hands the PascalCase names to boto3
    unchanged (its normalisation hooks are stubs), so the hand-off fails in moto only.
    False when this moto has no such hooks (nothing patched).
    """
    try:
        module: Any = importlib.import_module(
            "moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_sfn"
        )
    except ImportError:
        return False
    cls = getattr(module, "StateTaskServiceSfn", None)
    if cls is None or not hasattr(cls, "_normalise_parameters") or not hasattr(cls, "_normalise_response"):
        return False
    original = cls._normalise_parameters

    def normalise_parameters(
        self: Any, parameters: JsonDict, boto_service_name: Any = None, service_action_name: Any = None
    ) -> None:
        original(self, parameters, boto_service_name=boto_service_name, service_action_name=service_action_name)
        for key in [k for k in parameters if k[:1].isupper()]:
            parameters[key[0].lower() + key[1:]] = parameters.pop(key)

    def normalise_response(
        self: Any, response: Any, boto_service_name: Any = None, service_action_name: Any = None
    ) -> None:
        if isinstance(response, dict):
            for key in [k for k in response if k[:1].islower()]:
                response[key[0].upper() + key[1:]] = response.pop(key)

    patcher.setattr(cls, "_normalise_parameters", normalise_parameters)
    patcher.setattr(cls, "_normalise_response", normalise_response)
    return True


def serialise_aws(patcher: Patcher) -> None:
    """One AWS request at a time, for callers whose threads share moto and the simulator.

    moto's backends are plain Python objects: a conditional write (S3 If-Match, DynamoDB
    ConditionExpression) is a check and then a write, not atomic across threads; the
    simulator's timeline is not thread-safe either. AWS applies each request atomically, so
    the harness does the same: each moto request and each simulated RDS call holds one lock.
    The engine and the stores are not serialised: their requests still interleave freely.
    The interpreter runs each execution in its own thread, so a caller polling it needs this.
    """
    from moto.core.botocore_stubber import BotocoreStubber

    lock = _AWS_LOCK
    process = BotocoreStubber.process_request
    answer = SimulatedAurora._answer

    def locked_process(self: Any, request: Any) -> Any:
        with lock:
            return process(self, request)

    def locked_answer(self: SimulatedAurora, *args: Any, **kwargs: Any) -> Any:
        with lock:
            return answer(self, *args, **kwargs)

    patcher.setattr(BotocoreStubber, "process_request", locked_process)
    patcher.setattr(SimulatedAurora, "_answer", locked_answer)


def load_template(path: Path) -> JsonDict:
    """A SAM template (the checkout's sfn/template.yaml) with CloudFormation short tags turned into their
    long form (needs PyYAML)."""
    yaml: Any = importlib.import_module("yaml")

    class Loader(yaml.SafeLoader):  # type: ignore[misc]
        pass

    def construct(loader: Any, suffix: str, node: Any) -> Any:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        if suffix == "Ref":
            return {"Ref": value}
        if suffix == "GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
        return {f"Fn::{suffix}": value}

    Loader.add_multi_constructor("!", construct)
    template: JsonDict = yaml.load(path.read_text(encoding="utf-8"), Loader=Loader)
    return template


def template_rule(template_path: Path) -> JsonDict:
    """The template's InterventionRule properties (pattern, targets and the Lambda's input transformer)."""
    rule: JsonDict = load_template(template_path)["Resources"]["InterventionRule"]["Properties"]
    return rule


def resolve_sub(value: Any, variables: dict[str, str]) -> str:
    """A template string or `Fn::Sub` (either form) with `variables` (and the Sub's own map) put in."""
    if isinstance(value, dict) and "Fn::Sub" in value:
        sub = value["Fn::Sub"]
        text, own = (sub[0], sub[1]) if isinstance(sub, list) else (sub, {})
        names = {**variables, **{key: variables.get(key, f"<{key}>") for key in own}}
        for name, replacement in names.items():
            text = text.replace("${" + name + "}", replacement)
        return str(text)
    return str(value)


def build(
    world: W,
    boto3: Any,
    *,
    asl_path: Path,
    template_path: Path,
    handler: LambdaHandler,
    region: str = REGION,
    store_url: str = "",
    campaign_asl_path: Path | None = None,
) -> Harness[W]:
    """In the current moto account: the engine function (named after `handler`), the state machine from
    `asl_path`, the intervention rule of the template at `template_path` (to the engine Lambda, its SNS
    target with its message, and an operators' queue that gets the whole event, as a target an operator
    adds would) and a status-events rule and queue; with `campaign_asl_path`, the campaign machine too
    (its `${LambdaArn}` and `${OperationMachineArn}` substituted) and a queue of its approval notices."""
    iam = boto3.client("iam", region_name=region)
    role = iam.create_role(RoleName="rds-maint", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    lam = boto3.client("lambda", region_name=region)
    function_arn = lam.create_function(
        FunctionName=FUNCTION_NAME,
        Runtime="python3.12",
        Role=role,
        Handler=f"{getattr(handler, '__module__', '')}.{getattr(handler, '__name__', 'handler')}",
        Code={"ZipFile": b"in-process"},
    )["FunctionArn"]
    sfn = boto3.client("stepfunctions", region_name=region)
    definition = asl_path.read_text(encoding="utf-8").replace("${LambdaArn}", function_arn)
    machine_arn = sfn.create_state_machine(name=MACHINE_NAME, definition=definition, roleArn=role)["stateMachineArn"]
    campaign_machine_arn = None
    if campaign_asl_path is not None:
        campaign_definition = (
            campaign_asl_path.read_text(encoding="utf-8")
            .replace("${LambdaArn}", function_arn)
            .replace("${OperationMachineArn}", machine_arn)
        )
        campaign_machine_arn = sfn.create_state_machine(
            name=CAMPAIGN_MACHINE_NAME, definition=campaign_definition, roleArn=role
        )["stateMachineArn"]
    sqs = boto3.client("sqs", region_name=region)
    names = ("interventions", "status", "campaigns")
    queues = {name: sqs.create_queue(QueueName=name)["QueueUrl"] for name in names}
    arns = {
        name: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        for name, url in queues.items()
    }
    events = boto3.client("events", region_name=region)
    rule = template_rule(template_path)
    pattern = dict(rule["EventPattern"])
    pattern["resources"] = [machine_arn]  # the template's !Ref StateMachine
    events.put_rule(Name="interventions", EventPattern=json.dumps(pattern), EventBusName="default")
    record = next(t for t in rule["Targets"] if t["Arn"] == {"Fn::GetAtt": ["EngineFunction", "Arn"]})
    notify = next(t for t in rule["Targets"] if t["Arn"] == {"Ref": "InterventionTopic"})
    variables = {"StoreUrl": store_url, "AWS::Region": region}
    message = {
        "InputPathsMap": notify["InputTransformer"]["InputPathsMap"],
        "InputTemplate": resolve_sub(notify["InputTransformer"]["InputTemplate"], variables),
    }
    topic_arn = f"arn:aws:sns:{region}:123456789012:rds-maint-interventions"  # delivered in-process
    events.put_targets(
        Rule="interventions",
        EventBusName="default",
        Targets=[
            {"Id": "RecordTaskToken", "Arn": function_arn, "InputTransformer": record["InputTransformer"]},
            {"Id": "NotifyOperators", "Arn": topic_arn, "InputTransformer": message},
            {"Id": "Operators", "Arn": arns["interventions"]},  # a target an operator adds: the whole event
        ],
    )
    status_pattern = {"source": ["rds-maint-machine"], "detail-type": [STATUS_DETAIL_TYPE]}
    events.put_rule(Name="status", EventPattern=json.dumps(status_pattern), EventBusName="default")
    events.put_targets(Rule="status", EventBusName="default", Targets=[{"Id": "Apps", "Arn": arns["status"]}])
    campaign_pattern = {"source": ["rds-maint-machine"], "detail-type": [CAMPAIGN_APPROVAL_DETAIL_TYPE]}
    events.put_rule(Name="campaigns", EventPattern=json.dumps(campaign_pattern), EventBusName="default")
    events.put_targets(Rule="campaigns", EventBusName="default", Targets=[{"Id": "People", "Arn": arns["campaigns"]}])
    return Harness(
        world=world,
        sfn=sfn,
        sqs=sqs,
        machine_arn=machine_arn,
        function_arn=function_arn,
        queues=queues,
        campaign_machine_arn=campaign_machine_arn,
    )


def sim_world(sim: SimulatedAurora, clock: VirtualClock, store_url: str) -> SimWorld:
    return SimWorld(sim=sim, clock=clock, store=open_store(store_url), store_url=store_url)


@contextmanager
def machine_in_moto(
    patcher: Patcher,
    state_dir: Path,
    make_world: Callable[[SimulatedAurora, VirtualClock, str], W],
    *,
    asl_path: Path,
    template_path: Path,
    make_handler: Callable[[EngineFactory], LambdaHandler],
    region: str = REGION,
    poll_policy: PollPolicy | None = None,
    configure_engine: Callable[[Engine], None] | None = None,
    campaign_asl_path: Path | None = None,
) -> Iterator[Harness[W]]:
    """moto with the interpreter on, the simulated Aurora, a file store in `state_dir`, the engine Lambda
    (`make_handler(engine factory)`, in-process), the state machine at `asl_path`, the intervention rule
    of the template at `template_path` and two SQS queues (operators, status events).

    The engine Lambda builds one engine per store (a warm container) with `poll_policy` (None: the
    environment's, as in Lambda), handed to `configure_engine` first. Callers whose threads read moto
    while executions run also need `serialise_aws`. On exit, running executions are stopped and the
    RDS_MAINT_STORE is put back; the patches stay with `patcher`.
    """
    import boto3
    from moto import mock_aws

    ref: HarnessRef = []
    factories: list[EngineFactory] = []  # the engine factory, once the simulator it wires exists
    handler = make_handler(lambda settings: factories[0](settings))
    install_lambda(ref, patcher, handler)
    install_lambda_error_names(patcher)
    install_lambda_targets(ref, patcher, handler)
    if not shim_moto_sfn_integration(patcher):
        raise RuntimeError("moto's startExecution integration changed: the hand-off cannot run in moto")
    with mock_aws(config=MOTO_CONFIG):
        clock = VirtualClock()
        install_virtual_time(ref, clock, patcher)
        memoise_json_paths(patcher)
        memoise_asl_syntax(patcher)
        with SimulatedAurora(clock=clock, region=region) as sim:
            clients = sim.clients(make_rds_client)
            store_url = f"file://{state_dir}"
            warm: dict[str, Engine] = {}

            def factory(settings: Settings) -> Engine:
                """One engine per store, like a warm Lambda container."""
                url = settings.store_url or store_url
                if url not in warm:
                    # the drivers' wiring (the request meter included), on the simulator's clients
                    engine = wiring.build_engine(
                        settings,
                        clock=clock,
                        client_factory=clients,
                        store=MortalStore(open_store(url)),
                        poll_policy=poll_policy,
                    )
                    if configure_engine is not None:
                        configure_engine(engine)
                    warm[url] = engine
                return warm[url]

            world = make_world(sim, clock, store_url)
            factories.append(factory)
            old_store = os.environ.get("RDS_MAINT_STORE")
            os.environ["RDS_MAINT_STORE"] = store_url
            try:
                ref.append(
                    build(
                        world,
                        boto3,
                        asl_path=asl_path,
                        template_path=template_path,
                        handler=handler,
                        region=region,
                        store_url=store_url,
                        campaign_asl_path=campaign_asl_path,
                    )
                )
                yield ref[0]
            finally:
                harness = ref[0] if ref else None
                if harness is not None:
                    machines = [harness.campaign_machine_arn, harness.machine_arn]  # parents first
                    for arn in [m for m in machines if m is not None]:
                        listed: Any = harness.sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING")
                        for execution in listed["executions"]:
                            harness.sfn.stop_execution(executionArn=execution["executionArn"])
                if old_store is None:
                    os.environ.pop("RDS_MAINT_STORE", None)
                else:
                    os.environ["RDS_MAINT_STORE"] = old_store
