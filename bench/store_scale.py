"""What `list`, `status` and one `advance` cost as a store grows: 100, 1,000 and 10,000 operations.

Plain script, no assertions: it prints markdown tables (`make bench` writes them to docs/store-scale.md).

The store holds operations on 50 Aurora clusters and 5 DB instances, built from real records: one
instance_type_change on a simulated cluster and one on a simulated DB instance run through the engine,
and every operation seeded is a copy of one of their saved versions under a new id, target, state and
times (35 active: 20 running at a waiting step, 10 paused, 5 created; the rest completed, failed or
rolled back, as history piles up). A probe cluster has exactly four operations at every size: three
seeded final ones and a real one, created, started and advanced by the engine on the simulator until
it waits. So `list --cluster PROBE` asks for the same four rows whatever the size: its cost should not
grow with the other clusters' operations (issue 14's target), and `list --state paused` the same ten.

Measured, on each store (file; S3 and DynamoDB on moto) and size:

* `list`, `list --cluster PROBE`, `list --state paused`, `status PROBE-OP`: the CLI in process (click's
  CliRunner), each with a store opened for it, as a new process does;
* `advance`: one engine advance of the probe's waiting step (a look at AWS and a save; the simulator
  answers), with a new store object, as a Lambda invocation does.

What is counted (bench/store_meter.py): store requests, request and reply bytes (bodies). Wall time and
memory are reported for the file store only: on S3 and DynamoDB the time is moto's CPU (it deep-copies
tables, parses every body), not the store's. Times are the median and spread (min-max) of `--runs` runs;
memory is the tracemalloc peak of one more run, and the peak RSS of a real `rds-maint list` process
(a child Python: interpreter, imports and the listing; its wall time includes the start).

Seeding goes through each store's own `create`. moto backs up every table a DynamoDB transaction writes
to with a deep copy (to roll it back on failure), which makes each TransactWriteItems cost the whole
table's size in CPU; the bench skips that backup (no write of the bench fails: every id is new).
Requests and bytes are what the store sends, whatever moto does with them.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import botocore.loaders
import botocore.session
from click.testing import CliRunner, Result
from moto import mock_aws
from scenarios import table
from store_meter import StoreMeter

from rds_maint import wiring
from rds_maint.cli import Options, main
from rds_maint.config import Settings
from rds_maint.engine import Engine
from rds_maint.model import Event, Operation, OperationState, Outcome, Step, StepState
from rds_maint.rds import RdsGateway, make_rds_client
from rds_maint.store import FileStore, StateStore, init_store, open_store
from rds_sim import SimulatedAurora, VirtualClock

REGION = "us-east-1"
SIZES = (100, 1000, 10000)
STORES = ("file", "s3", "dynamodb")
CLUSTERS = tuple(f"fleet-{n:02d}" for n in range(1, 51))
INSTANCES = tuple(f"fleetdb-{n}" for n in range(1, 6))
TARGETS: tuple[tuple[str, str], ...] = (
    *(("cluster", c) for c in CLUSTERS),
    *(("instance", i) for i in INSTANCES),
)
ACTIVE = {"running": 20, "paused": 10, "created": 5}  # the first seeded operations, on distinct targets
PROBE_SEEDED = 3  # final operations of the probe cluster, besides its real one
EPOCH = datetime(2025, 1, 6, 8, 0, tzinfo=UTC)
SEED = 14
MIB = 1024 * 1024


# -- realistic records ----------------------------------------------------------------------------


@dataclass
class Template:
    """Saved versions of one real operation, each with the events saved up to it."""

    created: tuple[Operation, list[Event]]
    waiting: tuple[Operation, list[Event]]
    middle: tuple[Operation, list[Event]]
    final: tuple[Operation, list[Event]]


class AttemptKind:
    """The engine's on_attempt: whether the last advance ran an action, checked one, or neither."""

    def __init__(self) -> None:
        self.kind = "other"

    def __call__(self, operation: Operation, step: Step, kind: str) -> None:
        self.kind = kind


