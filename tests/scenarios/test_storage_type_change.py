"""storage_type_change on the simulated Aurora: storage changes in place; the final cluster is asserted."""

from __future__ import annotations

import json
import shlex
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

from rds_maint.aurora_storage import is_nvme_class, storage_type_of, supports_io_optimized
from rds_maint.engine import Engine
from rds_maint.errors import BadInput
from rds_maint.model import Operation, OperationState, Outcome, StepState
from rds_maint.rds import RdsGateway, make_rds_client
from rds_maint.store import FileStore
from rds_sim import Catalogue, SimulatedAurora, SimulatedCrash, VirtualClock
from tests.helpers.world import CLUSTER, REGION, World

STANDARD, IOPT = "aurora", "aurora-iopt1"
WRITER = f"{CLUSTER}-instance-1"
READERS = [f"{CLUSTER}-instance-2", f"{CLUSTER}-instance-3"]


def request(params: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "storage_type_change", "cluster_id": CLUSTER, "region": REGION, "params": params, **extra}


def create(world: World, params: dict[str, Any], **extra: Any) -> Operation:
    return world.engine.create(request(params, **extra))


def storage_calls(world: World) -> list[str]:
    return [c.params["StorageType"] for c in world.sim.applied_calls("ModifyDBCluster")]


def assert_cluster_untouched_but_storage(world: World, members: set[str]) -> None:
    view = world.sim.cluster_view(CLUSTER)
    assert view.writer == WRITER and set(view.members) == members and view.status == "available"
    assert {m.instance_class for m in view.members.values()} == {"db.r6g.large"}
    # no temp instance, failover or reboot: the storage change and the cluster's mark (put on, taken off)
    assert set(world.mutating_calls()) <= {"ModifyDBCluster", "AddTagsToResource", "RemoveTagsFromResource"}


def test_switch_to_io_optimized_in_place(world: World, cluster_1w2r: list[str]) -> None:
    op = create(world, {"target_storage_type": IOPT})
    assert [s.name for s in op.steps] == ["check_cluster", "modify_storage", "verify"]
    result = world.run(op.id)

    assert result.outcome is Outcome.COMPLETED, result.pause_reason
    view = world.sim.cluster_view(CLUSTER)
    assert (view.storage_type, view.pending_storage_type) == (IOPT, None)
    assert_cluster_untouched_but_storage(world, set(cluster_1w2r))
    [call] = world.sim.applied_calls("ModifyDBCluster")
    assert call.params == {"DBClusterIdentifier": CLUSTER, "StorageType": IOPT, "ApplyImmediately": True}
    assert view.io_optimized_next_allowed == call.at + timedelta(days=30)
    # The wait saw the end state: the step ended only after the change ended, not in the quiet moment.
    [change] = [t for t in world.sim.transitions if t.kind == "storage"]
    stored = world.store.load(op.id)
    modify = stored.steps[1]
    assert modify.state is StepState.COMPLETED and modify.completed_at is not None
    assert modify.completed_at >= change.ends_at > change.visible_at > change.called_at
    assert stored.state is OperationState.COMPLETED
    assert stored.steps[2].result["storage_type"] == IOPT


def test_single_instance_cluster_back_to_standard_even_within_30_days(world: World) -> None:
    world.sim.seed_cluster(CLUSTER, readers=0)
    world.sim.set_cluster_storage(CLUSTER, IOPT, next_allowed=world.clock.now() + timedelta(days=12))
    op = create(world, {"target_storage_type": STANDARD})
    result = world.run(op.id)
    assert result.outcome is Outcome.COMPLETED, result.pause_reason
    view = world.sim.cluster_view(CLUSTER)
    assert view.storage_type == STANDARD and view.pending_storage_type is None
    assert_cluster_untouched_but_storage(world, {WRITER})
    assert storage_calls(world) == [STANDARD]


def test_simulated_change_lags_then_modifies_and_refuses_while_busy(world: World, cluster_1w2r: list[str]) -> None:
    rds = world.gateway()
    rds.modify_cluster_storage(CLUSTER, IOPT)
    quiet = world.sim.cluster_view(CLUSTER)
    assert (quiet.status, quiet.storage_type, quiet.pending_storage_type) == ("available", STANDARD, None)
    with pytest.raises(Exception, match="InvalidDBClusterStateFault"):
        rds.modify_cluster_storage(CLUSTER, STANDARD)  # accepted already, though it does not show
    world.clock.advance(30)
    busy = world.sim.cluster_view(CLUSTER)
    assert (busy.status, busy.storage_type, busy.pending_storage_type) == ("modifying", STANDARD, IOPT)
    assert rds.describe_cluster(CLUSTER).pending_storage_type == IOPT
    world.clock.advance(600)
    done = world.sim.cluster_view(CLUSTER)
    assert (done.status, done.storage_type, done.pending_storage_type) == ("available", IOPT, None)
    messages = [m for _, m in rds.instance_events(WRITER, world.clock.now() - timedelta(hours=1))]
    assert messages == []  # cluster events are not instance events


