"""Lambda entry for the Step Functions machine: one engine call per invocation.

Every answer has the DESIGN section 4 keys, errors included, so the state machine can
route on `error` instead of catching exceptions for input it can judge.

Every engine it builds publishes `OperationStatusChanged` events after each save
(`rds_maint.intervention.StatusPublisher`) unless RDS_MAINT_STATUS_EVENTS is `off`;
RDS_MAINT_EVENT_BUS names the bus (default `default`).

Logs: one JSON line per invocation with the action, the operation id and the outcome (WARNING when
the answer is an error, ERROR with the traceback when the function fails), in Powertools' keys
(`rds_maint.log`), with the invocation's `cold_start` and `function_request_id` on every line the
engine writes meanwhile.

The module-level `handler` is the real wiring, built lazily: one engine per warm container and
settings (`rds_maint.wiring.build_engine`). Tests and the Step Functions harness build their own with
`make_handler(engine_factory)`: nothing is patched into this module.

Cold start (in Lambda only): the cyclic garbage collector is held off while the container imports this
module and until its first invocation has answered. Nearly everything allocated in that window (modules,
classes, pydantic validators, botocore's service models and clients) lives as long as the container, so
each collection there walks a growing heap to free next to nothing; holding it off cuts the cold start by
about a tenth (docs/cold-start.md). What the import built is then frozen out of later collections
(`gc.freeze`), and collection resumes after the first answer, so a warm container collects as usual.
"""

# ruff: noqa: E402 (the collector is held off before the imports below, which are most of the cold start)
from __future__ import annotations

import gc

from rds_maint import config

_HOLDING_GC = config.in_lambda() and gc.isenabled()
if _HOLDING_GC:
    gc.disable()

from collections.abc import Callable
from typing import Any

from rds_maint.actor import STEP_FUNCTIONS_UNKNOWN
from rds_maint.config import Settings
from rds_maint.engine import Engine, EngineFactory
from rds_maint.errors import BadInput, RdsMaintError
from rds_maint.intervention import StatusPublisher
from rds_maint.log import bind_invocation, get_logger, unbind_invocation
from rds_maint.model import Outcome, StepResult

__all__ = ["ACTIONS", "CAMPAIGN_ACTIONS", "Handler", "error_result", "handler", "make_handler", "warm_engine"]

log = get_logger("rds_maint.lambda")

ACTIONS = ("create", "start", "step", "poll", "status", "resume", "record_intervention", "fail")
# The campaign state machine's steps (rds_maint.campaign.machine_steps): they answer their own shapes and
# raise what they cannot judge (a missing campaign, a store that fails), which the machine's Retry/Catch see.
CAMPAIGN_ACTIONS = ("campaign_targets", "campaign_gate", "campaign_target_ended", "campaign_finish")


Handler = Callable[..., dict[str, Any]]
"""`handler(event, context=None)`: what Lambda calls."""

_engines: dict[Settings, Engine] = {}
_publishers: dict[tuple[str, str | None, str | None], StatusPublisher | None] = {}
_cold_start = True  # until the first invocation of this container


def _release_gc() -> None:
    """Collection back on after the first invocation (module docstring); once."""
    global _HOLDING_GC
    if _HOLDING_GC:
        _HOLDING_GC = False
        gc.enable()


def _publisher(settings: Settings) -> StatusPublisher | None:
    """One EventBridge publisher per warm container, bus and account (its client is made on first use, on the
    session the engine's store and RDS clients share: `wiring.events_client`)."""
    from rds_maint import wiring

    if not config.status_events_enabled():
        return None
    key = (config.event_bus(), settings.region, settings.profile)
    if key not in _publishers:
        _publishers[key] = wiring.status_publisher(settings.region, settings.profile)
    return _publishers[key]


def _wired(engine: Engine, settings: Settings) -> Engine:
    publisher = _publisher(settings)
    if publisher is not None and publisher not in engine.listeners:
        engine.listeners.append(publisher)
    engine.forget_unsaved_requests()  # a warm container's last call may have sent some after its last save
    return engine


def warm_engine(settings: Settings) -> Engine:
    """The real wiring, one engine (and RDS client) per warm container and settings."""
    from rds_maint import wiring

    if settings not in _engines:
        _engines[settings] = wiring.build_engine(settings)
    return _engines[settings]


def error_result(message: str, operation_id: str | None = None) -> dict[str, Any]:
    return StepResult(
        operation_id=operation_id,
        operation_state=None,
        step_index=None,
        step_name=None,
        step_action=None,
        step_state=None,
        outcome=Outcome.FAILED,
        error=message,
    ).to_dict()