def gateways(sim: SimulatedAurora, clock: VirtualClock) -> Callable[[str], RdsGateway]:
    factory = sim.clients(make_rds_client)
    return lambda region: RdsGateway(factory(region), sleep=clock.sleep)


def record(sim: SimulatedAurora, clock: VirtualClock, request: dict[str, Any], op_id: str, where: Path) -> Template:
    """Run one operation to its end on the simulator (file store), keeping its versions on the way."""
    store = FileStore(where)
    engine = Engine(store, gateways(sim, clock), clock)
    op = engine.create_from_preview(engine.preview(request, operation_id=op_id))
    versions = [(store.load(op.id), store.events(op.id))]
    engine.start(op.id)
    for _ in range(400):
        result = engine.advance(op.id)
        versions.append((store.load(op.id), store.events(op.id)))
        if result.outcome is Outcome.WAIT:
            clock.sleep(result.wait_seconds)
        elif result.outcome is not Outcome.CONTINUE:
            break
    waiting = next(
        (v for v in versions if v[0].current_step and v[0].current_step.state is StepState.WAITING), versions[1]
    )
    return Template(versions[0], waiting, versions[len(versions) // 2], versions[-1])


def templates(sim: SimulatedAurora, clock: VirtualClock, where: Path) -> dict[str, Template]:
    sim.seed_cluster("tmpl-aurora", instance_class="db.r6g.large", readers=2)
    sim.seed_db_instance("tmpl-db", instance_class="db.m6g.large")
    cluster = {
        "type": "instance_type_change",
        "cluster_id": "tmpl-aurora",
        "region": REGION,
        "params": {"target_instance_type": "db.r6g.xlarge"},
    }
    instance = {
        "type": "instance_type_change",
        "instance_id": "tmpl-db",
        "region": REGION,
        "params": {"target_instance_type": "db.m6g.xlarge"},
    }
    return {
        "cluster": record(sim, clock, cluster, "tmpl-aurora-20250101-000000-000001", where / "aurora"),
        "instance": record(sim, clock, instance, "tmpl-db-20250101-000000-000002", where / "db"),
    }


def state_of(index: int, rng: random.Random) -> str:
    """Which state seeded operation `index` is in: the first ones active, the rest history."""
    bound = 0
    for state, count in ACTIVE.items():
        bound += count
        if index < bound:
            return state
    draw = rng.random()
    return "completed" if draw < 0.90 else "failed" if draw < 0.96 else "rolled_back"


def copy_of(
    template: Template, state: str, op_id: str, kind: str, target: str, created: datetime
) -> tuple[Operation, list[Event]]:
    """A copy of a template's version under a new id, target, state and times, with its creation events."""
    version = {
        "created": template.created,
        "running": template.waiting,
        "paused": template.middle,
        "completed": template.final,
        "failed": template.middle,
        "rolled_back": template.middle,
    }[state][0]
    ended = state in ("completed", "failed", "rolled_back")
    took = timedelta(minutes=40)
    update: dict[str, Any] = {
        "id": op_id,
        "cluster_id": target if kind == "cluster" else None,
        "instance_id": target if kind == "instance" else None,
        "state": OperationState(state),
        "created_at": created,
        "updated_at": created + (took if ended else timedelta(minutes=5)),
        "started_at": None if state == "created" else created + timedelta(seconds=30),
        "completed_at": created + took if ended else None,
        "version": 0,
        "error": "bench: the writer did not come back" if state == "failed" else None,
        "pause_reason": "bench: waiting for a person" if state == "paused" else None,
        "intervention": None,
        "pause_requested": None,
    }
    operation = version.model_copy(update=update, deep=True)
    events = [
        e.model_copy(update={"id": f"{op_id}-e{n}", "operation_id": op_id, "timestamp": created})
        for n, e in enumerate(template.created[1])
    ]
    return operation, events


def seeded(index: int, probe: str, tmpl: dict[str, Template]) -> tuple[Operation, list[Event]]:
    """Seeded operation `index` (fixed by the index alone: same ids, targets and states every run)."""
    rng = random.Random(SEED * 1_000_003 + index)
    created = EPOCH + timedelta(minutes=10 * index)
    if index < PROBE_SEEDED:
        kind, target, state = "cluster", probe, ("completed", "failed", "completed")[index]
    else:
        number = index - PROBE_SEEDED
        kind, target = TARGETS[number % len(TARGETS)]
        state = state_of(number, rng)
    op_id = f"{target}-{created:%Y%m%d-%H%M%S}-{index:06x}"
    return copy_of(tmpl[kind], state, op_id, kind, target, created)


# -- measuring ------------------------------------------------------------------------------------


@dataclass
class Figure:
    """One command at one size on one store."""

    rows: int = 0
    requests: int = 0
    bytes_out: int = 0
    bytes_in: int = 0
    by_api: Counter[str] = field(default_factory=Counter)
    seconds: list[float] = field(default_factory=list)
    peak: int = 0  # tracemalloc peak, bytes
    note: str = ""


def spread(values: Sequence[float], scale: float = 1.0, digits: int = 3) -> str:
    """`median [min-max]` of a series, scaled (e.g. seconds to ms)."""
    if not values:
        return "-"
    scaled = [v * scale for v in values]
    return f"{statistics.median(scaled):.{digits}f} [{min(scaled):.{digits}f}-{max(scaled):.{digits}f}]"


def constant(values: Sequence[int]) -> str:
    """Whether a count stayed the same at every size ("-": fewer than two sizes to tell)."""
    if len(values) < 2:
        return "-"
    return "yes" if len(set(values)) == 1 else "no"


def list_rows(output: str) -> int:
    """How many operations a `list` table shows (its lines after the header)."""
    lines = [line for line in output.splitlines() if line.strip()]
    if not lines or lines[0].startswith("No operations"):
        return 0
    return len(lines) - 1


@dataclass
class Bench:
    kind: str
    url: str
    sim: SimulatedAurora
    clock: VirtualClock
    meter: StoreMeter
    probe: str = ""
    probe_op: str = ""

    def store(self) -> StateStore:
        store = open_store(self.url, REGION)
        self.meter.watch(store)
        return store

    def engine_for(self, settings: Settings) -> Engine:
        factory = self.sim.clients(make_rds_client)
        return wiring.build_engine(settings, clock=self.clock, client_factory=factory, store=self.store())

    def cli(self, args: Sequence[str]) -> Result:
        options = Options(engine_factory=self.engine_for)
        result = CliRunner().invoke(main, [*args, "--store", self.url, "--region", REGION], obj=options)
        if result.exit_code != 0:
            raise SystemExit(f"{self.kind}: rds-maint {' '.join(args)} exited {result.exit_code}:\n{result.output}")
        return result

    def advance(self) -> None:
        attempt = AttemptKind()
        engine = Engine(self.store(), gateways(self.sim, self.clock), self.clock, on_attempt=attempt)
        result = engine.advance(self.probe_op)
        if result.outcome is not Outcome.WAIT or attempt.kind != "check":
            raise SystemExit(f"{self.kind}: the probe's advance was a {attempt.kind} ending {result.outcome.value}")


def measured(bench: Bench, call: Callable[[], Any], runs: int) -> Figure:
    """Requests and bytes of one call; for the file store also its time over `runs` runs and its peak memory."""
    figure = Figure()
    bench.meter.start()
    try:
        outcome = call()
    finally:
        bench.meter.stop()
    figure.requests = bench.meter.total
    figure.bytes_out, figure.bytes_in = bench.meter.bytes_out, bench.meter.bytes_in
    figure.by_api = Counter(bench.meter.requests)
    if isinstance(outcome, Result):
        figure.rows = list_rows(outcome.output)
    if bench.kind == "file":
        for _ in range(runs):
            started = time.perf_counter()
            call()
            figure.seconds.append(time.perf_counter() - started)
        tracemalloc.start()
        try:
            call()
            figure.peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    return figure


# Peak RSS from /proc (VmHWM, this process's own): ru_maxrss of a process started by a large parent
# carries the parent's size from before exec (Linux copies the high-water mark across exec).
CHILD = """
import contextlib, io, json, sys, time
def hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0
started = time.perf_counter()
from rds_maint.cli import main
imported = hwm()
with contextlib.redirect_stdout(io.StringIO()) as out:
    try:
        main.main(sys.argv[1:], standalone_mode=False)
    except SystemExit:
        pass
peak = hwm()
print(json.dumps({"seconds": time.perf_counter() - started, "imported_kib": imported, "peak_kib": peak,
                  "lines": len(out.getvalue().splitlines())}))
"""


@dataclass
class Process:
    """A real `rds-maint list` on the file store, in a process of its own."""

    seconds: list[float] = field(default_factory=list)
    imported_kib: int = 0
    peak_kib: int = 0
    lines: int = 0


BySize = dict[int, tuple[dict[str, Figure], Process | None]]


def child_list(url: str, runs: int) -> Process:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "RDS_MAINT_"))}
    env.update(
        {
            "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
            "AWS_EC2_METADATA_DISABLED": "true",
        }
    )
    found = Process()
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-c", CHILD, "list", "--store", url, "--region", REGION],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        data = json.loads(done.stdout.strip().splitlines()[-1])
        found.seconds.append(float(data["seconds"]))
        found.imported_kib = max(found.imported_kib, int(data["imported_kib"]))
        found.peak_kib = max(found.peak_kib, int(data["peak_kib"]))
        found.lines = int(data["lines"])
    return found


