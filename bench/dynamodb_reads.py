"""What `list` and `status --watch` cost on a DynamoDB store (moto): requests and reply bytes.

Plain script, no assertions: it prints tables. Only the store protocol is used (create, save,
summaries, follow, list_operations), so the same script measures any checkout: run it with
PYTHONPATH set to the checkout to compare (before/after a change of the store).

* listing: 3 operations on cluster `mine`, and N operations on 40 other clusters, in every state;
  `summaries("mine")` (what `list --cluster mine` reads), `summaries(state="paused")` and
  `summaries()` (every operation), for N = 100 and 1,000;
* following: an operation saved S times with 2 events per save; one `follow` from the cursor of the
  previous save, i.e. what one look of `status --watch` reads after each save.

Requests are counted with a botocore `before-call` hook on the store's client, reply bytes with
`after-call` (the HTTP body moto answers, which is the JSON DynamoDB would send). Moto's CPU time is
not the store's cost and is not shown.
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from moto import mock_aws

from rds_maint.model import Event, Operation, OperationState, OperationType, Step, StepState
from rds_maint.store import DynamoDBStore, init_store

REGION = "us-east-1"
NOW = datetime(2026, 3, 2, 4, 0, tzinfo=UTC)
STATES = list(OperationState)


class Wire:
    def __init__(self, client: Any) -> None:
        self.requests: Counter[str] = Counter()
        self.reply_bytes = 0
        self.active = False
        client.meta.events.register("before-call.dynamodb", self._request)
        client.meta.events.register("after-call.dynamodb", self._reply)

    def _request(self, model: Any, **_: Any) -> None:
        if self.active:
            self.requests[str(model.name)] += 1

    def _reply(self, http_response: Any, **_: Any) -> None:
        if self.active:
            self.reply_bytes += len(http_response.content)

    def measure(self, call: Callable[[], object]) -> tuple[int, int, str]:
        self.requests.clear()
        self.reply_bytes = 0
        self.active = True
        try:
            call()
        finally:
            self.active = False
        kinds = ", ".join(f"{name} {count}" for name, count in sorted(self.requests.items()))
        return sum(self.requests.values()), self.reply_bytes, kinds


def operation(op_id: str, target: str, minutes: int, state: OperationState) -> Operation:
    """About the size of a planned instance_type_change with a few steps done (7-8 KB of JSON)."""
    at = NOW + timedelta(minutes=minutes)
    steps = [
        Step(
            id=f"s{n:02d}",
            name=f"modify_reader_{target}-{n}",
            action="modify_instance",
            description=f"change {target}-{n} to db.r6g.xlarge, then wait until it is available",
            parameters={"instance_id": f"{target}-{n}", "instance_class": "db.r6g.xlarge"},
            wait_condition="instance_available",
            state=StepState.COMPLETED if n < 4 else StepState.PENDING,
            result={"instance": f"{target}-{n}", "class_before": "db.r6g.large", "status": "available"}
            if n < 4
            else {},
        )
        for n in range(12)
    ]
    return Operation(
        id=op_id,
        type=OperationType.INSTANCE_TYPE_CHANGE,
        cluster_id=target,
        region=REGION,
        state=state,
        parameters={"target_instance_type": "db.r6g.xlarge"},
        steps=steps,
        current_step_index=4,
        created_at=at,
        updated_at=at,
    )


def listing_rows(others: int) -> list[tuple[str, int, int, int, str]]:
    with mock_aws():
        table = f"bench-list-{others}"
        init_store(f"dynamodb://{table}", region=REGION)
        store = DynamoDBStore(table, region=REGION)
        for n in range(3):
            store.create(operation(f"mine-{n}", "mine", n, OperationState.PAUSED), [])
        for n in range(others):
            store.create(operation(f"other-{n:05d}", f"other-{n % 40}", n, STATES[n % len(STATES)]), [])
        wire = Wire(store.client)
        rows = []
        for name, call in (
            ("summaries('mine')  (list --cluster mine)", lambda: store.summaries("mine")),
            ("summaries(state='paused')", lambda: store.summaries(state="paused")),
            ("summaries()  (list)", lambda: store.summaries()),
        ):
            requests, size, kinds = wire.measure(call)
            rows.append((name, others, requests, size, kinds))
        return rows


def follow_rows(saves_before: tuple[int, ...]) -> list[tuple[int, int, int, int, str]]:
    with mock_aws():
        init_store("dynamodb://bench-follow", region=REGION)
        store = DynamoDBStore("bench-follow", region=REGION)
        op = store.create(operation("watched", "mine", 0, OperationState.RUNNING), [])
        cursor = store.follow("watched").cursor
        wire = Wire(store.client)
        rows = []
        for save in range(1, max(saves_before) + 1):
            events = [
                Event(
                    id=f"e{save}-{k}",
                    operation_id="watched",
                    type="step_waiting",
                    message=f"look {save}",
                    timestamp=NOW,
                )
                for k in range(2)
            ]
            op = store.save(op, events)
            if save in saves_before:
                requests, size, kinds = wire.measure(partial(store.follow, "watched", cursor))
                rows.append((save, 2 * save, requests, size, kinds))
            cursor = store.follow("watched", cursor).cursor
        return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--others", type=int, nargs="*", default=[100, 1000])
    parser.add_argument("--saves", type=int, nargs="*", default=[1, 10, 100])
    args = parser.parse_args()

    print("Listing on a DynamoDB store: 3 operations on cluster `mine`, N on 40 other clusters")
    print()
    header = f"{'read':<42} {'N others':>8} {'requests':>8} {'reply bytes':>12}  by kind"
    print(header)
    print("-" * len(header))
    for others in args.others:
        for name, count, requests, size, kinds in listing_rows(others):
            print(f"{name:<42} {count:>8} {requests:>8} {size:>12}  {kinds}")
    print()
    print("Following one operation (status --watch): one follow from the cursor of the previous save")
    print()
    header = f"{'saves so far':>12} {'events in log':>13} {'requests':>8} {'reply bytes':>12}  by kind"
    print(header)
    print("-" * len(header))
    for save, events, requests, size, kinds in follow_rows(tuple(args.saves)):
        print(f"{save:>12} {events:>13} {requests:>8} {size:>12}  {kinds}")


if __name__ == "__main__":
    main()