def _object(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BadInput(f"{what} must be an object")
    return value


def _dispatch(engine: Engine, action: str, operation_id: str | None, params: dict[str, Any]) -> StepResult:
    if action == "create":
        op = engine.create(params, config.aws_region())
        return engine.report(op)
    if operation_id is None:
        raise BadInput(f"action '{action}' needs operation_id")
    if action == "start":
        return engine.start(operation_id)
    if action in ("step", "poll"):
        return engine.advance(operation_id)
    if action == "status":
        return engine.status(operation_id)
    if action == "resume":
        return _answer(engine, operation_id, params)
    if action == "record_intervention":
        return engine.record_intervention(
            operation_id,
            params.get("task_token"),
            params.get("step_name"),
            params.get("step_index"),
            params.get("execution_arn"),
        )
    return engine.fail(operation_id, params.get("error"), params.get("cause"))


def _answer(engine: Engine, operation_id: str, params: dict[str, Any]) -> StepResult:
    """The operator's answer the state machine hands over (the task output: `rds-maint respond` names its
    sender and a confirmation; a raw `send-task-success` may not, and is recorded as such). A refused answer
    is kept in the event log."""
    actor = params.get("actor") or STEP_FUNCTIONS_UNKNOWN
    try:
        return engine.resume(
            operation_id, params.get("action"), params.get("comment"), actor=actor, confirm=params.get("confirm", False)
        )
    except BadInput as refused:
        # the execution asks again; the event log says why the last answer was not taken, and from whom
        who = actor if isinstance(actor, str) else STEP_FUNCTIONS_UNKNOWN
        engine.record_refused_answer(operation_id, params.get("action"), str(refused), who)
        raise


def _engine_of(engine_for: EngineFactory) -> Callable[[], Engine]:
    """The invocation's engine, built only once the event is judged sound (settings read from the environment
    then), with the status publisher the environment asks for attached."""

    def engine() -> Engine:
        settings = Settings.from_env()
        return _wired(engine_for(settings), settings)

    return engine


def make_handler(engine_for: EngineFactory) -> Handler:
    """A Lambda handler whose engine comes from `engine_for(Settings.from_env())` on each invocation
    (with the status publisher the environment asks for attached)."""

    def handler(event: Any, context: Any = None) -> dict[str, Any]:
        global _cold_start
        bind_invocation(context, _cold_start)
        _cold_start = False
        action = event.get("action") if isinstance(event, dict) else None
        try:
            if action in CAMPAIGN_ACTIONS:
                return _campaign_step(event, engine_for)
            result = _handle(event, _engine_of(engine_for))
            _log_result(action, result)
            return result
        except BaseException:
            raw_id = event.get("operation_id") if isinstance(event, dict) else None
            log.exception(f"{action}: the function failed", action=action, operation_id=raw_id, outcome="crashed")
            raise
        finally:
            unbind_invocation()
            _release_gc()

    return handler


handler = make_handler(warm_engine)


def _text(event: dict[str, Any], key: str) -> str:
    value = event.get(key)
    if not isinstance(value, str):
        raise BadInput(f"{event.get('action')} needs {key} as a string, not {value!r}")
    return value


def _campaign_step(event: dict[str, Any], engine_for: EngineFactory) -> dict[str, Any]:
    """One step of the campaign state machine (module `rds_maint.campaign.machine_steps`)."""
    from rds_maint.campaign import machine_steps as steps

    action = event["action"]
    campaign_id = _text(event, "campaign_id")
    params = _object(event.get("params"), "params")
    settings = Settings.from_env()
    engine = _wired(engine_for(settings), settings)
    if action == "campaign_targets":
        result = steps.campaign_targets(
            engine,
            campaign_id,
            waited=params.get("waited", 0),
            execution_arn=params.get("execution_arn"),
            looks=params.get("looks", 0),
            mapped=params.get("mapped", 0),
        )
    elif action == "campaign_gate":
        result = steps.campaign_gate(
            engine,
            campaign_id,
            _text(event, "operation_id"),
            machine_arn=params.get("machine_arn"),
            waited=params.get("waited", 0),
        )
    elif action == "campaign_target_ended":
        result = steps.campaign_target_ended(
            engine,
            campaign_id,
            _text(event, "operation_id"),
            outcome=params.get("outcome", "succeeded"),
            error=params.get("error"),
            looked=params.get("looked", 0),
        )
    else:
        result = steps.campaign_finish(engine, campaign_id)
    log.info(
        f"{action} {campaign_id}: {result.get('next') or result.get('decision') or result.get('state') or '-'}",
        action=action,
        campaign_id=campaign_id,
        operation_id=event.get("operation_id"),
    )
    return result


def _log_result(action: Any, result: dict[str, Any]) -> None:
    """The one line per invocation: what was asked, of which operation, and how it ended."""
    said = log.warning if result.get("error") else log.info
    said(
        f"{action} {result.get('operation_id') or '-'}: {result.get('outcome')}",
        action=action,
        operation_id=result.get("operation_id"),
        outcome=result.get("outcome"),
        operation_state=result.get("operation_state"),
        step_name=result.get("step_name"),
        wait_seconds=result.get("wait_seconds") or None,
        error=result.get("error"),
    )


def _handle(event: Any, engine: Callable[[], Engine]) -> dict[str, Any]:
    if not isinstance(event, dict):
        return error_result("the event must be an object with an 'action'")
    action = event.get("action")
    raw_id = event.get("operation_id")
    operation_id = raw_id if isinstance(raw_id, str) else None
    if action not in ACTIONS:
        known = ", ".join((*ACTIONS, *CAMPAIGN_ACTIONS))
        return error_result(f"unknown action {action!r}: expected one of {known}", operation_id)
    if raw_id is not None and not isinstance(raw_id, str):
        return error_result("operation_id must be a string")
    try:
        params = _object(event.get("params"), "params")
        result = _dispatch(engine(), action, operation_id, params)
    except RdsMaintError as exc:
        return error_result(str(exc), operation_id)
    return result.to_dict()


if _HOLDING_GC:
    gc.freeze()  # the module graph just imported lives as long as the container: later collections skip it
