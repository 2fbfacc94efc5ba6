"""A scripted stand-in for the engine Lambda (`FakeEngine`, speaking the DESIGN section 4/5 protocol) and
the state machine built around it in moto's Step Functions interpreter (`Machine`)."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sfn_harness.machine import execution_history
from tests.helpers.artifacts import (
    OPERATION_TYPES,
    RESULT_KEYS,
    RESUME_ACTIONS,
    JsonDict,
    asl_states,
)

if TYPE_CHECKING:
    from mypy_boto3_stepfunctions.client import SFNClient


class FakeCrash(Exception):
    """The scripted engine 'crashes': the Lambda answers with a FunctionError."""


@dataclass
class FakeOperation:
    id: str
    cluster_id: str
    state: str
    script: deque[str]
    step_index: int = 0
    pause_reason: str | None = None
    error: str | None = None
    unwind: str | None = None
    failures: list[JsonDict] = field(default_factory=list)


class FakeEngine:
    """A stand-in for the engine Lambda that speaks the DESIGN section 4/5 protocol.

    Each step/poll takes the next scripted outcome: continue, wait, intervention, completed,
    failed, finish (end of an abort/rollback clean-up), error, conflict, raise.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ops: dict[str, FakeOperation] = {}
        self.calls: list[JsonDict] = []
        self.script: list[str] = ["completed"]
        self.ignore_bad_answers = False  # answer a resume without a valid action with no error (and no change)

    def seed(self, state: str, script: Iterable[str] = (), cluster_id: str = "orders-prod") -> FakeOperation:
        op = FakeOperation(f"{cluster_id}-{len(self.ops) + 1}", cluster_id, state, deque(script))
        if state == "paused":
            op.pause_reason = "seeded pause"
        self.ops[op.id] = op
        return op

    def actions(self) -> list[str]:
        with self.lock:
            return [str(call["action"]) for call in self.calls]

    def handle(self, event: JsonDict) -> JsonDict:
        with self.lock:
            self.calls.append(event)
            result = self._dispatch(event)
        assert set(result) == RESULT_KEYS
        return result

    @staticmethod
    def _result(op: FakeOperation | None, outcome: str, wait_seconds: int = 0, error: str | None = None) -> JsonDict:
        return {
            "operation_id": op.id if op else None,
            "operation_state": op.state if op else None,
            "step_index": op.step_index if op else None,
            "step_name": f"step-{op.step_index}" if op else None,
            "step_action": "fake_action" if op else None,
            "step_state": "pending" if op else None,
            "outcome": outcome,
            "continue": outcome == "continue",
            "needs_wait": outcome == "wait",
            "needs_intervention": outcome == "intervention",
            "completed": outcome == "completed",
            "failed": outcome == "failed",
            "wait_seconds": wait_seconds,
            "pause_reason": op.pause_reason if op else None,
            "error": error,
        }

    def _report(self, op: FakeOperation, error: str | None = None) -> JsonDict:
        outcome = {"completed": "completed", "failed": "failed", "rolled_back": "failed", "paused": "intervention"}
        final_error = op.error if op.state in ("completed", "failed", "rolled_back") else None
        return self._result(op, outcome.get(op.state, "continue"), error=error or final_error)

    def _dispatch(self, event: JsonDict) -> JsonDict:
        action = event["action"]
        params: Any = event.get("params") or {}
        if not isinstance(params, dict):  # as rds_maint.lambda_handler answers
            return self._result(None, "failed", error="params must be an object")
        if action == "create":
            if params.get("type") not in OPERATION_TYPES:
                return self._result(None, "failed", error=f"unknown operation type {params.get('type')!r}")
            target = params.get("cluster_id") or params.get("instance_id")  # a DB instance is a target too
            op = self.seed("created", self.script, cluster_id=str(target))
            return self._report(op)
        op_id = event.get("operation_id")
        if not isinstance(op_id, str) or op_id not in self.ops:
            return self._result(None, "failed", error=f"no operation {op_id!r}")
        op = self.ops[op_id]
        if action == "start":
            op.state = "running" if op.state == "created" else op.state
            return self._report(op)
        if action == "status":
            return self._report(op)
        if action in ("step", "poll"):
            return self._advance(op)
        if action == "resume":
            return self._resume(op, params)
        if action == "fail":
            if op.state not in ("completed", "failed", "rolled_back"):
                op.state = "paused"
                op.pause_reason = f"execution failed: {params.get('error')}"
                op.failures.append(params)
            return self._report(op)
        raise AssertionError(f"the machine sent an unexpected action {action!r}")

    def _advance(self, op: FakeOperation) -> JsonDict:
        if op.state in ("completed", "failed", "rolled_back", "paused"):
            return self._report(op)
        outcome = op.script.popleft() if op.script else "completed"
        if outcome == "raise":
            raise FakeCrash("the engine crashed")
        if outcome == "error":
            return self._result(op, "failed", error="engine error: store unreachable")
        if outcome == "conflict":
            return self._report(op, error="conflict: version 3 is stale; re-read: running")
        if outcome == "continue":
            op.step_index += 1
        elif outcome == "intervention":
            op.state = "paused"
            op.pause_reason = f"step-{op.step_index} needs a person"
        elif outcome in ("completed", "finish"):
            op.state = {"abort": "failed", "rollback": "rolled_back"}.get(op.unwind or "", "completed")
            op.error = "aborted by operator" if op.unwind == "abort" else None
        elif outcome == "failed":
            op.state = "failed"
            op.error = f"step-{op.step_index} failed"
        return self._report(op) if outcome != "wait" else self._result(op, "wait", wait_seconds=1)

    def _resume(self, op: FakeOperation, answer: JsonDict) -> JsonDict:
        action = answer.get("action")
        if action not in RESUME_ACTIONS and self.ignore_bad_answers:
            return self._report(op)
        if action not in RESUME_ACTIONS:
            return self._result(None, "failed", error=f"unknown resume action {action!r}")
        if op.state != "paused":
            if action == "continue":
                return self._report(op)
            return self._result(None, "failed", error=f"operation {op.id} is {op.state}")
        op.pause_reason = None
        if action == "continue":
            op.state = "rolling_back" if op.unwind else "running"
        elif action == "mark_complete":
            op.state = "completed"
        else:
            op.unwind = str(action)
            op.state = "rolling_back"
            op.script = deque(["continue", "finish"])
        return self._report(op)


