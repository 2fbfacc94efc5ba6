"""The simulated account the scenario tests run in (`World`), its cluster and region, and the stores it runs on.

conftest.py builds a `World` in the `world` fixture; tests import the names from here, never from conftest.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from rds_maint.engine import Engine
from rds_maint.model import Operation, StepResult
from rds_maint.progress import drive
from rds_maint.rds import RdsGateway, make_rds_client
from rds_maint.store import StateStore, open_store
from rds_sim import SimulatedAurora, VirtualClock

REGION = "us-east-1"
CLUSTER = "orders-prod"

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

    def gateway(self) -> RdsGateway:
        return RdsGateway(make_rds_client(REGION), sleep=self.clock.sleep)

    def new_engine(self) -> Engine:
        """A second engine on the same store and clock: a fresh process after a crash."""
        return Engine(open_store(self.store_url), lambda region: self.gateway(), self.clock)

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
