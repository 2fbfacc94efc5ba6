"""Cold start of the real Lambda bundle, read-only as Lambda's /var/task is, against boto3 alone.

Why: issue 14's target is a cold start of the shipped bundle (read-only, first call included) within 1.5x
of `import boto3` plus creating the same clients with nothing else. Lambda's code directory is read-only,
so a bundle without bytecode for the runtime's Python compiles every module it imports on every cold
start; cmd/package_lambda.sh precompiles it for Python 3.12, and both cases are measured.

What runs: cmd/package_lambda.sh builds the bundle for this machine's architecture (pydantic-core is
compiled and must load here; the template's arm64 bundle differs only in that wheel), or --bundle names
one; it is copied twice to a temporary directory, once as built and once without any __pycache__, and
both are made read-only (`chmod -R a-w`). Each measurement is a fresh interpreter of the runtime's
version (the one package_lambda.sh would compile with; override with --python) started with
PYTHONDONTWRITEBYTECODE=1 and -s -S (no site-packages: only the bundle and the standard library, as on
Lambda). Two probes, on the same copies with the same flags:
- the handler: imports `rds_maint.lambda_handler`, then makes what its first invocation makes before it
  reaches AWS: the engine from the environment (`warm_engine`: the S3 state store and its client), the
  RDS gateway and client of the region (`Engine.rds`) and the status publisher's EventBridge client
  (status events are on by default; `wiring.events_client`);
- the baseline: `import boto3`, then `boto3.client` for the same three services with the same settings
  (retries, timeouts: read from the project's own constants, so they cannot drift apart).
No request is sent: the store URL and credentials are fake and nothing calls AWS. One more row runs the
handler's probe without AWS_LAMBDA_FUNCTION_NAME: outside Lambda the handler leaves the garbage collector
alone (`rds_maint.lambda_handler` holds it off through a Lambda cold start), so the difference is what
holding it off buys.

Runs alternate between the rows (run 1 of every row, then run 2...), so a change in the machine's load
hits every row alike. Each figure is the fastest and the median of --runs fresh processes: the time
inside the process (import, first-call clients), the process's CPU time, and the whole process's wall
time (interpreter start included, as Lambda's init is). The ratio is handler / baseline per column;
on a machine other processes share, the CPU column is the steadiest.

Then where the handler's extra time goes: `python -X importtime` of the handler's import in the
read-only copy with .pyc, each module's own time summed by package (the instrumentation inflates the
figures; the shares are what to read).
Plain table on stdout; `make bench` writes it to docs/cold-start.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_SCRIPT = ROOT / "cmd" / "package_lambda.sh"
LAMBDA_PYTHON = "3.12"

# Both probes time the same two spans: the import, then the clients of the first invocation. Wall time in the
# process (perf_counter) and CPU time (process_time, which other processes on a shared machine disturb less).
HANDLER_PROBE = """
import json, os, sys, time
t0, c0 = time.perf_counter(), time.process_time()
sys.path.insert(0, sys.argv[1])
import rds_maint.lambda_handler as lambda_handler
t1 = time.perf_counter()
from rds_maint.config import Settings
from rds_maint.wiring import events_client
settings = Settings.from_env()
engine = lambda_handler.warm_engine(settings)  # the engine and its S3 state store client
engine.rds(settings.region)  # the RDS gateway and client a step or a create makes for the region
events_client(settings.region, settings.profile)  # the status publisher's, made at the first save
t2, c2 = time.perf_counter(), time.process_time()
print(json.dumps({"import_ms": (t1 - t0) * 1e3, "first_call_ms": (t2 - t1) * 1e3, "cpu_ms": (c2 - c0) * 1e3}))
"""

# The same clients with the same settings (passed in as JSON by `client_settings`), from boto3 alone.
BASELINE_PROBE = """
import json, os, sys, time
t0, c0 = time.perf_counter(), time.process_time()
sys.path.insert(0, sys.argv[1])
import boto3
t1 = time.perf_counter()
from botocore.config import Config
for service, settings in json.loads(sys.argv[2]).items():
    boto3.client(service, region_name=os.environ["AWS_REGION"], config=Config(**settings))