@dataclass
class Machine:
    client: SFNClient
    engine: FakeEngine
    arn: str
    handoff_supported: bool = True
    started: list[str] = field(default_factory=list)

    def start(self, payload: JsonDict, name: str = "run-1") -> str:
        arn = self.client.start_execution(stateMachineArn=self.arn, name=name, input=json.dumps(payload))[
            "executionArn"
        ]
        self.started.append(arn)
        return arn

    def history(self, execution_arn: str) -> list[JsonDict]:
        return execution_history(self.client, execution_arn)

    def notices(self, execution_arn: str) -> list[JsonDict]:
        """The EventBridge entries the machine sent with putEvents.waitForTaskToken, in order."""
        found: list[JsonDict] = []
        for event in self.history(execution_arn):
            details = event.get("taskScheduledEventDetails")
            if not details or details.get("resource") != "putEvents.waitForTaskToken":
                continue
            entry: JsonDict = json.loads(details["parameters"])["Entries"][0]
            if isinstance(entry["Detail"], str):
                entry["Detail"] = json.loads(entry["Detail"])
            found.append(entry)
        return found

    def wait_for_notice(self, execution_arn: str, number: int = 1, timeout: float = 180) -> JsonDict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            notices = self.notices(execution_arn)
            if len(notices) >= number:
                return notices[number - 1]
            status = self.client.describe_execution(executionArn=execution_arn)["status"]
            assert status == "RUNNING", f"execution ended ({status}) before notice {number}"
            time.sleep(0.05)
        raise AssertionError(f"no notice {number} within {timeout}s; engine calls: {self.engine.actions()}")

    def wait_done(self, execution_arn: str, timeout: float = 180) -> JsonDict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            described: Any = self.client.describe_execution(executionArn=execution_arn)
            if described["status"] != "RUNNING":
                result: JsonDict = dict(described)
                return result
            time.sleep(0.05)
        raise AssertionError(f"still running after {timeout}s; engine calls: {self.engine.actions()}")


def entered(history: list[JsonDict], state_name: str) -> list[int]:
    return [
        i
        for i, event in enumerate(history)
        if event["type"].endswith("StateEntered") and event["stateEnteredEventDetails"]["name"] == state_name
    ]


def notify_state_name() -> str:
    return next(
        name
        for name, state in asl_states().items()
        if state.get("Resource") == "arn:aws:states:::events:putEvents.waitForTaskToken"
    )


MachineFactory = Callable[..., Machine]
