"""Store requests of what a person watches (`rds-maint run`'s display, `status --watch`) against the engine's.

Plain script, no assertions: it prints a table. For each store (file, S3 and DynamoDB on moto), each number
of readers and each operation (instance_type_change, instance_cycle) one operation runs to completion on
the simulated Aurora, driven as `run` drives it (`rds_maint.progress.drive`, one engine call at a time, with
`run`'s Progress listening), while `rds-maint status OP --watch` follows it through the real CLI in the same
process on the same virtual clock: whenever the watcher sleeps, the engine calls due before it wakes are
made at their times. The watcher has a store object of its own, as another process would.

Requests are counted by whoever makes them: botocore `before-call` hooks on the stores' clients (S3,
DynamoDB) and an audit hook on the file store's files (opens, renames, listings, locks), attributed to the
engine (its calls), the display (Progress's own methods) or the watcher (everything else it does).

`--before` adds the watcher as it was before issue 14 (a load every --interval, the whole event log whenever
the version moved), looking at the same run from a third store object.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from moto import mock_aws

from rds_maint import wiring
from rds_maint.cli import Options, main
from rds_maint.config import Settings
from rds_maint.engine import Engine
from rds_maint.model import Outcome, StepResult
from rds_maint.progress import Progress, drive
from rds_maint.rds import RdsGateway, make_rds_client
from rds_maint.store import DynamoDBStore, FileStore, S3Store, StateStore, init_store, open_store
from rds_sim import SimulatedAurora, VirtualClock

REGION = "us-east-1"
CLUSTER = "bench-pg"
READERS = (1, 3, 7, 15)
OPERATIONS = {
    "instance_type_change": {"target_instance_type": "db.r6g.xlarge"},
    "instance_cycle": {},
}
STORES = ("file", "s3", "dynamodb")
FILE_EVENTS = frozenset({"open", "os.rename", "os.remove", "os.mkdir", "os.listdir", "os.scandir", "fcntl.flock"})
OLD_INTERVAL = 5  # the watcher before issue 14: a look every --interval (default 5 s)


class Requests:
    """Store requests by who made them: "engine", "display", "watch" (the default), "before"."""

    def __init__(self) -> None:
        self.by: Counter[str] = Counter()
        self.who = "watch"
        self.active = False
        self.file_root: str | None = None
        sys.addaudithook(self._audit)

    @contextlib.contextmanager
    def as_(self, who: str) -> Iterator[None]:
        before, self.who = self.who, who
        try:
            yield
        finally:
            self.who = before

    def attach(self, store: StateStore) -> StateStore:
        if isinstance(store, S3Store | DynamoDBStore):
            store.client.meta.events.register("before-call", self._aws)
        elif isinstance(store, FileStore):
            self.file_root = str(Path(store.root).resolve())
        return store

    def _aws(self, **_: Any) -> None:
        if self.active:
            self.by[self.who] += 1

    def _audit(self, name: str, args: tuple[Any, ...]) -> None:
        if not self.active or self.file_root is None or name not in FILE_EVENTS:
            return
        if name == "fcntl.flock" or (args and str(args[0]).startswith(self.file_root)):
            self.by[self.who] += 1


class CountedProgress(Progress):
    """`run`'s display, its own store reads counted as the display's (the listener runs inside the engine's save)."""

    requests: Requests

    def listen(self, op: Any, events: Any) -> None:
        with self.requests.as_("display"):
            super().listen(op, events)

    def update(self, result: StepResult) -> None:
        with self.requests.as_("display"):
            super().update(result)

    def tick(self) -> None:
        with self.requests.as_("display"):
            super().tick()

    def finish(self, result: StepResult) -> Any:
        with self.requests.as_("display"):
            return super().finish(result)


@dataclass
class Run:
    store: str
    operation: str
    readers: int
    advances: int = 0
    looks: int = 0
    old_looks: int = 0
    requests: Counter[str] = field(default_factory=Counter)


class Driver:
    """`run` in another process: one engine call each time one is due, with `run`'s display listening."""

    def __init__(self, engine: Engine, op_id: str, progress: Progress, requests: Requests) -> None:
        self.engine, self.op_id, self.progress, self.requests = engine, op_id, progress, requests
        self.due: datetime | None = engine.clock.now()
        self.advances = 0
        self.result: StepResult | None = None

    def call(self) -> None:
        with self.requests.as_("engine"):
            result = drive(self.engine, self.op_id, lambda _: None, self.progress, max_calls=1)
        self.advances += 1
        self.result = result
        if result.outcome is Outcome.INTERVENTION and (result.pause_reason or "").startswith("Paused before"):
            with self.requests.as_("engine"):
                self.engine.resume(self.op_id, "continue")
        elif result.outcome in (Outcome.COMPLETED, Outcome.FAILED, Outcome.INTERVENTION):
            self.due = None
            return
        wait = result.wait_seconds if result.outcome is Outcome.WAIT else 0
        conflict = bool(result.error and result.error.startswith("conflict"))
        self.due = self.engine.clock.now() + timedelta(seconds=1 if conflict else wait)


class OldWatcher:
    """`status --watch` before issue 14: load every interval, the whole event log when the version moved."""

    def __init__(self, store: StateStore, op_id: str, start: datetime, requests: Requests) -> None:
        self.store, self.op_id, self.requests = store, op_id, requests
        with requests.as_("before"):
            op = store.load(op_id)
            store.events(op_id)
        self.version, self.final = op.version, op.state.is_final
        self.due = start + timedelta(seconds=OLD_INTERVAL)
        self.looks = 0

    def look(self) -> None:
        with self.requests.as_("before"):
            op = self.store.load(self.op_id)
            if op.version != self.version:
                self.store.events(self.op_id)
        self.looks += 1
        self.version = op.version
        self.final = op.state.is_final or op.state.value == "paused"
        self.due += timedelta(seconds=OLD_INTERVAL)


class Timeline:
    """The watcher's clock: a sleep moves the virtual clock, making each engine call (and old look) due meanwhile."""

    def __init__(self, clock: VirtualClock, driver: Driver, old: OldWatcher | None) -> None:
        self.clock, self.driver, self.old = clock, driver, old
        self.sleeps = 0

    def now(self) -> datetime:
        return self.clock.now()

    def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        wake = self.clock.now() + timedelta(seconds=seconds)
        while True:
            due = [t for t in (self.driver.due, self._old_due()) if t is not None and t <= wake]
            if not due:
                break
            moment = min(due)
            if moment > self.clock.now():
                self.clock.advance((moment - self.clock.now()).total_seconds())
            if self.driver.due is not None and self.driver.due <= moment:
                self.driver.call()
            elif self.old is not None:
                self.old.look()
        if wake > self.clock.now():
            self.clock.advance((wake - self.clock.now()).total_seconds())

    def _old_due(self) -> datetime | None:
        return None if self.old is None or self.old.final else self.old.due

    def drain_old(self) -> None:
        """The old watcher's looks until it too sees the end (the new one has already stopped)."""
        while self.old is not None and not self.old.final:
            self.clock.advance(max((self.old.due - self.clock.now()).total_seconds(), 0))
            self.old.look()


def run_once(kind: str, operation: str, readers: int, workdir: Path, before: bool) -> Run:
    urls = {
        "file": f"file://{workdir / f'{kind}-{operation}-{readers}'}",
        "s3": "s3://rds-maint-bench/state",
        "dynamodb": "dynamodb://rds-maint-bench",
    }
    url = urls[kind]
    requests = Requests()
    tally = Run(kind, operation, readers)
    with mock_aws():
        clock = VirtualClock()
        with SimulatedAurora(clock=clock, region=REGION) as sim:
            sim.seed_cluster(CLUSTER, instance_class="db.r6g.large", readers=readers)
            init_store(url, REGION)
            factory = sim.clients(make_rds_client)

            def gateway(region: str) -> RdsGateway:
                return RdsGateway(factory(region), sleep=clock.sleep)

            engine = Engine(requests.attach(open_store(url, REGION)), gateway, clock)
            request = {"type": operation, "cluster_id": CLUSTER, "region": REGION, "params": OPERATIONS[operation]}
            op = engine.create(request)
            engine.start(op.id)

            progress = CountedProgress(engine, op.id)
            progress.requests = requests
            driver = Driver(engine, op.id, progress, requests)
            old = OldWatcher(requests.attach(open_store(url, REGION)), op.id, clock.now(), requests) if before else None
            timeline = Timeline(clock, driver, old)
            watcher_store = requests.attach(open_store(url, REGION))

            def engine_for(settings: Settings) -> Engine:
                return wiring.build_engine(settings, clock=timeline, client_factory=factory, store=watcher_store)

            requests.active = True
            with contextlib.redirect_stdout(io.StringIO()):
                watched = CliRunner().invoke(
                    main, ["status", op.id, "--watch", "--store", url], obj=Options(engine_factory=engine_for)
                )
                while driver.due is not None:  # the watch ends at a pause it cannot answer; the run goes on
                    clock.advance(max((driver.due - clock.now()).total_seconds(), 0))
                    driver.call()
                if driver.result is not None:
                    progress.finish(driver.result)
                timeline.drain_old()
            requests.active = False
            if watched.exit_code not in (0, 3) or driver.result is None:
                raise SystemExit(f"{kind} {operation} {readers}: the watch ended {watched.exit_code}: {watched.output}")
            if driver.result.outcome is not Outcome.COMPLETED:
                raise SystemExit(f"{kind} {operation} {readers}: ended {driver.result.outcome.value}")
            tally.advances = driver.advances
            tally.looks = timeline.sleeps
            tally.old_looks = old.looks if old is not None else 0
            tally.requests = requests.by
    return tally


def main_() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", action="store_true", help="also count the watcher as it was before issue 14")
    parser.add_argument("--stores", default=",".join(STORES), help="comma-separated: file,s3,dynamodb")
    parser.add_argument("--readers", default=",".join(map(str, READERS)), help="comma-separated reader counts")
    parser.add_argument("--operations", default=",".join(OPERATIONS), help="comma-separated operation types")
    args = parser.parse_args()
    runs: list[Run] = []
    with tempfile.TemporaryDirectory() as workdir:
        for kind in args.stores.split(","):
            for operation in args.operations.split(","):
                for readers in (int(n) for n in args.readers.split(",")):
                    runs.append(run_once(kind, operation, readers, Path(workdir), args.before))
                    print(f"  ... {kind} {operation} {readers} readers", file=sys.stderr)

    print("Store requests per advance: the engine's, run's display's and status --watch's (and their ratio)")
    print()
    old = f" {'before/adv':>10} {'before/eng':>10}" if args.before else ""
    header = (
        f"{'store':<9} {'operation':<21} {'N':>3} {'advances':>8} {'engine/adv':>10} {'run/adv':>8} "
        f"{'watch/adv':>9} {'looks':>6} {'run/eng':>8} {'watch/eng':>9}{old}"
    )
    print(header)
    print("-" * len(header))
    for r in runs:
        adv = r.advances
        engine = r.requests["engine"] / adv
        run, watch = r.requests["display"] / adv, r.requests["watch"] / adv
        line = (
            f"{r.store:<9} {r.operation:<21} {r.readers:>3} {adv:>8} {engine:>10.2f} {run:>8.3f} "
            f"{watch:>9.2f} {r.looks:>6} {run / engine:>8.3f} {watch / engine:>9.2f}"
        )
        if args.before:
            before = r.requests["before"] / adv
            line += f" {before:>10.2f} {before / engine:>10.2f}"
        print(line)
    print()
    print("run/adv: one load before the first save and one read of the event log for the summary, over the run.")
    print("watch/adv: every request of `status --watch` (its first follow included) over the engine's advances.")


if __name__ == "__main__":
    main_()
