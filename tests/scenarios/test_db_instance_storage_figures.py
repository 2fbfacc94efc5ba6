"""Figures of one storage change of a DB instance (calls per run, virtual duration, the plan's estimate)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from rds_maint.model import Outcome
from rds_maint.planning.estimate import estimate_steps
from tests.helpers.world import REGION, World

DB = "orders-db"


def test_one_run_makes_one_modify_and_few_describes_and_its_estimate_counts_optimization(world: World) -> None:
    world.sim.seed_db_instance(DB, engine="postgres", multi_az=True, storage_type="gp2", allocated_storage=400)
    op = world.engine.create(
        {"type": "storage_type_change", "instance_id": DB, "region": REGION, "params": {"target_storage_type": "gp3"}}
    )
    estimate = estimate_steps(op.steps)
    assert estimate.interruptions == ()  # online: no write interruption announced
    assert estimate.total_seconds >= 21600  # the modify and storage-optimization
    started = world.clock.now()
    assert world.run(op.id).outcome is Outcome.COMPLETED
    calls = Counter(c.operation for c in world.sim.calls)
    assert calls["ModifyDBInstance"] == 1
    # adaptive polling over hours (a look every 2 min at most while it optimizes), not a poll every 30 s (~420)
    assert calls["DescribeDBInstances"] < 130
    assert world.clock.now() - started > timedelta(hours=2)  # it ended with storage-optimization
