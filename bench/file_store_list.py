"""What listing a file store of many operations costs: wall time and memory, in process.

Plain script, no assertions: it prints a table. It builds a file store of N operations (10,000 by default)
in a temporary directory, each a copy of one real `instance_type_change` run to completion on the simulated
Aurora (so every operation.json is the size a real one is), with its own id, target and times. Most are
final; the newest operation of one target in ten is still active (running or paused), as a store that has
worked for a while holds at most one active operation per target. The files are written in the store's own
format (operation.json, summary.json, events.jsonl, .lock), without an fsync each, so that building takes
seconds; `--api` builds the same store through `FileStore.create` and `save` instead (slower).

Each reading is measured in a fresh interpreter, so nothing an earlier one loaded or cached counts:

* wall and CPU: the best of `--repeat` calls, without tracing (on a machine others share, CPU time, this
  process's own, moves less than wall time);
* RSS: the child's `ru_maxrss` after those calls, and what it was once the store code was imported (the part
  of the peak that is the interpreter and rds-maint's own imports);
* traced peak: `tracemalloc`'s peak over one more call, the memory the reading itself allocates.

Readings: `list_operations()` (every operation read and validated), `summaries()` (every summary),
`summaries(state=running)`, `summaries(TARGET)`, and `summaries()` on the same store without its summary.json
files (a store written by an older rds-maint: each summary derived from operation.json).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

REGION = "us-east-1"
TEMPLATE_CLUSTER = "bench-pg"
TARGETS = 1000  # 10 operations per target with the default N
ACTIVE_STATES = ("running", "paused")


def template(workdir: Path) -> tuple[Any, list[Any]]:
    """One instance_type_change run to completion on the simulator: the operation copied N times, its events."""
    from moto import mock_aws

    from rds_maint.engine import Engine
    from rds_maint.model import Outcome
    from rds_maint.rds import RdsGateway, make_rds_client
    from rds_maint.store import FileStore
    from rds_sim import SimulatedAurora, VirtualClock

    store = FileStore(workdir / "template")
    with mock_aws():
        clock = VirtualClock()
        with SimulatedAurora(clock=clock, region=REGION) as sim:
            sim.seed_cluster(TEMPLATE_CLUSTER, instance_class="db.r6g.large", readers=2)
            rds = sim.clients(make_rds_client)

            def gateway(region: str) -> RdsGateway:
                return RdsGateway(rds(region), sleep=clock.sleep)

            engine = Engine(store, gateway, clock)
            request = {
                "type": "instance_type_change",
                "cluster_id": TEMPLATE_CLUSTER,
                "region": REGION,
                "params": {"target_instance_type": "db.r6g.xlarge"},
            }
            op = engine.create(request)
            engine.start(op.id)
            while True:
                result = engine.advance(op.id)
                if result.outcome in (Outcome.COMPLETED, Outcome.FAILED, Outcome.INTERVENTION):
                    break
                if result.outcome is Outcome.WAIT:
                    clock.sleep(result.wait_seconds)
    return store.load(op.id), store.events(op.id)


def build(root: Path, count: int, through_api: bool, workdir: Path) -> dict[str, Any]:
    from rds_maint.model import OperationState
    from rds_maint.store import FileStore
    from rds_maint.store.summary import summary_of

    base, events = template(workdir)
    finals = [OperationState.COMPLETED, OperationState.COMPLETED, OperationState.COMPLETED, OperationState.FAILED]
    targets = min(TARGETS, count)
    store = FileStore(root)
    root.mkdir(parents=True, exist_ok=True)
    active = 0
    sizes = []
    for n in range(count):
        target = n % targets
        newest = n + targets >= count
        state = OperationState(ACTIVE_STATES[target % 2]) if newest and target % 10 == 0 else finals[n % 4]
        active += not state.is_final
        at = base.created_at + timedelta(minutes=n)
        op = base.model_copy(
            update={
                "id": f"op-{n:06d}-{target:04d}",
                "cluster_id": f"orders-{target:04d}" if target % 3 else None,
                "instance_id": None if target % 3 else f"orders-db-{target:04d}",
                "target_type": "aurora_cluster" if target % 3 else "db_instance",
                "state": state,
                "created_at": at,
                "updated_at": at + timedelta(minutes=40),
                "started_at": at + timedelta(minutes=1),
                "completed_at": at + timedelta(minutes=40) if state.is_final else None,
            }
        )
        op_events = [e.model_copy(update={"operation_id": op.id}) for e in events]
        if through_api:
            first = store.create(op.model_copy(update={"state": OperationState.CREATED}), op_events[:1])
            store.save(op.model_copy(update={"version": first.version}), op_events[1:])
            continue
        directory = root / op.id
        directory.mkdir()
        stored = op.model_copy(update={"version": 2})
        body = stored.model_dump_json(indent=2)
        sizes.append(len(body))
        (directory / "operation.json").write_text(body)
        (directory / "summary.json").write_text(summary_of(stored).to_json())
        (directory / "events.jsonl").write_text("".join(e.model_dump_json() + "\n" for e in op_events))
        (directory / ".lock").touch()
    return {
        "count": count,
        "active": active,
        "operation_bytes": sum(sizes) // len(sizes) if sizes else len(base.model_dump_json(indent=2)),
        "events": len(events),
        "targets": targets,
        "first_target": "orders-0001",
    }


def drop_summaries(root: Path, into: Path) -> None:
    """The same store as an older rds-maint left it: no summary.json (hard links, so it costs no copy)."""
    for entry in os.scandir(root):
        if not entry.is_dir():
            continue
        target = into / entry.name
        target.mkdir(parents=True)
        for name in ("operation.json", "events.jsonl", ".lock"):
            os.link(Path(entry.path) / name, target / name)


def measure(root: str, reading: str, target: str, repeat: int) -> dict[str, float]:
    """In the child: one reading, timed `repeat` times, then traced once."""
    rss_start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    from rds_maint.store import FileStore

    store = FileStore(root)
    readings: dict[str, Callable[[], list[Any]]] = {
        "list_operations()": store.list_operations,
        "summaries()": store.summaries,
        "summaries(state=running)": lambda: store.summaries(state="running"),
        f"summaries({target})": lambda: store.summaries(target),
    }
    call = readings["summaries()" if reading == "old store: summaries()" else reading]
    rss_imported = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    best = best_cpu = float("inf")
    found = 0
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        found = len(call())
        best = min(best, time.perf_counter() - start)
        best_cpu = min(best_cpu, time.process_time() - start_cpu)
    rss_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    kept = call()
    _, traced_peak = tracemalloc.get_traced_memory()
    traced_kept = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del kept
    return {
        "found": found,
        "seconds": best,
        "cpu_seconds": best_cpu,
        "rss_start_mib": rss_start / 1024,
        "rss_imported_mib": rss_imported / 1024,
        "rss_peak_mib": rss_peak / 1024,
        "traced_peak_mib": traced_peak / 2**20,
        "traced_kept_mib": traced_kept / 2**20,
    }


def child(root: Path, reading: str, target: str, repeat: int) -> dict[str, float]:
    command = [sys.executable, __file__, "--child", str(root), "--reading", reading, "--target", target]
    command += ["--repeat", str(repeat)]
    out = subprocess.run(command, check=True, capture_output=True, text=True, env=os.environ).stdout
    result: dict[str, float] = json.loads(out)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", "--count", type=int, default=10_000, help="operations in the store (10000)")
    parser.add_argument("--repeat", type=int, default=3, help="timed calls per reading, the best kept (3)")
    parser.add_argument("--api", action="store_true", help="build the store through FileStore.create and save")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--build", help=argparse.SUPPRESS)
    parser.add_argument("--reading", help=argparse.SUPPRESS)
    parser.add_argument("--target", default="orders-0001", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child, args.reading, args.target, args.repeat)))
        return
    if args.build:
        print(json.dumps(build(Path(args.build), args.count, args.api, Path(args.build).parent)))
        return

    with tempfile.TemporaryDirectory() as workdir:
        root = Path(workdir) / "store"
        started = time.perf_counter()
        # built in a child too: a child's ru_maxrss starts from its parent's, so the parent stays small
        command = [sys.executable, __file__, "--build", str(root), "--count", str(args.count)]
        command += ["--api"] if args.api else []
        facts = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
        built = time.perf_counter() - started
        old = Path(workdir) / "old-store"
        drop_summaries(root, old)
        target = facts["first_target"]
        readings = [
            ("list_operations()", root),
            ("summaries()", root),
            ("summaries(state=running)", root),
            (f"summaries({target})", root),
            ("old store: summaries()", old),
        ]
        rows = [(name, child(where, name, target, args.repeat)) for name, where in readings]

    print(
        f"File store of {facts['count']} operations ({facts['active']} active, {facts['targets']} targets), "
        f"operation.json {facts['operation_bytes'] / 1024:.1f} KiB each, {facts['events']} events each; "
        f"built in {built:.1f} s{' through the store API' if args.api else ''}"
    )
    load = os.getloadavg()[0]
    print(f"Each reading in a fresh interpreter; wall and CPU are the best of {args.repeat}; load {load:.1f}.")
    print()
    header = (
        f"{'reading':<28} {'found':>6} {'wall s':>7} {'CPU s':>6} {'traced peak MiB':>16} {'kept MiB':>9} "
        f"{'RSS peak MiB':>13} {'RSS after imports':>18}"
    )
    print(header)
    print("-" * len(header))
    for name, row in rows:
        print(
            f"{name:<28} {int(row['found']):>6} {row['seconds']:>7.3f} {row['cpu_seconds']:>6.3f} "
            f"{row['traced_peak_mib']:>16.1f} "
            f"{row['traced_kept_mib']:>9.1f} {row['rss_peak_mib']:>13.1f} {row['rss_imported_mib']:>18.1f}"
        )


if __name__ == "__main__":
    main()