def test_thirty_day_rule(world: World, cluster_1w2r: list[str]) -> None:
    assert world.run(create(world, {"target_storage_type": IOPT}).id).outcome is Outcome.COMPLETED
    switched_at = world.sim.applied_calls("ModifyDBCluster")[0].at
    assert world.run(create(world, {"target_storage_type": STANDARD}).id).outcome is Outcome.COMPLETED

    allowed = switched_at + timedelta(days=30)
    with pytest.raises(BadInput) as refused:
        create(world, {"target_storage_type": IOPT})
    assert f"may switch again from {allowed:%Y-%m-%d %H:%M} UTC" in str(refused.value)
    assert "IOOptimizedNextAllowedModificationTime" in str(refused.value)
    with pytest.raises(Exception, match=r"InvalidParameterCombination.*once every 30 days"):
        world.gateway().modify_cluster_storage(CLUSTER, IOPT)  # AWS itself refuses too

    world.clock.advance((allowed - world.clock.now()).total_seconds() + 1)
    assert world.run(create(world, {"target_storage_type": IOPT}).id).outcome is Outcome.COMPLETED
    assert storage_calls(world) == [IOPT, STANDARD, IOPT]
    assert world.sim.cluster_view(CLUSTER).storage_type == IOPT


# -- bad input: precise message, exit 2 / error result, nothing written, no mutating call ------------

CASES: list[tuple[str, dict[str, Any], str]] = [
    ("missing target", {}, "params.target_storage_type: Field required"),
    *[
        (
            f"instance storage {t}",
            {"target_storage_type": t},
            f"'{t}' is a storage type of RDS instances and Multi-AZ DB clusters, not of Aurora: Aurora cluster "
            "'orders-prod' takes 'aurora' (Standard) or 'aurora-iopt1' (I/O-Optimized)",
        )
        for t in ("io1", "io2", "gp3")
    ],
    (
        "iops on aurora",
        {"target_storage_type": IOPT, "iops": 3000},
        "iops applies only to io1/io2/gp3 storage of RDS Multi-AZ DB clusters; Aurora cluster 'orders-prod' takes "
        "'aurora' (Standard) or 'aurora-iopt1' (I/O-Optimized)",
    ),
    (
        "throughput on aurora",
        {"target_storage_type": IOPT, "storage_throughput": 500},
        "storage_throughput applies only to io1/io2/gp3",
    ),
    ("unknown target", {"target_storage_type": "aurora-turbo"}, "'aurora-turbo' is not an Aurora storage type"),
    ("equal to current", {"target_storage_type": STANDARD}, "'aurora' is already the storage type of cluster"),
    (
        "exclude non-member",
        {"target_storage_type": IOPT, "exclude_instances": ["ghost-1"]},
        "exclude_instances: 'ghost-1' is not a member of cluster 'orders-prod'",
    ),
]


def assert_refused_everywhere(world: World, tmp_path: Path, req: dict[str, Any], message: str) -> None:
    result = world.handler({"action": "create", "params": req}, None)
    assert result["error"] is not None and message in result["error"], result["error"]
    assert result["outcome"] == "failed" and result["operation_id"] is None
    request_file = tmp_path / "request.json"
    request_file.write_text(json.dumps(req))
    for command in (["create"], ["run", "--yes"], ["plan"]):
        cli = world.cli([*command, "--store", world.store_url, "--input", str(request_file)])
        assert cli.exit_code == 2, (command, cli.output)
        assert message in " ".join(cli.output.split())
    assert world.store.list_operations() == []
    assert world.mutating_calls() == []


