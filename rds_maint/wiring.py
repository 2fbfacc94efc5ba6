"""The one place that builds the parts an engine runs with: store, RDS gateways, clock, listeners.

Drivers (CLI, Lambda, demo) ask here for an engine; tests, the demo and the Step Functions harness
ask with explicit arguments instead of patching the process: a `client_factory` that makes each
boto3 RDS client (the simulator wraps it to attach itself to every client it makes, so the real
gateway runs against it), a clock, a store. Nothing here is registered process-wide, so what an
engine talks to is visible where it is built.

This is the only module of the drivers' side that imports the AWS SDK for the engine's sake: the
engine, plans and actions see ports (`rds_maint.ports`) and never load boto3.

Each engine built here counts the RDS API calls its clients make (`aws_requests`), so the end of a
run can say how much it asked of AWS; the count hangs on a botocore event of each client, the
gateway code (`rds_maint.rds`) knows nothing of it.
"""

from __future__ import annotations

import weakref
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
    "EVENTS_CLIENT_SETTINGS",
    "EngineFactory",
    "RdsClientFactory",
    "RequestCounter",
    "aws_requests",
    "build_engine",
    "events_client",
    "rds_gateways",
    "status_publisher",
]

RdsClientFactory = Callable[[str, "str | None"], "RDSClient"]
"""(region, profile) -> a boto3 RDS client; `rds.make_rds_client` for AWS, wrapped by the simulator in tests."""


class RequestCounter:
    """Counts the API calls of the RDS clients it is attached to: one per call the gateway makes.

    `before-parameter-build` fires once per API call, before any answer (AWS, an emulator or the
    simulator, which answers on `before-call`), and never for the SDK's own resends of one call.
    """

    def __init__(self) -> None:
        self.count = 0
        self._taken = 0

    def attach(self, client: RDSClient) -> None:
        client.meta.events.register("before-parameter-build.rds", self._count, unique_id=f"rds-maint-count-{id(self)}")

    def _count(self, **_: Any) -> None:
        self.count += 1

    def take(self) -> int:
        """Calls since the last take (the engine's `RequestMeter`: each save keeps what it sent)."""
        sent, self._taken = self.count - self._taken, self.count
        return sent

    def counting(self, client_factory: RdsClientFactory) -> RdsClientFactory:
        def make(region: str, profile: str | None) -> RDSClient:
            client = client_factory(region, profile)
            self.attach(client)
            return client

        return make


# The counter of each engine built here, looked up by the driver that shows it (weak: it goes with the engine).
_COUNTERS: weakref.WeakKeyDictionary[Engine, RequestCounter] = weakref.WeakKeyDictionary()


def aws_requests(engine: Engine) -> int | None:
    """RDS API calls `engine` has made so far; None for an engine not built by `build_engine`."""
    counter = _COUNTERS.get(engine)
    return counter.count if counter is not None else None


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
    counter = RequestCounter()
    engine = Engine(
        store if store is not None else open_store(settings.store_url, settings.region, settings.profile),
        rds_gateways(settings, clock, counter.counting(client_factory)),
        clock,
        poll_policy,
        request_meter=counter,
    )
    engine.listeners.extend(listeners)
    _COUNTERS[engine] = counter
    return engine


# Short timeouts and few retries: a slow EventBridge must not stall an engine step.
EVENTS_CLIENT_SETTINGS: dict[str, Any] = {
    "connect_timeout": 2,
    "read_timeout": 5,
    "retries": {"mode": "standard", "max_attempts": 2},
}


def events_client(region: str | None, profile: str | None = None) -> Any:
    """The EventBridge client status events go out on.

    Made on the session the engine's store and RDS clients share (`credentials.session`, one per profile and
    region): a client of boto3's default session would build a second botocore session on a cold start
    (its own loaders, endpoint data and credential chain, read again) and look for credentials again.
    """
    from botocore.config import Config

    from rds_maint import credentials

    settings = {**EVENTS_CLIENT_SETTINGS, "retries": dict(EVENTS_CLIENT_SETTINGS["retries"])}  # a copy per client
    return credentials.client("events", profile, region, Config(**settings))


def status_publisher(region: str | None = None, profile: str | None = None) -> StatusPublisher | None:
    """The `OperationStatusChanged` publisher the environment asks for (RDS_MAINT_STATUS_EVENTS, _EVENT_BUS),
    its client made on first use; None when status events are off."""
    if not config.status_events_enabled():
        return None
    return StatusPublisher(bus=config.event_bus(), client_factory=lambda: events_client(region, profile))
