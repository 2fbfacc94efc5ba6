"""Bad input: a precise message, exit 2 / an error result, nothing written, no mutating AWS call."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.helpers.contract import CONTRACT_KEYS
from tests.helpers.world import CLUSTER, REGION, World

CASES: list[tuple[str, dict[str, Any], str]] = [
    ("unknown type", {"type": "resize_everything", "params": {}}, "unknown operation type 'resize_everything'"),
    ("missing target", {"params": {}}, "params.target_instance_type: Field required"),
    ("empty target", {"params": {"target_instance_type": ""}}, "params.target_instance_type"),
    ("wrong type", {"params": {"target_instance_type": 5}}, "params.target_instance_type"),
    (
        "wrong list type",
        {"params": {"target_instance_type": "db.r6g.xlarge", "exclude_instances": "x"}},
        "params.exclude_instances",
    ),
    (
        "unknown key",
        {"params": {"target_instance_type": "db.r6g.xlarge", "target_size": "big"}},
        "params.target_size: unknown parameter",
    ),
    (
        "cluster not found",
        {"cluster_id": "no-such-cluster", "params": {"target_instance_type": "db.r6g.xlarge"}},
        "cluster 'no-such-cluster' not found",
    ),
    (
        "same class everywhere",
        {"params": {"target_instance_type": "db.r6g.large"}},
        "already the class of every instance concerned",
    ),
    (
        "not orderable",
        {"params": {"target_instance_type": "db.r4.large"}},
        "db.r4.large is not orderable for aurora-postgresql 15.4",
    ),
    (
        "exclude non-member",
        {"params": {"target_instance_type": "db.r6g.xlarge", "exclude_instances": ["ghost-1"]}},
        "exclude_instances: 'ghost-1' is not a member of cluster 'orders-prod'",
    ),
    (
        "exclude everything",
        {
            "params": {
                "target_instance_type": "db.r6g.xlarge",
                "exclude_instances": [f"{CLUSTER}-instance-1", f"{CLUSTER}-instance-2", f"{CLUSTER}-instance-3"],
            }
        },
        "every member is excluded or skipped",
    ),
    (
        "unknown pause step",
        {"params": {"target_instance_type": "db.r6g.xlarge"}, "pause_before_steps": ["launch_rockets"]},
        "cannot pause before 'launch_rockets': no step of this plan matches it",
    ),
]


def _request(overrides: dict[str, Any]) -> dict[str, Any]:
    request: dict[str, Any] = {"type": "instance_type_change", "cluster_id": CLUSTER, "region": REGION}
    request.update(overrides)
    return request


def _assert_nothing_happened(world: World) -> None:
    assert world.store.list_operations() == []
    assert world.mutating_calls() == []


@pytest.mark.parametrize(("name", "overrides", "message"), CASES, ids=[c[0] for c in CASES])
def test_lambda_create_rejects(
    world: World, cluster_1w2r: list[str], name: str, overrides: dict[str, Any], message: str
) -> None:
    result = world.handler({"action": "create", "params": _request(overrides)}, None)
    assert set(result) == CONTRACT_KEYS
    assert result["error"] is not None and message in result["error"]
    assert result["failed"] is True and result["outcome"] == "failed"
    assert result["operation_id"] is None
    _assert_nothing_happened(world)


@pytest.mark.parametrize(("name", "overrides", "message"), CASES, ids=[c[0] for c in CASES])
def test_cli_create_rejects_with_exit_2(
    world: World, cluster_1w2r: list[str], tmp_path: Any, name: str, overrides: dict[str, Any], message: str
) -> None:
    request_file = tmp_path / "request.json"
    request_file.write_text(json.dumps(_request(overrides)))
    for command in (["create"], ["run", "--yes"], ["plan"]):
        result = world.cli([*command, "--store", world.store_url, "--input", str(request_file)])
        assert result.exit_code == 2, (command, result.output)
        assert message in result.output
    _assert_nothing_happened(world)


def test_cluster_not_available_is_refused(world: World, cluster_1w2r: list[str]) -> None:
    world.gateway().failover(CLUSTER, f"{CLUSTER}-instance-2")
    world.clock.advance(10)  # past the status lag: the cluster now reads failing-over
    calls_before = len(world.mutating_calls())
    result = world.handler(
        {"action": "create", "params": _request({"params": {"target_instance_type": "db.r6g.xlarge"}})}
    )
    assert result["error"] is not None and "is failing-over, not available" in result["error"]
    assert world.store.list_operations() == []
    assert len(world.mutating_calls()) == calls_before


def test_cli_param_flags_are_checked_like_json(world: World, cluster_1w2r: list[str]) -> None:
    result = world.cli(
        [
            "plan",
            "--store",
            world.store_url,
            "--type",
            "instance_type_change",
            "--cluster",
            CLUSTER,
            "--param",
            "target_instance_type=5",
        ],
    )
    assert result.exit_code == 2
    assert "params.target_instance_type" in result.output
    missing = world.cli(["run", "--yes", "--store", world.store_url, "--cluster", CLUSTER])
    assert missing.exit_code == 2 and "--type is required" in missing.output
    _assert_nothing_happened(world)


@pytest.mark.parametrize("action", ["start", "step", "poll", "status", "resume", "record_intervention", "fail"])
def test_lambda_unknown_operation_id(world: World, action: str) -> None:
    params = {"action": "continue", "task_token": "tok"}
    result = world.handler({"action": action, "operation_id": "op-does-not-exist", "params": params})
    assert set(result) == CONTRACT_KEYS
    assert result["error"] == "operation 'op-does-not-exist' not found"
    _assert_nothing_happened(world)


@pytest.mark.parametrize(
    "command", [["status"], ["events"], ["resume", "--action", "continue"], ["reset", "--step", "s01"]]
)
def test_cli_unknown_operation_id(world: World, command: list[str]) -> None:
    result = world.cli([command[0], "op-nope", *command[1:], "--store", world.store_url])
    assert result.exit_code == 2
    assert "operation 'op-nope' not found" in result.output


@pytest.mark.parametrize("bad_id", ["../../etc/passwd", "a/b", ".hidden", ""])
def test_operation_ids_with_path_characters_are_refused(world: World, bad_id: str) -> None:
    result = world.handler({"action": "status", "operation_id": bad_id})
    assert result["error"] is not None and "invalid operation id" in result["error"]


def test_resume_action_outside_the_four_is_refused(world: World, cluster_1w2r: list[str]) -> None:
    op = world.create({"target_instance_type": "db.r6g.xlarge"})
    before = world.store.load(op.id)
    result = world.handler({"action": "resume", "operation_id": op.id, "params": {"action": "skip_ahead"}})
    assert result["error"] is not None
    assert "unknown resume action 'skip_ahead'" in result["error"]
    cli = world.cli(["resume", op.id, "--action", "retry", "--store", world.store_url])
    assert cli.exit_code == 2 and "'retry' is not one of 'continue', 'abort', 'rollback', 'mark_complete'" in cli.output
    assert world.store.load(op.id) == before


def test_lambda_rejects_malformed_events(world: World) -> None:
    events: list[Any] = [None, [], {"action": "explode"}, {"action": "status", "operation_id": 7}, {"action": "step"}]
    for event in events:
        result = world.handler(event, None)
        assert set(result) == CONTRACT_KEYS
        assert result["error"], event