@pytest.mark.parametrize(("name", "params", "message"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_refused(
    world: World, cluster_1w2r: list[str], tmp_path: Path, name: str, params: dict[str, Any], message: str
) -> None:
    assert_refused_everywhere(world, tmp_path, request(params), message)


def test_switch_to_io_optimized_before_the_allowed_time_is_refused_with_the_date(
    world: World, cluster_1w2r: list[str], tmp_path: Path
) -> None:
    allowed = world.clock.now() + timedelta(days=9, hours=3)
    world.sim.set_cluster_storage(CLUSTER, STANDARD, next_allowed=allowed)
    message = f"cluster 'orders-prod' may switch again from {allowed:%Y-%m-%d %H:%M} UTC"
    assert_refused_everywhere(world, tmp_path, request({"target_storage_type": IOPT}), message)


@pytest.fixture
def old_versions_world(tmp_path: Path) -> Iterator[World]:
    """A region that still runs versions too old for I/O-Optimized."""
    catalogue = Catalogue(
        {"aurora-postgresql": ("13.9", "14.6", "15.1", "15.4"), "aurora-mysql": ("8.0.mysql_aurora.3.02.2",)}
    )
    with mock_aws():
        clock = VirtualClock()
        with SimulatedAurora(clock=clock, region=REGION, catalogue=catalogue) as sim:
            store_url = f"file://{tmp_path / 'state'}"
            clients = sim.clients(make_rds_client)

            def gateway(region: str) -> RdsGateway:
                return RdsGateway(clients(region), sleep=clock.sleep)

            store = FileStore(tmp_path / "state")
            # the drivers get their engine from `World.engine_for` (the same simulator, clock and store URL)
            yield World(sim, clock, store, store_url, Engine(store, gateway, clock))


@pytest.mark.parametrize(
    ("engine", "version", "needs"),
    [
        ("aurora-postgresql", "15.1", "Aurora PostgreSQL 13.10+, 14.7+, 15.2+, 16.1+"),
        ("aurora-postgresql", "13.9", "Aurora PostgreSQL 13.10+"),
        ("aurora-mysql", "8.0.mysql_aurora.3.02.2", "Aurora MySQL 3.03.1+"),
    ],
)
def test_engine_version_below_the_io_optimized_minimum_is_refused(
    old_versions_world: World, tmp_path: Path, engine: str, version: str, needs: str
) -> None:
    world = old_versions_world
    world.sim.seed_cluster(CLUSTER, engine=engine, engine_version=version, instance_class="db.r5.large")
    message = f"I/O-Optimized needs {needs}"
    assert_refused_everywhere(world, tmp_path, request({"target_storage_type": IOPT}), message)
    with pytest.raises(BadInput, match=f"runs {engine} {version}: upgrade the engine first"):
        create(world, {"target_storage_type": IOPT})


def test_minimum_version_itself_is_accepted(old_versions_world: World) -> None:
    world = old_versions_world
    world.sim.seed_cluster(CLUSTER, engine="aurora-postgresql", engine_version="15.4", readers=1)
    assert world.run(create(world, {"target_storage_type": IOPT}).id).outcome is Outcome.COMPLETED


# -- NVMe-based classes: say so, offer an instance cycle, never reboot silently ------------------------


def test_nvme_classes_get_a_note_and_the_offered_instance_cycle_restarts_them(world: World) -> None:
    ids = world.sim.seed_cluster(CLUSTER, instance_class="db.r6gd.large", readers=2)
    plan = world.cli(["plan", "--store", world.store_url, "--type", "storage_type_change", "--cluster", CLUSTER,
               "--region", REGION, "--param", "target_storage_type=aurora-iopt1"],
    )  # fmt: skip
    assert plan.exit_code == 0, plan.output
    assert "NVMe-based instance classes need an engine restart" in plan.output
    assert "rds-maint run --type instance_cycle --cluster orders-prod --region us-east-1" in plan.output

    op = create(world, {"target_storage_type": IOPT, "exclude_instances": [ids[2]]})
    assert world.run(op.id).outcome is Outcome.COMPLETED
    assert world.sim.successful_calls("RebootDBInstance") == []  # never silently
    stored = world.store.load(op.id)
    assert stored.steps[-1].result["restart_needed"] == ids
    command = stored.context["follow_up_command"]
    expected = f"rds-maint run --type instance_cycle --cluster {CLUSTER} --region {REGION}"
    assert command == f"{expected} --param exclude_instances={ids[2]}"
    follow = world.cli([*shlex.split(command)[1:], "--yes", "--store", world.store_url])  # off a terminal
    assert follow.exit_code == 0, follow.output
    rebooted = Counter(c.params["DBInstanceIdentifier"] for c in world.sim.successful_calls("RebootDBInstance"))
    assert rebooted == {ids[0]: 1, ids[1]: 1}
    view = world.sim.cluster_view(CLUSTER)
    assert view.storage_type == IOPT and view.writer == ids[0] and set(view.members) == set(ids)


def test_without_nvme_classes_there_is_no_restart_note(world: World, cluster_1w2r: list[str]) -> None:
    op = create(world, {"target_storage_type": IOPT, "skip_temp_instance": True})
    notes = " ".join(op.context["notes"])
    assert "need an engine restart" not in notes and "matter only for a follow-up instance cycle" in notes
    assert op.context["follow_up_command"] is None


# -- rollback ----------------------------------------------------------------------------------------


def test_rollback_switches_back_to_the_original_type(world: World, cluster_1w2r: list[str]) -> None:
    op = create(world, {"target_storage_type": IOPT}, pause_before_steps=["verify"])
    paused = world.run(op.id)
    assert paused.outcome is Outcome.INTERVENTION and world.sim.cluster_view(CLUSTER).storage_type == IOPT
    world.engine.resume(op.id, "rollback", "cost check failed")
    result = world.run(op.id)
    assert result.outcome is Outcome.FAILED
    stored = world.store.load(op.id)
    assert stored.state is OperationState.ROLLED_BACK
    view = world.sim.cluster_view(CLUSTER)
    assert (view.storage_type, view.pending_storage_type, view.status) == (STANDARD, None, "available")
    assert storage_calls(world) == [IOPT, STANDARD]
    assert_cluster_untouched_but_storage(world, set(cluster_1w2r))


def test_rollback_during_the_quiet_moment_waits_for_the_change_then_undoes_it(
    world: World, cluster_1w2r: list[str]
) -> None:
    op = create(world, {"target_storage_type": IOPT})
    world.engine.start(op.id)
    world.engine.advance(op.id)  # check_cluster
    assert world.engine.advance(op.id).outcome is Outcome.WAIT  # ModifyDBCluster called: still reads aurora
    assert world.sim.cluster_view(CLUSTER).storage_type == STANDARD
    world.engine.resume(op.id, "rollback")
    assert world.run(op.id).outcome is Outcome.FAILED
    assert world.store.load(op.id).state is OperationState.ROLLED_BACK
    view = world.sim.cluster_view(CLUSTER)
    assert (view.storage_type, view.pending_storage_type) == (STANDARD, None)
    assert storage_calls(world) == [IOPT, STANDARD]


def test_rollback_that_aws_refuses_pauses_with_its_message_then_completes(world: World) -> None:
    world.sim.seed_cluster(CLUSTER, readers=1)
    allowed = world.clock.now() + timedelta(days=20)  # switched to I/O-Optimized ten days ago
    world.sim.set_cluster_storage(CLUSTER, IOPT, next_allowed=allowed)
    op = create(world, {"target_storage_type": STANDARD}, pause_before_steps=["verify"])
    assert world.run(op.id).outcome is Outcome.INTERVENTION
    world.engine.resume(op.id, "rollback")
    refused = world.run(op.id)
    assert refused.outcome is Outcome.INTERVENTION
    assert refused.pause_reason is not None
    assert "InvalidParameterCombination" in refused.pause_reason
    assert f"until {allowed:%Y-%m-%dT%H:%M:%SZ}" in refused.pause_reason
    assert world.sim.cluster_view(CLUSTER).storage_type == STANDARD

    world.clock.advance((allowed - world.clock.now()).total_seconds() + 60)
    world.engine.resume(op.id, "continue", "30 days have passed")
    assert world.run(op.id).outcome is Outcome.FAILED
    assert world.store.load(op.id).state is OperationState.ROLLED_BACK
    assert world.sim.cluster_view(CLUSTER).storage_type == IOPT
    assert storage_calls(world) == [STANDARD, IOPT]


def test_abort_leaves_the_storage_as_it_is(world: World, cluster_1w2r: list[str]) -> None:
    op = create(world, {"target_storage_type": IOPT}, pause_before_steps=["modify_storage"])
    assert world.run(op.id).outcome is Outcome.INTERVENTION
    world.engine.resume(op.id, "abort")
    assert world.run(op.id).outcome is Outcome.FAILED
    assert world.sim.cluster_view(CLUSTER).storage_type == STANDARD
    assert world.mutating_calls() == ["AddTagsToResource", "RemoveTagsFromResource"]  # only the cluster's mark


# -- crashes and lost answers ------------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["crash_after", "lose_response"])
@pytest.mark.parametrize(("start", "target"), [(STANDARD, IOPT), (IOPT, STANDARD)])
def test_crash_or_lost_answer_after_modify_cluster_converges_without_repeating_it(
    world: World, cluster_1w2r: list[str], fault: str, start: str, target: str
) -> None:
    world.sim.set_cluster_storage(CLUSTER, start)
    op = create(world, {"target_storage_type": target})
    getattr(world.sim.faults, fault)("ModifyDBCluster", times=1)
    if fault == "crash_after":
        with pytest.raises(SimulatedCrash):
            world.run(op.id)
        result = world.run(op.id, engine=world.new_engine())
    else:
        result = world.run(op.id)
    assert result.outcome is Outcome.COMPLETED, result.pause_reason
    assert world.sim.cluster_view(CLUSTER).storage_type == target
    assert storage_calls(world) == [target]  # applied once
    assert [t.kind for t in world.sim.transitions] == ["storage"]


# -- the rules themselves ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("instance_class", "nvme"),
    [
        ("db.r6gd.large", True),
        ("db.r6id.4xlarge", True),
        ("db.r5d.xlarge", True),
        ("db.x2iedn.2xlarge", True),
        ("db.r6g.large", False),
        ("db.r6i.xlarge", False),
        ("db.t4g.medium", False),
        ("db.serverless", False),
    ],
)
def test_nvme_classes_are_recognised(instance_class: str, nvme: bool) -> None:
    assert is_nvme_class(instance_class) is nvme


@pytest.mark.parametrize(
    ("engine", "version", "supported"),
    [
        ("aurora-postgresql", "12.16", False),
        ("aurora-postgresql", "13.9", False),
        ("aurora-postgresql", "13.10", True),
        ("aurora-postgresql", "14.6", False),
        ("aurora-postgresql", "14.7", True),
        ("aurora-postgresql", "15.1", False),
        ("aurora-postgresql", "15.2", True),
        ("aurora-postgresql", "16.0", False),
        ("aurora-postgresql", "16.1", True),
        ("aurora-postgresql", "17.4", True),
        ("aurora-mysql", "8.0.mysql_aurora.3.03.0", False),
        ("aurora-mysql", "8.0.mysql_aurora.3.03.1", True),
        ("aurora-mysql", "8.0.mysql_aurora.3.10.0", True),
        ("aurora-mysql", "5.7.mysql_aurora.2.11.2", False),
    ],
)
def test_io_optimized_minimum_versions(engine: str, version: str, supported: bool) -> None:
    assert supports_io_optimized(engine, version) is supported


# -- a cluster that reports no StorageType ------------------------------------------------------------


def test_a_cluster_that_reports_no_storage_type_is_standard_for_validation_wait_and_rollback(
    world: World, cluster_1w2r: list[str]
) -> None:
    raw = world.rds_client().describe_db_clusters(DBClusterIdentifier=CLUSTER)["DBClusters"][0]
    assert "StorageType" not in raw, "the simulator answers for a Standard cluster as AWS may: no StorageType"
    with pytest.raises(BadInput, match="already the storage type"):
        create(world, {"target_storage_type": STANDARD})

    op = create(world, {"target_storage_type": IOPT}, pause_before_steps=["verify"])
    assert op.context["original_storage_type"] == STANDARD
    assert world.run(op.id).outcome is Outcome.INTERVENTION
    world.engine.resume(op.id, "rollback", "back to Standard")
    world.run(op.id)

    stored = world.store.load(op.id)
    assert stored.state is OperationState.ROLLED_BACK, stored.pause_reason
    by_name = {s.name: s for s in stored.steps}
    assert by_name["rollback_storage"].state is StepState.COMPLETED  # the wait settled on the omitted value
    assert by_name["rollback_verify"].result["storage_type"] == STANDARD
    view = world.sim.cluster_view(CLUSTER)
    assert (view.storage_type, view.pending_storage_type, view.status) == (STANDARD, None, "available")
    assert storage_calls(world) == [IOPT, STANDARD]
    after = world.rds_client().describe_db_clusters(DBClusterIdentifier=CLUSTER)["DBClusters"][0]
    assert "StorageType" not in after


@pytest.mark.parametrize(
    ("engine", "reported", "meant"),
    [
        ("aurora-postgresql", None, STANDARD),
        ("aurora-mysql", "", STANDARD),
        ("aurora-postgresql", IOPT, IOPT),
        ("aurora-postgresql", STANDARD, STANDARD),
        ("mysql", None, None),
        ("postgres", "gp3", "gp3"),
    ],
)
def test_one_function_says_what_an_omitted_storage_type_means(
    engine: str, reported: str | None, meant: str | None
) -> None:
    assert storage_type_of(engine, reported) == meant