@contextlib.contextmanager
def no_table_backups() -> Iterator[None]:
    """moto's TransactWriteItems deep-copies each table it writes to (its rollback); skip that copy."""
    import moto.dynamodb.models as models
    from moto.dynamodb.models.table import Table

    class _Copy:
        @staticmethod
        def deepcopy(value: Any, memo: Any = None) -> Any:
            return value if isinstance(value, Table) else copy.deepcopy(value, memo)

    with mock.patch.object(models, "copy", _Copy()):
        yield


@contextlib.contextmanager
def one_botocore_loader() -> Iterator[None]:
    """Speed only, as the tests do: each new client would parse the service models again (~0.1 s)."""
    loader = botocore.loaders.Loader()
    with mock.patch.object(botocore.session, "create_loader", lambda *_args: loader):
        yield


def moto_seconds(history: Sequence[tuple[int, float]], size: int) -> float:
    """What a command should take on moto at `size`, from its times at smaller sizes: grown with the exponent
    seen between the last two (between 1 and 2: moto pages a DynamoDB query by going through the whole
    index each page, which is quadratic), or linearly from a single one."""
    if not history:
        return 0.0
    last_size, last_seconds = history[-1]
    exponent = 1.0
    if len(history) > 1:
        before_size, before_seconds = history[-2]
        if before_seconds > 0 and last_seconds > 0 and last_size > before_size:
            exponent = math.log(last_seconds / before_seconds) / math.log(last_size / before_size)
    return float(last_seconds * (size / last_size) ** min(2.0, max(1.0, exponent)))


