"""engine_upgrade scenarios' shared parts: a 15.4 cluster ready for Blue/Green, the request, a driver that
answers the planned pauses, and the checks of the final AWS state (upgraded, refused, untouched)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rds_maint.engine import Engine
from rds_maint.errors import BadInput
from rds_maint.model import Operation, Outcome, StepResult
from rds_maint.progress import drive
from rds_sim import SimulatedCrash
from tests.helpers.world import CLUSTER, REGION, World

SOURCE, TARGET = "15.4", "16.4"
WRITER = f"{CLUSTER}-instance-1"
MEMBERS = [WRITER, f"{CLUSTER}-instance-2", f"{CLUSTER}-instance-3"]
OLD = f"{CLUSTER}-old1"
PROXY = "orders-proxy"
CLUSTER_VALUES = {"rds.logical_replication": "1", "max_replication_slots": "30", "vacuum_defer_cleanup_age": "5"}
INSTANCE_VALUES = {"work_mem": "65536", "log_min_duration_statement": "500"}
PLANNED_PAUSE = "Paused before step"


def request(params: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "engine_upgrade", "cluster_id": CLUSTER, "region": REGION, "params": params, **extra}


def create(world: World, **params: Any) -> Operation:
    params.setdefault("target_engine_version", TARGET)
    return world.engine.create(request(params))


def seed(world: World, *, readers: int = 2, proxy: bool = False, instance_values: bool = True) -> list[str]:
    """A 15.4 cluster ready for Blue/Green: custom groups with logical replication on, writer in sync."""
    ids = world.sim.seed_cluster(CLUSTER, engine="aurora-postgresql", engine_version=SOURCE, readers=readers)
    world.sim.parameter_groups.use_custom_groups(
        CLUSTER,
        cluster_parameters=CLUSTER_VALUES,
        instance_parameters=INSTANCE_VALUES if instance_values else None,
    )
    if proxy:
        world.sim.proxies.seed_proxy(PROXY, CLUSTER)
    return ids


def run(world: World, op_id: str, *, answer: str | None = "continue") -> tuple[StepResult, list[str]]:
    """Drive to an end, answering each planned pause (pause_before) with `answer`; a simulated crash
    is survived by a fresh engine on the same store, as after a process restart."""
    engine: Engine = world.engine
    engine.start(op_id)
    pauses: list[str] = []
    while True:
        try:
            result = drive(engine, op_id, world.clock.sleep)
        except SimulatedCrash:
            engine = world.new_engine()
            continue
        if result.outcome is Outcome.INTERVENTION and answer and (result.pause_reason or "").startswith(PLANNED_PAUSE):
            pauses.append(str(result.step_name))
            engine.resume(op_id, answer)
            continue
        return result, pauses


def applied(world: World, operation: str) -> list[dict[str, Any]]:
    return [c.params for c in world.sim.applied_calls(operation)]


def user_values(world: World, kind: str, name: str) -> dict[str, str]:
    rows = world.gateway().parameters("cluster" if kind == "cluster" else "instance", name, source="user")
    return {str(p["ParameterName"]): str(p["ParameterValue"]) for p in rows}


def assert_upgraded(world: World, members: list[str], *, proxy: bool) -> None:
    view = world.sim.cluster_view(CLUSTER)
    assert view.engine_version == TARGET
    assert view.status == "available"
    assert view.writer == WRITER
    assert sorted(view.members) == sorted(members)
    assert all(m.status == "available" for m in view.members.values())
    assert not world.sim.blue_green.cluster_exists(OLD)
    assert world.sim.blue_green.deployments() == []
    clusters = world.gateway().call("DescribeDBClusters")["DBClusters"]
    assert [c["DBClusterIdentifier"] for c in clusters] == [CLUSTER]
    if proxy:
        assert world.sim.proxies.tracked_clusters(PROXY) == [CLUSTER]
        targets = world.gateway().proxy_targets(PROXY, "default")
        instances = {t["RdsResourceId"]: t["TargetHealth"]["State"] for t in targets if t["Type"] == "RDS_INSTANCE"}
        assert instances == dict.fromkeys(members, "AVAILABLE")


def assert_refused(world: World, params: dict[str, Any], *needles: str, tmp_path: Path | None = None) -> None:
    """Refused by the engine, the Lambda (`error` result) and the CLI (exit 2); nothing written or changed."""
    before = world.mutating_calls()
    with pytest.raises(BadInput) as refused:
        world.engine.create(request(params))
    message = str(refused.value)
    for needle in needles:
        assert needle in message, message
    answer = world.handler({"action": "create", "params": request(params)}, None)
    assert answer["outcome"] == "failed" and answer["operation_id"] is None
    assert all(needle in str(answer["error"]) for needle in needles), answer["error"]
    if tmp_path is not None:
        request_file = tmp_path / "request.json"
        request_file.write_text(json.dumps(request(params)))
        for command in ("plan", "create"):
            cli = world.cli([command, "--store", world.store_url, "--input", str(request_file)])
            assert cli.exit_code == 2, (command, cli.output)
            assert needles[0] in " ".join(cli.output.split())
    assert world.mutating_calls() == before
    assert world.store.list_operations() == []


def assert_only_the_original_cluster(world: World) -> None:
    clusters = world.gateway().call("DescribeDBClusters")["DBClusters"]
    assert [c["DBClusterIdentifier"] for c in clusters] == [CLUSTER]
    view = world.sim.cluster_view(CLUSTER)
    assert view.engine_version == SOURCE and view.writer == WRITER and sorted(view.members) == MEMBERS
