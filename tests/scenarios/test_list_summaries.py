"""`list` reads the stores' summaries only, never an operation, and prints each row as it goes."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any, cast

import click
import pytest
from click.testing import Result

from rds_maint.cli import reports
from rds_maint.cli.liveness import liveness
from rds_maint.model import Event, Operation
from rds_maint.store import StateStore
from rds_maint.store.base import Followed, TargetKindFilter
from rds_maint.store.summary import OperationSummary
from tests.helpers.steered_clock import SleepHook, cli_with
from tests.helpers.world import CLUSTER, ON_EVERY_STORE, World

OTHER = "billing-prod"
# Every key of a row of `list --output json`: scripts (e2e/run.py among them) read them.
ROW_KEYS = [
    "id",
    "type",
    "target",
    "target_text",
    "target_type",
    "cluster_id",
    "instance_id",
    "region",
    "state",
    "state_text",
    "driver",
    "not_driven_since",
    "created_at",
    "updated_at",
    "age",
    "age_seconds",
    "step",
    "step_number",
    "step_text",
]


class SummariesOnly:
    """The store `list` is given: it answers summaries, and fails the test on any read of a whole operation."""

    def __init__(self, store: StateStore) -> None:
        self.store = store
        self.asked: list[tuple[str | None, TargetKindFilter | None, str | None]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    def summaries(
        self, target_id: str | None = None, kind: TargetKindFilter | None = None, state: str | None = None
    ) -> list[OperationSummary]:
        self.asked.append((target_id, kind, state))
        return self.store.summaries(target_id, kind, state)

    def load(self, operation_id: str) -> Operation:
        raise AssertionError(f"list loaded operation {operation_id}")

    def list_operations(self, cluster_id: str | None = None, state: str | None = None) -> list[Operation]:
        raise AssertionError("list read whole operations (list_operations)")

    def events(self, operation_id: str) -> list[Event]:
        raise AssertionError(f"list read the event log of {operation_id}")

    def follow(self, operation_id: str, cursor: str | None = None) -> Followed:
        raise AssertionError(f"list followed {operation_id}")


def on_instance(world: World, like: Operation, name: str) -> Operation:
    """An operation on a DB instance as the store keeps it, made a minute after `like` (the instance plans are
    other tests'); named as a cluster is: the kinds are told apart."""
    op = like.model_copy(
        update={
            "id": f"{name}-20260105-020000-abcdef",
            "cluster_id": None,
            "instance_id": name,
            "target_type": "db_instance",
            "created_at": like.created_at + timedelta(minutes=1),
        }
    )
    return world.store.create(op, [])


def created_apart(world: World, count: int) -> list[Operation]:
    """`count` operations on the cluster, a minute apart (the order `list` shows them in)."""
    made = []
    for _ in range(count):
        made.append(world.create({"target_instance_type": "db.r6g.xlarge"}))
        world.clock.advance(60)
    return made


def listed(world: World, store: SummariesOnly, *args: str) -> Result:
    result = cli_with(world, SleepHook(world.clock, lambda: None), "list", *args, store=cast(StateStore, store))
    assert result.exit_code == 0, result.output
    return result


@ON_EVERY_STORE
def test_list_reads_summaries_with_the_filters_and_never_an_operation(world: World, cluster_1w2r: list[str]) -> None:
    world.sim.seed_cluster(OTHER, engine="aurora-postgresql", engine_version="15.4", instance_class="db.r6g.large")
    running = world.create({"target_instance_type": "db.r6g.xlarge"})
    instance = on_instance(world, running, CLUSTER)
    world.engine.start(running.id)
    world.engine.advance(running.id)  # step 1 done: the row shows step 2
    world.clock.advance(120)
    other = world.engine.create({"type": "instance_cycle", "cluster_id": OTHER, "region": running.region, "params": {}})
    store = SummariesOnly(world.store)

    every = json.loads(listed(world, store, "--output", "json").output)
    assert [row["id"] for row in every] == [running.id, instance.id, other.id], "oldest first"
    by_id = {row["id"]: row for row in every}
    assert by_id[running.id]["step_text"] == "2/9 create_temp_instance"
    assert by_id[running.id]["driver"] == "active"
    assert by_id[instance.id]["target_text"] == f"instance {CLUSTER}"
    assert by_id[other.id]["state"] == "created" and by_id[other.id]["driver"] == "none"

    on_cluster = json.loads(listed(world, store, "--cluster", CLUSTER, "--output", "json").output)
    assert [row["id"] for row in on_cluster] == [running.id], "not the DB instance of the same name"
    on_db_instance = json.loads(listed(world, store, "--instance", CLUSTER, "--output", "json").output)
    assert [row["id"] for row in on_db_instance] == [instance.id]
    in_state = listed(world, store, "--state", "running").output.splitlines()
    assert len(in_state) == 2 and in_state[1].startswith(running.id)
    assert store.asked == [
        (None, None, None),
        (CLUSTER, "cluster", None),
        (CLUSTER, "instance", None),
        (None, None, "running"),
    ]


def test_streamed_json_is_one_array_with_every_key_as_before(world: World, cluster_1w2r: list[str]) -> None:
    store = SummariesOnly(world.store)
    assert listed(world, store, "--output", "json").output == "[]\n"
    ops = created_apart(world, 3)
    world.engine.start(ops[0].id)

    text = listed(world, store, "--output", "json").output
    rows = json.loads(text)
    assert text == json.dumps(rows, indent=2) + "\n", "the text of one json.dumps of the whole array, as before"
    assert [list(row) for row in rows] == [ROW_KEYS] * 3
    assert [row["id"] for row in rows] == [op.id for op in ops]
    first = rows[0]
    assert (first["target"], first["cluster_id"], first["instance_id"]) == (CLUSTER, CLUSTER, None)
    assert (first["step"], first["step_number"], first["step_text"]) == ("check_cluster", 1, "1/9 check_cluster")
    assert first["created_at"] == ops[0].created_at.isoformat() and first["not_driven_since"] is None


def test_rows_go_out_in_blocks_as_they_are_made(
    world: World, cluster_1w2r: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A listing writes a block of rows at a time (`_BLOCK` rows; 2 here), never the whole output at once: the
    JSON array as its elements are made, the table once its widths are known."""
    ops = created_apart(world, 4)
    store = SummariesOnly(world.store)
    writes: list[str] = []
    echo = click.echo

    def recorded(message: Any = None, *args: Any, **kwargs: Any) -> None:
        writes.append(str(message))
        made.append("write")
        echo(message, *args, **kwargs)

    made: list[str] = []  # "row" each time a row is made, "write" each time a block goes out
    told = liveness

    def telling(summary: OperationSummary, *args: Any) -> Any:
        made.append("row")
        return told(summary, *args)

    monkeypatch.setattr(click, "echo", recorded)
    monkeypatch.setattr(reports, "liveness", telling)  # the name the command calls
    monkeypatch.setattr(reports, "_BLOCK", 2)
    table = listed(world, store).output.splitlines()
    assert "\n".join(writes).splitlines() == table and len(writes) == 1 + len(ops) // 2, "the header, then blocks"
    assert table[0].split() == ["ID", "TYPE", "TARGET", "REGION", "STATE", "DRIVER", "AGE", "STEP"]
    assert [line.split()[0] for line in table[1:]] == [op.id for op in ops]
    assert {line.index("instance_type_change") for line in table[1:]} == {table[0].index("TYPE")}, "aligned"

    writes.clear()
    made.clear()
    text = listed(world, store, "--output", "json").output
    assert len(writes) == len(ops) // 2 + 2 and writes[0] == "[" and writes[-1] == "]"
    assert made[1:-1] == ["row", "row", "write"] * (len(ops) // 2), "each block goes out as soon as it is made"
    assert "".join(f"{w}\n" for w in writes) == text