COMMANDS = ("list", "list --cluster PROBE", "list --state paused", "status OP", "advance")


def run_store(
    kind: str,
    sizes: Sequence[int],
    runs: int,
    workdir: Path,
    tmpl: dict[str, Template],
    sim: SimulatedAurora,
    clock: VirtualClock,
    budget: float,
) -> BySize:
    urls = {
        "file": f"file://{workdir / 'scale-file'}",
        "s3": "s3://rds-maint-bench-scale/state",
        "dynamodb": "dynamodb://rds-maint-bench-scale",
    }
    bench = Bench(kind, urls[kind], sim, clock, StoreMeter())
    init_store(bench.url, REGION)
    bench.probe = f"probe-{kind}"
    sim.seed_cluster(bench.probe, instance_class="db.r6g.large", readers=2)
    engine = Engine(open_store(bench.url, REGION), gateways(sim, clock), clock)
    request = {
        "type": "instance_type_change",
        "cluster_id": bench.probe,
        "region": REGION,
        "params": {"target_instance_type": "db.r6g.xlarge"},
    }
    bench.probe_op = f"{bench.probe}-20260101-000000-probe0"
    engine.create_from_preview(engine.preview(request, operation_id=bench.probe_op))
    engine.start(bench.probe_op)
    attempt = AttemptKind()
    engine.on_attempt = attempt
    for _ in range(40):
        result = engine.advance(bench.probe_op)
        if result.outcome is Outcome.WAIT and attempt.kind in ("run", "check"):
            break
    else:
        raise SystemExit(f"{kind}: the probe operation never waited")
    # One look more, so that each measured advance is the steady look at a waiting step (the first one after
    # the action also writes out the action's events: S3 one more PutObject).
    engine.advance(bench.probe_op)

    store = open_store(bench.url, REGION)
    made = 1
    history: dict[str, list[tuple[int, float]]] = {}
    out: BySize = {}
    for size in sorted(sizes):
        started = time.perf_counter()
        while made < size:
            operation, events = seeded(made - 1, bench.probe, tmpl)
            store.create(operation, events)
            made += 1
        seeding = time.perf_counter() - started
        print(f"# {kind}: {size} operations seeded ({seeding:.0f} s)", file=sys.stderr, flush=True)
        calls: dict[str, Callable[[], Any]] = {
            "list": lambda: bench.cli(["list"]),
            "list --cluster PROBE": lambda: bench.cli(["list", "--cluster", bench.probe]),
            "list --state paused": lambda: bench.cli(["list", "--state", "paused"]),
            "status OP": lambda: bench.cli(["status", bench.probe_op]),
            "advance": bench.advance,
        }
        figures: dict[str, Figure] = {}
        for command, call in calls.items():
            expected = moto_seconds(history.get(command, []), size) if kind != "file" else 0.0
            if expected > budget:
                figures[command] = Figure(note=f"not run (~{expected:.0f} s of moto CPU expected)")
                print(f"#   {command}: skipped, ~{expected:.0f} s expected", file=sys.stderr, flush=True)
                continue
            started = time.perf_counter()
            figures[command] = measured(bench, call, runs)
            took = time.perf_counter() - started
            history.setdefault(command, []).append((size, took))
            print(f"#   {command}: {took:.1f} s", file=sys.stderr, flush=True)
        process = child_list(bench.url, runs) if kind == "file" else None
        out[size] = (figures, process)
    return out


