"""What `rds-maint list` costs over many operations: time and memory of the CLI part, and of a whole process.

Plain script, no assertions: it prints a table. The CLI part is measured apart from the store: a store
whose `summaries()` hands back summaries prepared beforehand, so the figures are `list`'s own (rows,
liveness, the streamed text or JSON), whatever the store's index costs. In process: wall time and the
tracemalloc peak above the prepared summaries. As a process (`/usr/bin/time -v`): wall time and max RSS,
for the prepared store and, with `--file-store`, for a real file store holding the same number of
operations (`rds-maint list --store file://...`), whose `summaries()` is the file store's own.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rds_maint.cli import Options, main
from rds_maint.engine import Engine
from rds_maint.model import OperationState, OperationType, StepState
from rds_maint.store.base import TargetKindFilter
from rds_maint.store.summary import OperationSummary

COUNT = 10_000
NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
STATES = [OperationState.COMPLETED] * 8 + [OperationState.FAILED, OperationState.RUNNING, OperationState.PAUSED]


def prepared(count: int) -> list[OperationSummary]:
    """`count` summaries as a long-lived store holds them: mostly finished, on 200 targets, a few running."""
    found = []
    for n in range(count):
        state = STATES[n % len(STATES)]
        instance = n % 5 == 0
        target = f"orders-{n % 200:03d}"
        created = NOW - timedelta(minutes=(count - n) * 7)
        running = not state.is_final
        found.append(
            OperationSummary(
                id=f"{target}-{created:%Y%m%d-%H%M%S}-{n:06x}",
                type=list(OperationType)[n % len(OperationType)],
                state=state,
                cluster_id=None if instance else target,
                instance_id=target if instance else None,
                target_type="db_instance" if instance else "aurora_cluster",
                region="us-east-1" if n % 3 else "eu-west-1",
                created_at=created,
                updated_at=created + timedelta(minutes=40),
                started_at=created + timedelta(seconds=30),
                completed_at=None if running else created + timedelta(minutes=40),
                version=60 + n % 40,
                step_index=n % 9 if running else 9,
                step_count=9,
                step_name="modify_reader_2" if running else None,
                step_state=StepState.WAITING if running else None,
                lease_until=None,
                awaiting_answer=state is OperationState.PAUSED and n % 2 == 0,
            )
        )
    return found


class PreparedStore:
    """A store that answers `summaries()` from a prepared list (filtered as an index would) and nothing else."""

    url = "prepared://"

    def __init__(self, summaries: list[OperationSummary]) -> None:
        self._summaries = summaries

    def summaries(
        self, target_id: str | None = None, kind: TargetKindFilter | None = None, state: str | None = None
    ) -> list[OperationSummary]:
        return [
            s
            for s in self._summaries
            if (target_id is None or s.target_id == target_id)
            and (kind is None or s.target_kind == kind)
            and (state is None or s.state.value == state)
        ]

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"list called store.{name}")


def _no_rds(region: str) -> Any:
    raise AssertionError("list called RDS")


@contextlib.contextmanager
def stdout_to_devnull() -> Iterator[None]:
    """The listing goes to /dev/null through the real stdout (no capture buffer to count as list's memory)."""
    sys.stdout.flush()
    saved = os.dup(1)
    with open(os.devnull, "w") as sink:
        os.dup2(sink.fileno(), 1)
        try:
            yield
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)


def list_in_process(summaries: list[OperationSummary], args: list[str]) -> tuple[float, float, int]:
    """Wall and CPU seconds (untraced) and the tracemalloc peak above what was allocated before (a second,
    traced run) of `rds-maint list ARGS`."""
    engine = Engine(PreparedStore(summaries), _no_rds)
    options = Options(engine_factory=lambda settings: engine)

    def listing() -> None:
        with stdout_to_devnull(), contextlib.suppress(SystemExit):  # the command exits with its code
            main.main(["list", *args], standalone_mode=False, obj=options)

    started, cpu = time.perf_counter(), time.process_time()
    listing()
    took, cpu = time.perf_counter() - started, time.process_time() - cpu
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    listing()
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return took, cpu, peak


def summaries_size(count: int) -> int:
    tracemalloc.start()
    held = prepared(count)
    size = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del held
    return size


