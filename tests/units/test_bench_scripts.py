"""The benchmark scripts' own parts (bench/): what they count and how they summarise it.

The benchmarks themselves never run here (they print tables, they assert nothing, and they take minutes);
these tests keep the pieces they are built of honest: a meter that miscounted would print wrong tables.
"""

from __future__ import annotations

import io
import random
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

import retries
import store_faults
import store_scale
from store_meter import StoreMeter, body_size, request_size

from rds_maint.model import Event, Operation, OperationType, Step
from rds_maint.retry import STORE
from rds_maint.store import FileStore


class _Request:
    def __init__(self, headers: dict[str, bytes], body: object) -> None:
        self.headers = headers
        self.body = body


def test_body_size_reads_bytes_text_and_streams_from_where_they_stand() -> None:
    stream = io.BytesIO(b"0123456789")
    stream.seek(4)
    assert body_size(b"abc") == 3
    assert body_size("été") == 5  # bytes on the wire, not characters
    assert body_size(stream) == 6
    assert stream.tell() == 4  # left where it was, for botocore to send
    assert body_size(None) == 0


def test_request_size_prefers_the_decoded_length_of_an_aws_chunked_body() -> None:
    chunked = _Request({"X-Amz-Decoded-Content-Length": b"1000", "Content-Length": b"1100"}, object())
    assert request_size(chunked) == 1000
    assert request_size(_Request({"Content-Length": b"42"}, b"x")) == 42
    assert request_size(_Request({}, b"12345")) == 5


def _operation(op_id: str) -> Operation:
    now = datetime(2026, 12, 2, tzinfo=UTC)
    step = Step(id="s01", name="modify", description="change the class", action="modify_instance")
    return Operation(
        id=op_id,
        type=OperationType("instance_type_change"),
        cluster_id="orders",
        region="us-east-1",
        parameters={},
        steps=[step],
        created_at=now,
        updated_at=now,
    )


def test_the_file_meter_counts_what_the_store_opens_reads_and_writes(tmp_path: Path) -> None:
    store = FileStore(tmp_path / "state")
    meter = StoreMeter()
    meter.watch(store)
    op = _operation("orders-1")
    event = Event(id="e1", operation_id=op.id, type="created", message="created", timestamp=op.created_at)

    meter.start()
    store.create(op, [event])
    meter.stop()
    written = (tmp_path / "state" / op.id / "operation.json").stat().st_size
    summary = (tmp_path / "state" / op.id / "summary.json").stat().st_size
    appended = (tmp_path / "state" / op.id / "events.jsonl").stat().st_size
    assert meter.bytes_out == written + summary + appended
    assert meter.bytes_in == 0
    assert meter.requests["os.rename"] == 2  # operation.json and summary.json, each renamed into place

    meter.start()
    store.load(op.id)
    meter.stop()
    assert meter.requests == {"open": 1}
    assert (meter.bytes_in, meter.bytes_out) == (written, 0)

    meter.start()
    (tmp_path / "elsewhere.txt").write_text("not the store's")
    meter.stop()
    assert meter.total == 0  # files outside the store's root are not its requests


def test_spread_is_the_median_and_range() -> None:
    assert store_scale.spread([0.3, 0.1, 0.2], 1000, 0) == "200 [100-300]"
    assert store_scale.spread([]) == "-"


def test_constant_needs_two_sizes_to_say_yes_or_no() -> None:
    assert store_scale.constant([3, 3, 3]) == "yes"
    assert store_scale.constant([3, 4]) == "no"
    assert store_scale.constant([3]) == "-"


def test_list_rows_counts_the_operations_a_table_shows() -> None:
    assert store_scale.list_rows("ID  TYPE\na   x\nb   y\n") == 2
    assert store_scale.list_rows("No operations.\n") == 0


def test_moto_time_grows_as_seen_between_the_last_two_sizes() -> None:
    assert store_scale.moto_seconds([(100, 1.0)], 1000) == pytest.approx(10.0)  # one size: linear
    assert store_scale.moto_seconds([(100, 1.0), (1000, 100.0)], 10000) == pytest.approx(10000.0)  # quadratic
    assert store_scale.moto_seconds([(100, 2.0), (1000, 1.0)], 10000) == pytest.approx(10.0)  # at least linear
    assert store_scale.moto_seconds([], 10000) == 0.0


def test_the_first_seeded_operations_are_the_active_ones_on_distinct_targets() -> None:
    active = sum(store_scale.ACTIVE.values())
    states = [store_scale.state_of(i, random.Random(i)) for i in range(active)]
    assert states.count("running") == 20 and states.count("paused") == 10 and states.count("created") == 5
    assert active <= len(store_scale.TARGETS)
    later = {store_scale.state_of(i, random.Random(i)) for i in range(active, active + 500)}
    assert later <= {"completed", "failed", "rolled_back"}


def test_retry_figures_say_sends_per_call_and_virtual_seconds() -> None:
    assert retries.sends_text([5, 5]) == "5"
    assert retries.sends_text([3, 5]) == "3-5"
    assert retries.seconds_text([1.0, 4.0, 2.0]) == "2.0 [1.0-4.0]"
    assert any(case.operation == "RebootDBInstance" for case in retries.CASES)
    assert any(case.operation.startswith("Describe") for case in retries.CASES)


def test_a_throttled_store_call_is_sent_as_often_as_the_store_policy_allows() -> None:
    for case in (store_faults.STORE_CASES[1], store_faults.STORE_CASES[4]):
        measured = store_faults.measure_store(case, trials=1, seed=7, region="us-east-1")
        assert measured.sends == [STORE.attempts]
        assert measured.raised == "StoreError"
        assert measured.seconds[0] > 0  # it backed off between sends (virtually)