# -- tables ---------------------------------------------------------------------------------------


def kib(value: int) -> str:
    return f"{value / 1024:,.1f}"


def render_head(runs: int) -> str:
    lines = [
        "# Store cost by store size: list, status, advance",
        "",
        f"{len(CLUSTERS)} clusters and {len(INSTANCES)} DB instances, 35 active operations, the rest history; a",
        "probe cluster with 4 operations at every size. Requests and bytes (bodies, KiB) are what the store",
        f"sends and receives; `rows` is what the command showed. File store times: median [min-max] of {runs} runs.",
        "",
    ]
    return "\n".join(lines)


def render_store(kind: str, by_size: BySize) -> str:
    lines: list[str] = []
    lines.append(f"## {kind}")
    lines.append("")
    header = ["command", "operations", "rows", "requests", "KiB sent", "KiB received"]
    if kind == "file":
        header += ["ms median [min-max]", "tracemalloc peak MiB"]
    rows = [header]
    for command in COMMANDS:
        for size, (figures, _) in by_size.items():
            f = figures[command]
            if f.note:
                rows.append([command, f"{size:,}", f.note] + [""] * (len(header) - 3))
                continue
            row = [command, f"{size:,}", str(f.rows) if command.startswith("list") else "-", f"{f.requests:,}"]
            row += [kib(f.bytes_out), kib(f.bytes_in)]
            if kind == "file":
                row += [spread(f.seconds, 1000, 1), f"{f.peak / MIB:.1f}"]
            rows.append(row)
    lines.append(table(rows))
    lines.append("")
    lines.append("Requests by kind, at the largest size each command ran at:")
    lines.append("")
    for command in COMMANDS:
        ran = [size for size, (figures, _) in by_size.items() if not figures[command].note]
        if not ran:
            continue
        parts = ", ".join(f"{n} {c:,}" for n, c in sorted(by_size[max(ran)][0][command].by_api.items()))
        lines.append(f"- `{command}` ({max(ran):,}): {parts or 'none'}")
    lines.append("")
    processes = [(size, p) for size, (_, p) in by_size.items() if p is not None]
    if processes:
        lines.append("A real `rds-maint list` process on the file store (interpreter start, imports, the listing):")
        lines.append("")
        prows = [["operations", "s median [min-max]", "RSS after imports MiB", "peak RSS MiB", "lines"]]
        for size, p in processes:
            hwm, imported = f"{p.peak_kib / 1024:.0f}", f"{p.imported_kib / 1024:.0f}"
            prows.append([f"{size:,}", spread(p.seconds, 1, 2), imported, hwm, str(p.lines)])
        lines.append(table(prows))
        lines.append("")
    return "\n".join(lines)