t2, c2 = time.perf_counter(), time.process_time()
print(json.dumps({"import_ms": (t1 - t0) * 1e3, "first_call_ms": (t2 - t1) * 1e3, "cpu_ms": (c2 - c0) * 1e3}))
"""

NOT_LAMBDA = ("AWS_LAMBDA_FUNCTION_NAME",)

READING = """
Reading: the handler's import is now pydantic and the model (the operation, its steps and events), structlog
(which imports asyncio), and the engine core; no step kind, no action, no plan and no planner. The action
registry (`rds_maint.actions.ACTIONS`, its entries in `SOURCES`) imports a step's action, and with it that
step kind's module, on the first lookup of its name; the planner (`rds_maint.planning`) and the plans
(`rds_maint.plans`, their builders and unwinders in `rds_maint.plans.registry`) are imported by a create, an
answer that unwinds, or a person's request, and re-exported lazily so that importing one of their modules
(`planning.estimate`, `plans.rollback`) does not import them all. The boto3 side (its import, the three
clients, their service models) is the baseline's too: one SDK session serves the three clients
(`rds_maint.credentials.session`); the handler's "first-call clients" column is larger because boto3 itself
is imported there (by `rds_maint.rds` through the wiring), where the baseline counts it under "import".
"""

IMPORT_ONLY_PROBE = """
import sys
sys.path.insert(0, sys.argv[1])
import rds_maint.lambda_handler
"""

FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_LAMBDA_FUNCTION_NAME": "rds-maint-engine",
    "RDS_MAINT_STORE": "s3://rds-maint-bench/rds-maint",
    "PYTHONDONTWRITEBYTECODE": "1",
}


def version_of(python: str) -> str:
    out = subprocess.run(
        [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=False,
    )
    return out.stdout.strip()


def find_runtime_python() -> str | None:
    """The interpreter package_lambda.sh would compile with: LAMBDA_COMPILER, python3.12, pyenv's 3.12."""
    candidates = [os.environ.get("LAMBDA_COMPILER", ""), shutil.which(f"python{LAMBDA_PYTHON}") or ""]
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates += [str(p) for p in sorted(pyenv_root.glob(f"versions/{LAMBDA_PYTHON}.*/bin/python{LAMBDA_PYTHON}"))]
    for candidate in candidates:
        if candidate and Path(candidate).exists() and version_of(candidate) == LAMBDA_PYTHON:
            return candidate
    return None


def host_arch() -> str:
    """The bundle must load here: pydantic-core is compiled, so it is built for this machine's architecture."""
    return {"aarch64": "arm64", "arm64": "arm64"}.get(platform.machine(), "x86_64")