def timed_process(command: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    """Wall seconds, CPU seconds (user + system) and max RSS (MB) of a command, from /usr/bin/time -v."""
    done = subprocess.run(
        ["/usr/bin/time", "-v", *command], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed: {done.stderr[-2000:]}")

    def figure(label: str) -> str:
        found = re.search(rf"{re.escape(label)}: ([\d.:]+)", done.stderr)
        if found is None:
            raise SystemExit(f"/usr/bin/time printed no {label!r}")
        return found.group(1)

    *hours_minutes, seconds = figure("Elapsed (wall clock) time (h:mm:ss or m:ss)").split(":")
    wall = float(seconds) + sum(int(part) * 60 ** (len(hours_minutes) - i) for i, part in enumerate(hours_minutes))
    cpu = float(figure("User time (seconds)")) + float(figure("System time (seconds)"))
    return wall, cpu, int(figure("Maximum resident set size (kbytes)")) / 1024


def fill_file_store(root: Path, count: int) -> None:
    """`count` operations in a file store, as `create` writes them (fsync skipped: only the contents matter)."""
    from rds_maint.model import Event
    from rds_maint.store import FileStore

    store = FileStore(root)
    template = _template_operation()
    with _no_fsync():
        for summary in prepared(count):
            op = template.model_copy(
                update={
                    "id": summary.id,
                    "cluster_id": summary.cluster_id,
                    "instance_id": summary.instance_id,
                    "target_type": summary.target_type,
                    "created_at": summary.created_at,
                    "updated_at": summary.updated_at,
                    "state": OperationState.CREATED,
                },
                deep=True,
            )
            made = Event(id="e1", operation_id=op.id, type="operation_created", message="", timestamp=op.created_at)
            stored = store.create(op, [made])
            stored.state = summary.state
            store.save(stored, [])


def _template_operation() -> Any:
    """One real instance_type_change, as planned on the simulator, to copy."""
    from moto import mock_aws

    from rds_maint.rds import RdsGateway, make_rds_client
    from rds_maint.store import FileStore
    from rds_sim import SimulatedAurora, VirtualClock

    with tempfile.TemporaryDirectory() as scratch, mock_aws():
        clock = VirtualClock()
        with SimulatedAurora(clock=clock, region="us-east-1") as sim:
            sim.seed_cluster("orders-000", instance_class="db.r6g.large", readers=2)
            factory = sim.clients(make_rds_client)
            engine = Engine(FileStore(scratch), lambda region: RdsGateway(factory(region), sleep=clock.sleep), clock)
            return engine.create(
                {
                    "type": "instance_type_change",
                    "cluster_id": "orders-000",
                    "region": "us-east-1",
                    "params": {"target_instance_type": "db.r6g.xlarge"},
                }
            )


@contextlib.contextmanager
def _no_fsync() -> Iterator[None]:
    real = os.fsync
    os.fsync = lambda fd: None
    try:
        yield
    finally:
        os.fsync = real


def child(count: int, output: str) -> None:
    """`list` over `count` prepared summaries in this process (what the parent times as a process)."""
    summaries = prepared(count)
    engine = Engine(PreparedStore(summaries), _no_rds)
    main.main(["list", "--output", output], standalone_mode=False, obj=Options(engine_factory=lambda s: engine))


def row(where: str, command: str, wall: str = "", cpu: str = "", peak: str = "", rss: str = "") -> None:
    print(f"{where:<12} {command:<38} {wall:>8} {cpu:>6} {peak:>9} {rss:>11}")


def as_process(command: str, argv: list[str], env: dict[str, str]) -> None:
    wall, cpu, rss = timed_process(argv, env)
    row("process", command, f"{wall:.2f}", f"{cpu:.2f}", rss=f"{rss:.1f}")


def main_() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=COUNT)
    parser.add_argument("--file-store", action="store_true", help="also a real file store of --count operations")
    parser.add_argument("--child", nargs=2, metavar=("COUNT", "OUTPUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(int(args.child[0]), args.child[1])
        return
    count = args.count
    summaries = prepared(count)
    print(f"rds-maint list over {count:,} operations (the CLI part: summaries prepared beforehand)")
    print()
    row("where", "command", "seconds", "CPU s", "peak MiB", "max RSS MB")
    print("-" * 89)
    row("in process", "(the summaries themselves)", peak=f"{summaries_size(count) / 2**20:.1f}")
    for flags in (["--output", "text"], ["--output", "json"], ["--state", "running"], ["--cluster", "orders-007"]):
        took, cpu, peak = list_in_process(summaries, flags)
        row("in process", "list " + " ".join(flags), f"{took:.3f}", f"{cpu:.3f}", f"{peak / 2**20:.1f}")
    paths = [str(Path(__file__).parent.parent), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    me = [sys.executable, __file__, "--child"]
    rds_maint = [sys.executable, "-c", "from rds_maint.cli import main; main()"]
    with tempfile.TemporaryDirectory() as empty:
        as_process("rds-maint list (empty file store)", [*rds_maint, "list", "--store", f"file://{empty}"], env)
        for output in ("text", "json"):
            as_process(f"list --output {output}, 0 prepared", [*me, "0", output], env)
            as_process(f"list --output {output}, {count:,} prepared", [*me, str(count), output], env)
        if args.file_store:
            root = Path(empty) / "store"
            fill_file_store(root, count)
            for output in ("text", "json"):
                argv = [*rds_maint, "list", "--output", output, "--store", f"file://{root}"]
                as_process(f"rds-maint list --output {output}, file store", argv, env)


if __name__ == "__main__":
    main_()