def render_targets(results: dict[str, BySize]) -> str:
    lines: list[str] = []
    lines.append("## Targets (issue 14)")
    lines.append("")
    trows = [["store", "what", "at each size", "target", "met"]]
    for kind, by_size in results.items():
        for command, target in (("list --cluster PROBE", "constant"), ("list --state paused", "(none)")):
            done = [(size, figures[command]) for size, (figures, _) in by_size.items() if not figures[command].note]
            counts = [f.requests for _, f in done]
            sizes = "/".join(f"{size:,}" for size, _ in done)
            trows.append(
                [kind, f"`{command}` requests ({sizes})", " / ".join(map(str, counts)), target, constant(counts)]
            )
        if kind == "file" and 10000 in by_size:
            figures, process = by_size[10000]
            median = statistics.median(figures["list"].seconds)
            trows.append([kind, "`list` of 10,000, in process, s", f"{median:.2f}", "< 0.5", _yes(median < 0.5)])
            peak = figures["list"].peak / MIB
            trows.append([kind, "`list` of 10,000, tracemalloc peak, MiB", f"{peak:.1f}", "< 64", _yes(peak < 64)])
            if process is not None:
                grown = (process.peak_kib - process.imported_kib) / 1024
                trows.append(
                    [kind, "`list` process, RSS growth past imports, MiB", f"{grown:.0f}", "< 64", _yes(grown < 64)]
                )
                whole = statistics.median(process.seconds)
                # the whole process holds the interpreter's start and the imports, which no store change shortens
                trows.append([kind, "`list` process, whole run (start included), s", f"{whole:.2f}", "-", "-"])
    lines.append(table(trows))
    return "\n".join(lines)


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def main_(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="store sizes, comma separated")
    parser.add_argument("--stores", default=",".join(STORES), help="file, s3, dynamodb (comma separated)")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per figure (file store)")
    parser.add_argument(
        "--budget",
        type=float,
        default=300.0,
        help="on moto, skip a command whose wall time, grown from the smaller sizes (moto_seconds), would pass "
        "this many seconds (moto answers a paged DynamoDB query in time quadratic in the table's size)",
    )
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    if any(s < 1 + PROBE_SEEDED + sum(ACTIVE.values()) for s in sizes):
        parser.error(f"each size must be at least {1 + PROBE_SEEDED + sum(ACTIVE.values())}")
    kinds = [k for k in args.stores.split(",") if k]
    unknown = sorted(set(kinds) - set(STORES))
    if unknown:
        parser.error(f"unknown store kinds {unknown}: use {', '.join(STORES)}")
    started = time.perf_counter()
    results: dict[str, BySize] = {}
    with tempfile.TemporaryDirectory() as workdir, one_botocore_loader(), mock_aws(), no_table_backups():
        clock = VirtualClock(EPOCH - timedelta(days=30))
        with SimulatedAurora(clock=clock, region=REGION) as sim:
            tmpl = templates(sim, clock, Path(workdir) / "templates")
            print(render_head(args.runs), flush=True)
            for kind in kinds:
                results[kind] = run_store(kind, sizes, args.runs, Path(workdir), tmpl, sim, clock, args.budget)
                print(render_store(kind, results[kind]), flush=True)
    print(render_targets(results))
    print(f"\n(the script ran {time.perf_counter() - started:.0f} s)")


if __name__ == "__main__":
    main_()
