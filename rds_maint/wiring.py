"""The one place that builds the parts an engine runs with: store, RDS gateways, clock, listeners.

Drivers (CLI, Lambda, demo) ask here for an engine; tests, the demo and the Step Functions harness
ask with explicit arguments instead of patching the process: a `client_factory` that makes each
boto3 RDS client (the simulator wraps it to attach itself to every client it makes, so the real
gateway runs against it), a clock, a store. Nothing here is registered process-wide, so what an
engine talks to is visible where it is built.

This is the only module of the drivers' side that imports the AWS SDK for the engine's sake: the
engine, plans and actions see ports (`rds_maint.ports`) and never load boto3.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from rds_maint import config
from rds_maint.clock import Clock, SystemClock
from rds_maint.config import Settings
from rds_maint.engine import Engine, EngineFactory, Listener
from rds_maint.intervention import StatusPublisher
from rds_maint.rds import RdsGateway, make_rds_client
from rds_maint.store import open_store

if TYPE_CHECKING:
    from mypy_boto3_rds import RDSClient

    from rds_maint.actions.polling import PollPolicy
    from rds_maint.store import StateStore

__all__ = [
    "EngineFactory",
    "RdsClientFactory",
    "build_engine",
    "events_client",
    "rds_gateways",
    "status_publisher",
]

RdsClientFactory = Callable[[str, "str | None"], "RDSClient"]
"""(region, profile) -> a boto3 RDS client; `rds.make_rds_client` for AWS, wrapped by the simulator in tests."""


def rds_gateways(
    settings: Settings, clock: Clock, client_factory: RdsClientFactory = make_rds_client
) -> Callable[[str], RdsGateway]:
    """One gateway per call for a region, its retries sleeping on `clock` (virtual time in the simulator)."""

    def gateway(region: str) -> RdsGateway:
        return RdsGateway(client_factory(region, settings.profile), sleep=clock.sleep)

    return gateway


def build_engine(
    settings: Settings,
    *,
    clock: Clock | None = None,
    client_factory: RdsClientFactory = make_rds_client,
    store: StateStore | None = None,
    poll_policy: PollPolicy | None = None,
    listeners: Sequence[Listener] = (),
) -> Engine:
    """An engine on the store of `settings.store_url` (or `store`), RDS through `client_factory`."""
    clock = clock or SystemClock()
    engine = Engine(
        store if store is not None else open_store(settings.store_url, settings.region, settings.profile),
        rds_gateways(settings, clock, client_factory),
        clock,
        poll_policy,
    )
    engine.listeners.extend(listeners)
    return engine


def events_client(region: str | None) -> Any:
    """The EventBridge client status events go out on."""
    import boto3
    from botocore.config import Config

    # Short timeouts and few retries: a slow EventBridge must not stall an engine step.
    timeouts = Config(connect_timeout=2, read_timeout=5, retries={"mode": "standard", "max_attempts": 2})
    return boto3.client("events", region_name=region, config=timeouts)


def status_publisher(region: str | None = None) -> StatusPublisher | None:
    """The `OperationStatusChanged` publisher the environment asks for (RDS_MAINT_STATUS_EVENTS, _EVENT_BUS),
    its client made on first use; None when status events are off."""
    if not config.status_events_enabled():
        return None
    return StatusPublisher(bus=config.event_bus(), client_factory=lambda: events_client(region))
