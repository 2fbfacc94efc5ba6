"""The simulated account the scenario tests run in (`World`), its cluster and region, and the stores it runs on.

conftest.py builds a `World` in the `world` fixture; tests import the names from here, never from conftest.

The drivers run on the world through explicit wiring, nothing patched into the process: `world.handler`
is `lambda_handler.make_handler(world.engine_for)` and `world.cli(args)` invokes the CLI with
`Options(engine_factory=world.engine_for)`; every RDS client comes from `world.rds_client`, the real
client factory wrapped by the simulator.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from click.testing import CliRunner, Result
from moto import mock_aws

from rds_maint import wiring
from rds_maint.cli import Options, main
from rds_maint.config import Settings
from rds_maint.engine import Engine
from rds_maint.lambda_handler import Handler, make_handler
from rds_maint.model import Operation, StepResult
from rds_maint.progress import drive
from rds_maint.rds import RdsGateway, make_rds_client
from rds_maint.store import StateStore, init_store, open_store
from rds_sim import SimulatedAurora, VirtualClock
from tests.helpers.fake_rds import store_root

if TYPE_CHECKING:
    from mypy_boto3_rds import RDSClient

REGION = "us-east-1"
CLUSTER = "orders-prod"
# The flags of the instance class change most CLI tests run on the seeded cluster.
CLASS_CHANGE_FLAGS = (
    "--type",
    "instance_type_change",
    "--cluster",
    CLUSTER,
    "--region",
    REGION,
    "--param",
    "target_instance_type=db.r6g.xlarge",
)

# The stores `world` can run on. A test (or a module, with `pytestmark = ON_EVERY_STORE`)
# runs on all three with `@ON_EVERY_STORE`; without it, on the file store.
STORE_KINDS = ("file", "s3", "dynamodb")
ON_EVERY_STORE = pytest.mark.parametrize("store_kind", STORE_KINDS)


def store_url_for(kind: str, tmp_path: Path) -> str:
    """The store URL of each kind in a test: the bucket and table live in moto."""
    urls = {
        "file": f"file://{tmp_path / 'state'}",
        "s3": "s3://rds-maint-test-state/rds-maint",
        "dynamodb": "dynamodb://rds-maint-test-state",
    }
    return urls[kind]


@dataclass
class World:
    """One simulated account: Aurora on a virtual clock, a state store, an engine and its drivers."""

    sim: SimulatedAurora
    clock: VirtualClock
    store: StateStore
    store_url: str
    engine: Engine
    # attached to each RDS client after the simulator (tests.helpers.iam_recorder.RequestRecorder.attach)
    recorders: list[Callable[[Any], None]] = field(default_factory=list)

    def rds_client(self, region: str = REGION, profile: str | None = None) -> RDSClient:
        """A real boto3 RDS client (`rds.make_rds_client`) that the simulator answers."""
        return self.client_factory(region, profile)

    def client_factory(self, region: str, profile: str | None = None) -> RDSClient:
        """The RDS client factory the world's engines are wired with: the simulator, then `recorders`."""
        client = self.sim.clients(make_rds_client)(region, profile)
        for attach in self.recorders:
            attach(client)
        return client

    def gateway(self, region: str = REGION) -> RdsGateway:
        return RdsGateway(self.rds_client(region), sleep=self.clock.sleep)

    def engine_for(self, settings: Settings) -> Engine:
        """The drivers' engine factory: a new engine (a fresh process) on the simulator and this world's clock."""
        return wiring.build_engine(
            settings,
            clock=self.clock,
            client_factory=self.client_factory,
            store=open_store(settings.store_url or self.store_url),
        )

    @cached_property
    def handler(self) -> Handler:
        """The Lambda handler, wired to this world."""
        return make_handler(self.engine_for)

    def cli_options(self) -> Options:
        return Options(engine_factory=self.engine_for)

    def cli(self, args: Sequence[str], **kwargs: Any) -> Result:
        """`rds-maint ARGS`, wired to this world."""
        return CliRunner().invoke(main, list(args), obj=self.cli_options(), **kwargs)

    def new_engine(self) -> Engine:
        """A second engine on the same store and clock: a fresh process after a crash."""
        return Engine(open_store(self.store_url), self.gateway, self.clock)

    def create(self, params: dict[str, Any], **extra: Any) -> Operation:
        request = {"type": "instance_type_change", "cluster_id": CLUSTER, "region": REGION, "params": params}
        request.update(extra)
        return self.engine.create(request)

    def run(self, op_id: str, engine: Engine | None = None) -> StepResult:
        engine = engine or self.engine
        engine.start(op_id)
        return drive(engine, op_id, self.clock.sleep)

    def mutating_calls(self) -> list[str]:
        return [c.operation for c in self.sim.calls if not c.operation.startswith(("Describe", "List"))]


@contextmanager
def simulated_world(tmp_path: Path, store_kind: str = "file") -> Iterator[World]:
    """A fresh account in moto, the simulated Aurora on a virtual clock, a store and an engine: the `world`
    fixture, and a test module that shares one read-only run between tests (tests/artifacts/test_iam_evaluation.py).

    The file store lives in RAM when the machine has one (`store_root`): each save fsyncs, which on a shared
    disk was ~15 % of a scenario's time; what is written, renamed and read is the same."""
    with mock_aws(), store_root(tmp_path) as root:
        clock = VirtualClock()
        with SimulatedAurora(clock=clock, region=REGION) as sim:
            store_url = store_url_for(store_kind, root)
            if store_kind != "file":
                init_store(store_url)  # the bucket or table, as `rds-maint init` makes it
            store = open_store(store_url)
            engine = Engine(store, lambda region: made.gateway(region), clock)
            made = World(sim=sim, clock=clock, store=store, store_url=store_url, engine=engine)
            yield made