def build_bundle(into: Path) -> Path:
    env = {**os.environ, "BUILD_DIR": str(into), "LAMBDA_ARCH": host_arch()}
    subprocess.run(["bash", str(PACKAGE_SCRIPT)], check=True, env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
    return into


def read_only_copy(bundle: Path, into: Path, keep_pyc: bool) -> Path:
    ignore = None if keep_pyc else shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(bundle, into, ignore=ignore)
    subprocess.run(["chmod", "-R", "a-w", str(into)], check=True)
    return into


def count_pyc(bundle: Path) -> int:
    return sum(1 for _ in bundle.rglob("*.pyc"))


def client_settings() -> dict[str, dict[str, Any]]:
    """The `botocore.config.Config` keywords of each client the handler's first call makes, from the project's
    own constants: the RDS client (`rds.make_rds_client`), the S3 store's (`store.aws.CLIENT_CONFIG`) and the
    status publisher's (`wiring.EVENTS_CLIENT_SETTINGS`)."""
    sys.path.insert(0, str(ROOT))
    from rds_maint.retry import SDK_RETRIES
    from rds_maint.store.aws import CLIENT_CONFIG
    from rds_maint.wiring import EVENTS_CLIENT_SETTINGS

    # Config's options are attributes botocore sets at run time (no static types): read them by name.
    store = {name: getattr(CLIENT_CONFIG, name) for name in ("retries", "connect_timeout", "read_timeout")}
    return {"s3": store, "rds": {"retries": dict(SDK_RETRIES)}, "events": dict(EVENTS_CLIENT_SETTINGS)}


@dataclass
class Row:
    what: str
    bytecode: str
    probe: str
    bundle: Path
    extra: list[str] = field(default_factory=list)
    unset: tuple[str, ...] = ()  # FAKE_ENV variables this row runs without
    samples: list[dict[str, float]] = field(default_factory=list)

    def run_once(self, python: str) -> None:
        started = time.perf_counter()
        out = subprocess.run(
            [python, "-s", "-S", "-c", self.probe, str(self.bundle), *self.extra],
            capture_output=True,
            text=True,
            check=False,
            env={"PATH": os.environ.get("PATH", ""), **{k: v for k, v in FAKE_ENV.items() if k not in self.unset}},
            cwd=self.bundle,
        )
        wall = (time.perf_counter() - started) * 1e3
        if out.returncode != 0:
            raise SystemExit(f"probe failed in {self.bundle}:\n{out.stderr}")
        sample: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
        sample["in_process_ms"] = sample["import_ms"] + sample["first_call_ms"]
        sample["wall_ms"] = wall
        self.samples.append(sample)

    def fastest(self, key: str) -> float:
        # The fastest run is the least disturbed by the other processes on the machine (a cold start here
        # shares the CPU; on Lambda it has its own): each column is its own minimum.
        return min(s[key] for s in self.samples)

    def median(self, key: str) -> float:
        return statistics.median(s[key] for s in self.samples)

    def cell(self, key: str) -> str:
        return f"{self.fastest(key):.0f} / {self.median(key):.0f}"


def ratio_cell(handler: Row, baseline: Row, key: str) -> str:
    return f"{handler.fastest(key) / baseline.fastest(key):.2f} / {handler.median(key) / baseline.median(key):.2f}"


def group_of(module: str) -> str:
    """rds_maint by subpackage (rds_maint.actions, rds_maint.model...), everything else by top-level package."""
    parts = module.split(".")
    if parts[0] == "rds_maint" and len(parts) > 1:
        return ".".join(parts[:2])
    return parts[0]


def import_breakdown(python: str, bundle: Path, runs: int) -> list[tuple[str, float, int]]:
    """(group, median of its summed self time in microseconds, modules) for the handler's import."""
    per_run: list[dict[str, int]] = []
    counts: dict[str, int] = {}
    for _ in range(runs):
        out = subprocess.run(
            [python, "-s", "-S", "-X", "importtime", "-c", IMPORT_ONLY_PROBE, str(bundle)],
            capture_output=True,
            text=True,
            check=True,
            env={"PATH": os.environ.get("PATH", ""), **FAKE_ENV},
            cwd=bundle,
        )
        totals: dict[str, int] = {}
        counts = {}
        for line in out.stderr.splitlines():
            if not line.startswith("import time:") or "self [us]" in line:
                continue
            self_us, _, name = line.removeprefix("import time:").split("|")
            group = group_of(name.strip())
            totals[group] = totals.get(group, 0) + int(self_us)
            counts[group] = counts.get(group, 0) + 1
        per_run.append(totals)
    groups = {g for run in per_run for g in run}
    rows = [(g, statistics.median(run.get(g, 0) for run in per_run), counts.get(g, 0)) for g in groups]
    return sorted(rows, key=lambda r: -r[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--bundle", type=Path, help="an existing bundle for this machine's architecture (default: build one)"
    )
    parser.add_argument("--python", help=f"the interpreter to start (default: Python {LAMBDA_PYTHON}, as the runtime)")
    parser.add_argument("--runs", type=int, default=15, help="fresh processes per row (fastest and median shown)")
    parser.add_argument("--top", type=int, default=14, help="packages shown in the import breakdown")
    args = parser.parse_args()
    python = args.python or find_runtime_python()
    if python is None:
        python = sys.executable
        print(f"WARNING: no Python {LAMBDA_PYTHON} found: {python} ignores the bundle's cpython-312 .pyc\n")
    clients = json.dumps(client_settings())
    with tempfile.TemporaryDirectory(prefix="rds-maint-cold-start-") as tmp:
        work = Path(tmp)
        bundle = args.bundle or build_bundle(work / "built")
        with_pyc = read_only_copy(bundle, work / "with-pyc", keep_pyc=True)
        without_pyc = read_only_copy(bundle, work / "without-pyc", keep_pyc=False)
        handler_what, baseline_what = "handler + first-call clients", "import boto3 + the same clients"
        rows = [
            Row(handler_what, "with .pyc", HANDLER_PROBE, with_pyc),
            Row(baseline_what, "with .pyc", BASELINE_PROBE, with_pyc, [clients]),
            Row(handler_what, "no .pyc", HANDLER_PROBE, without_pyc),
            Row(baseline_what, "no .pyc", BASELINE_PROBE, without_pyc, [clients]),
            # Outside Lambda the handler leaves the garbage collector alone: what holding it off buys.
            Row(f"{handler_what}, collector not held", "with .pyc", HANDLER_PROBE, with_pyc, [], NOT_LAMBDA),
        ]
        for _ in range(args.runs):
            for row in rows:
                row.run_once(python)
        breakdown = import_breakdown(python, with_pyc, max(3, args.runs // 5))
        pyc_files = count_pyc(with_pyc)
        subprocess.run(["chmod", "-R", "u+w", str(work)], check=True)  # so the temporary directory can go
    print("# Lambda bundle cold start (bench/cold_start.py)\n")
    print(
        f"Bundle: {'given' if args.bundle else 'built by cmd/package_lambda.sh for ' + host_arch()}, "
        f"{pyc_files} .pyc files; copies read-only (chmod -R a-w), PYTHONDONTWRITEBYTECODE=1, -s -S, "
        f"interpreter {python} (Python {version_of(python)}); {args.runs} fresh processes per row, alternating "
        "between the rows. The first call's clients: the engine with its S3 state store client, the RDS "
        "client, the status publisher's EventBridge client (no request sent); the baseline makes the same "
        "three with the same settings from `import boto3` alone.\n"
    )
    print("Each cell: fastest / median (ms).\n")
    print("| what | bytecode | import | first-call clients | in process | CPU in process | process wall |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for row in rows:
        cells = [row.cell(k) for k in ("import_ms", "first_call_ms", "in_process_ms", "cpu_ms", "wall_ms")]
        print(f"| {row.what} | {row.bytecode} | " + " | ".join(cells) + " |")
    print("\nHandler / baseline, fastest / median (target: at most 1.5):\n")
    print("| bytecode | in process | CPU in process | process wall |")
    print("|---|---:|---:|---:|")
    for handler, baseline in ((rows[0], rows[1]), (rows[2], rows[3])):
        cells = [ratio_cell(handler, baseline, k) for k in ("in_process_ms", "cpu_ms", "wall_ms")]
        print(f"| {handler.bytecode} | " + " | ".join(cells) + " |")
    total = sum(us for _, us, _ in breakdown) or 1
    print(
        "\nWhere the handler's import goes (`-X importtime`, with .pyc, read-only; each module's own time "
        "summed by package, median of runs; inflated by the instrumentation):\n"
    )
    print("| package | modules | self time (ms) | share |")
    print("|---|---:|---:|---:|")
    for group, us, count in breakdown[: args.top]:
        print(f"| {group} | {count} | {us / 1e3:.0f} | {100 * us / total:.0f}% |")
    rest = breakdown[args.top :]
    if rest:
        rest_us, rest_modules = sum(us for _, us, _ in rest), sum(c for _, _, c in rest)
        print(f"| {len(rest)} others | {rest_modules} | {rest_us / 1e3:.0f} | {100 * rest_us / total:.0f}% |")
    print(READING)


if __name__ == "__main__":
    main()
