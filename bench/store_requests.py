"""Store requests per engine call, for each state store, on the simulated Aurora (moto).

Plain script, no assertions: it prints tables. One instance_type_change (1 writer + 2 readers,
temp instance) runs to completion on each store. Requests and bytes are counted by
bench/store_meter.py: botocore `before-send` / `after-call` hooks on the store's own client (S3,
DynamoDB: every send, and the request and reply bodies) and an audit hook for the file store (opens,
renames, flocks, directory listings under the store's root; bytes of the files read and written).
The size of a store (how many operations it holds) is bench/store_scale.py's subject.

Two modes:
* warm: one store object for the whole run (the CLI, or a warm Lambda container);
* cold: a new store object for every call (every Lambda invocation in a fresh container),
  so nothing learnt by an earlier call (S3 ETags, which event objects exist) is reused.

Kinds of `advance`: `run` (the step's action runs: lease write, AWS call, result write),
`check` (a waiting step is looked at once: one read, one write), `other` (a save without an
action: a pause, the announcement before a failover, the final state and lock release).
"""

from __future__ import annotations

import argparse
import random
import tempfile
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from moto import mock_aws
from store_meter import StoreMeter

from rds_maint.engine import Engine
from rds_maint.model import Operation, Outcome, Step
from rds_maint.rds import RdsGateway, make_rds_client
from rds_maint.store import StateStore, init_store, open_store
from rds_sim import SimulatedAurora, VirtualClock

REGION = "us-east-1"
CLUSTER = "bench-pg"
OP_ID = "bench-pg-20261202-000000-000014"
SEED = 14


class AttemptKind:
    """Remembers whether the last `advance` ran an action, checked one, or did neither (the engine's on_attempt)."""

    def __init__(self) -> None:
        self.kind = "other"

    def __call__(self, operation: Operation, step: Step, kind: str) -> None:
        self.kind = kind


@dataclass
class Tally:
    calls: Counter[str] = field(default_factory=Counter)
    requests: Counter[str] = field(default_factory=Counter)
    bytes_out: Counter[str] = field(default_factory=Counter)
    bytes_in: Counter[str] = field(default_factory=Counter)
    by_api: Counter[str] = field(default_factory=Counter)


def run_once(kind: str, cold: bool, workdir: Path) -> Tally:
    urls = {
        "file": f"file://{workdir / f'{kind}-{cold}'}",
        "s3": "s3://rds-maint-bench/state",
        "dynamodb": "dynamodb://rds-maint-bench",
    }
    url = urls[kind]
    random.seed(SEED)
    meter = StoreMeter()
    tally = Tally()

    def watched(store: StateStore) -> StateStore:
        meter.watch(store)
        return store

    with mock_aws():
        clock = VirtualClock()
        with SimulatedAurora(clock=clock, region=REGION) as sim:
            sim.seed_cluster(CLUSTER, instance_class="db.r6g.large", readers=2)
            init_store(url, REGION)
            gateway: Callable[[str], RdsGateway] = lambda region: RdsGateway(  # noqa: E731
                sim.clients(make_rds_client)(region), sleep=clock.sleep
            )
            attempt = AttemptKind()
            engine = Engine(watched(open_store(url, REGION)), gateway, clock, on_attempt=attempt)

            def measured(label: str, call: Callable[[], Any]) -> Any:
                if cold:
                    engine.store = watched(open_store(url, REGION))
                attempt.kind = "other"
                meter.start()
                try:
                    return call()
                finally:
                    meter.stop()
                    name = attempt.kind if label == "advance" else label
                    tally.calls[name] += 1
                    tally.requests[name] += meter.total
                    tally.bytes_out[name] += meter.bytes_out
                    tally.bytes_in[name] += meter.bytes_in
                    tally.by_api.update(meter.requests)

            request = {
                "type": "instance_type_change",
                "cluster_id": CLUSTER,
                "region": REGION,
                "params": {"target_instance_type": "db.r6g.xlarge"},
            }
            # A fixed id: the simulator draws its durations from it, so every run waits as long.
            op = measured("create", lambda: engine.create_from_preview(engine.preview(request, operation_id=OP_ID)))
            measured("start", lambda: engine.start(op.id))
            while True:
                result = measured("advance", lambda: engine.advance(op.id))
                if result.outcome in (Outcome.COMPLETED, Outcome.FAILED, Outcome.INTERVENTION):
                    break
                if result.outcome is Outcome.WAIT:
                    clock.sleep(result.wait_seconds)
            if result.outcome is not Outcome.COMPLETED:
                raise SystemExit(f"{kind}: the operation ended {result.outcome.value}: {result.pause_reason}")
    return tally


ADVANCES = ("run", "check", "other")


def per(tally: Tally, name: str) -> str:
    calls = tally.calls[name]
    return f"{tally.requests[name] / calls:5.2f}" if calls else "    -"


def kib_per(counts: Counter[str], tally: Tally, names: tuple[str, ...]) -> str:
    """KiB per call of the calls named, or `-` when there was none."""
    calls = sum(tally.calls[n] for n in names)
    return f"{sum(counts[n] for n in names) / calls / 1024:.1f}" if calls else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.parse_args()
    rows: list[tuple[str, str, Tally]] = []
    with tempfile.TemporaryDirectory() as workdir:
        for kind in ("file", "s3", "dynamodb"):
            for cold in (False, True):
                rows.append((kind, "cold" if cold else "warm", run_once(kind, cold, Path(workdir))))

    print("Store requests per engine call: one instance_type_change (1 writer + 2 readers) to completion")
    print()
    header = (
        f"{'store':<9} {'mode':<5} {'advances':>8} {'run':>4} {'check':>6} {'other':>6} "
        f"{'per run':>8} {'per check':>10} {'per other':>10} {'per advance':>12} {'create':>7} {'start':>6}"
    )
    print(header)
    print("-" * len(header))
    for kind, mode, tally in rows:
        advances = sum(tally.calls[k] for k in ADVANCES)
        requests = sum(tally.requests[k] for k in ADVANCES)
        print(
            f"{kind:<9} {mode:<5} {advances:>8} {tally.calls['run']:>4} {tally.calls['check']:>6} "
            f"{tally.calls['other']:>6} {per(tally, 'run'):>8} {per(tally, 'check'):>10} {per(tally, 'other'):>10} "
            f"{requests / advances:>12.2f} {tally.requests['create']:>7} {tally.requests['start']:>6}"
        )
    print()
    print("Bytes per engine call (request and reply bodies, KiB; sent / received)")
    print()
    header = (
        f"{'store':<9} {'mode':<5} {'per run':>13} {'per check':>13} {'per other':>13} "
        f"{'per advance':>13} {'create':>13} {'start':>13}"
    )
    print(header)
    print("-" * len(header))
    for kind, mode, tally in rows:
        cells = [
            f"{kib_per(tally.bytes_out, tally, names)} / {kib_per(tally.bytes_in, tally, names)}"
            for names in (("run",), ("check",), ("other",), ADVANCES, ("create",), ("start",))
        ]
        print(f"{kind:<9} {mode:<5} " + " ".join(f"{cell:>13}" for cell in cells))
    print()
    print("Requests by kind over the whole operation (create, start and every advance)")
    print()
    for kind, mode, tally in rows:
        parts = ", ".join(f"{name} {count}" for name, count in sorted(tally.by_api.items()))
        print(f"{kind:<9} {mode:<5} {parts}")


if __name__ == "__main__":
    main()
