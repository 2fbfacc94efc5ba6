"""Operations stored by schema 1 (the engine's bookkeeping inside `step.result`) load and run on every store.

Schema 2 keeps the engine's keys (lease, wait and poll starts, busy reason, pause acknowledged) in
`step.progress`. An operation a schema-1 rds-maint left mid-wait must carry on where it was: the same
wait and poll starts, each AWS change made once, the cluster as asked; the record is written back as
schema 2 with no engine key left among what the actions recorded.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3

from rds_maint.model import PROGRESS_KEYS, SCHEMA_VERSION, Outcome, StepState
from rds_maint.store import DynamoDBStore, FileStore, S3Store
from tests.helpers.world import CLUSTER, ON_EVERY_STORE, REGION, World

TARGET = "db.r6g.xlarge"
EXPECTED_CHANGES = {"CreateDBInstance": 1, "DeleteDBInstance": 1, "FailoverDBCluster": 2, "ModifyDBInstance": 3}


def _as_schema_1(operation: dict[str, Any]) -> dict[str, Any]:
    """What rds-maint 1 wrote: the engine's keys in each step's result, as ISO strings; no `progress`."""
    for step in operation["steps"]:
        progress = step.pop("progress")
        step["result"].update({k: v for k, v in progress.items() if v not in (None, False)})
    operation["schema_version"] = 1
    return operation


def _rewrite(world: World, op_id: str, change: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    """Change the stored operation behind the store's back, in the store's own layout."""
    store = world.store
    if isinstance(store, FileStore):
        path = Path(store.root) / op_id / "operation.json"
        path.write_text(json.dumps(change(json.loads(path.read_text()))))
        return
    if isinstance(store, S3Store):
        client = boto3.client("s3", region_name=REGION)
        key = f"{store.prefix}/operations/{op_id}.json"
        document = json.loads(client.get_object(Bucket=store.bucket, Key=key)["Body"].read())
        document["operation"] = change(document["operation"])
        document["schema_version"] = 1
        client.put_object(Bucket=store.bucket, Key=key, Body=json.dumps(document).encode())
        return
    assert isinstance(store, DynamoDBStore)
    table = boto3.client("dynamodb", region_name=REGION)
    item_key = {"pk": {"S": f"OP#{op_id}"}, "sk": {"S": "OPERATION"}}
    item = table.get_item(TableName=store.table, Key=item_key)["Item"]
    assert "body" in item, "a small operation is stored uncompressed"
    item["body"] = {"S": json.dumps(change(json.loads(item["body"]["S"])))}
    item["schema_version"] = {"N": "1"}
    table.put_item(TableName=store.table, Item=item)


def changes_applied(world: World) -> dict[str, int]:
    return {name: len(world.sim.applied_calls(name)) for name in EXPECTED_CHANGES}


@ON_EVERY_STORE
def test_a_schema_1_operation_left_mid_wait_loads_and_runs_to_the_end(world: World, cluster_1w2r: list[str]) -> None:
    op = world.create({"target_instance_type": TARGET})
    world.engine.start(op.id)
    world.engine.advance(op.id)  # check_cluster
    waiting = world.engine.advance(op.id)  # create_temp_instance: created, now waiting for it
    assert waiting.outcome is Outcome.WAIT and waiting.step_state == "waiting"
    before = world.store.load(op.id).steps[1].progress
    assert before.wait_started_at is not None and before.poll_transition is not None

    _rewrite(world, op.id, _as_schema_1)
    world.clock.advance(60)

    fresh = world.new_engine()
    loaded = fresh.store.load(op.id)
    step = loaded.steps[1]
    assert step.state is StepState.WAITING
    assert step.progress.wait_started_at == before.wait_started_at, "the wait timeout still runs from the first wait"
    assert step.progress.poll_started_at == before.poll_started_at
    assert step.progress.poll_transition == before.poll_transition
    assert step.progress.attempt_started_at == before.attempt_started_at
    assert not PROGRESS_KEYS & step.result.keys()

    checked = fresh.advance(op.id)
    assert checked.error is None and checked.step_name == "create_temp_instance"
    saved = fresh.store.load(op.id)
    assert saved.schema_version == SCHEMA_VERSION
    assert saved.steps[1].progress.wait_started_at == before.wait_started_at

    assert world.run(op.id, engine=fresh).outcome is Outcome.COMPLETED
    assert changes_applied(world) == EXPECTED_CHANGES, "every change once: the created temp instance was adopted"
    cluster = world.gateway().describe_cluster(CLUSTER)
    assert {m.id: m.instance.instance_class for m in cluster.members} == dict.fromkeys(cluster_1w2r, TARGET)
    assert cluster.writer_id == cluster_1w2r[0]
    final = fresh.store.load(op.id)
    assert all(not PROGRESS_KEYS & s.result.keys() for s in final.steps), "no engine key among the actions' records"
