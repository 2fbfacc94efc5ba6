"""Cold start of the real Lambda bundle, read-only as Lambda's /var/task is, with and without .pyc.

Why: Lambda's code directory is read-only, so a bundle without bytecode for the runtime's Python
compiles every module it imports on every cold start, and nothing is cached for the next one.
cmd/package_lambda.sh precompiles the bundle for Python 3.12; this measures what that buys.

What runs: cmd/package_lambda.sh builds the bundle for this machine's architecture (pydantic-core is
compiled and must load here; the template's arm64 bundle differs only in that wheel), or --bundle
names one; it is copied twice to a
temporary directory, once as built and once without any __pycache__, and both are made read-only
(`chmod -R a-w`). Each measurement is a fresh interpreter of the runtime's version (the one
package_lambda.sh would compile with; override with --python) started with PYTHONDONTWRITEBYTECODE=1
and -s -S (no site-packages: only the bundle and the standard library, as on Lambda), which:
- imports `rds_maint.lambda_handler` from the bundle, then
- does what the first invocation does before it reaches AWS: builds the engine from the environment
  (the S3 state store and its client) and the RDS client (`rds_maint.rds.make_rds_client`).
No request is sent: the store URL and credentials are fake and nothing calls AWS.
Next to it, `import boto3` alone from the same read-only copies.

Figures are the fastest of --runs fresh processes (per column): the time inside the process (import, first-call
clients) and the whole process's wall time (interpreter start included, as Lambda's init is).
Plain table on stdout; `make bench` writes it to docs/cold-start.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE_SCRIPT = ROOT / "cmd" / "package_lambda.sh"
LAMBDA_PYTHON = "3.12"

HANDLER_PROBE = """
import json, os, sys, time
t0 = time.perf_counter()
sys.path.insert(0, sys.argv[1])
import rds_maint.lambda_handler
t1 = time.perf_counter()
from rds_maint.config import Settings
from rds_maint.rds import make_rds_client
from rds_maint.wiring import build_engine
build_engine(Settings.from_env())
make_rds_client(os.environ["AWS_REGION"])
t2 = time.perf_counter()
loaded = [m.__spec__.cached for m in sys.modules.values() if getattr(m, "__spec__", None) and m.__spec__.cached]
print(json.dumps({"import_ms": (t1 - t0) * 1e3, "first_call_ms": (t2 - t1) * 1e3, "modules": len(loaded)}))
"""

BOTO3_PROBE = """
import json, sys, time
t0 = time.perf_counter()
sys.path.insert(0, sys.argv[1])
import boto3
t1 = time.perf_counter()
print(json.dumps({"import_ms": (t1 - t0) * 1e3, "first_call_ms": 0.0, "modules": len(sys.modules)}))
"""

FAKE_ENV = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_LAMBDA_FUNCTION_NAME": "rds-maint-engine",
    "RDS_MAINT_STORE": "s3://rds-maint-bench/rds-maint",
    "RDS_MAINT_STATUS_EVENTS": "off",
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


def measure(python: str, probe: str, bundle: Path, runs: int) -> dict[str, float]:
    samples: list[dict[str, float]] = []
    for _ in range(runs):
        started = time.perf_counter()
        out = subprocess.run(
            [python, "-s", "-S", "-c", probe, str(bundle)],
            capture_output=True,
            text=True,
            check=False,
            env={"PATH": os.environ.get("PATH", ""), **FAKE_ENV},
            cwd=bundle,
        )
        wall = (time.perf_counter() - started) * 1e3
        if out.returncode != 0:
            raise SystemExit(f"probe failed in {bundle}:\n{out.stderr}")
        sample: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
        sample["in_process_ms"] = sample["import_ms"] + sample["first_call_ms"]
        sample["wall_ms"] = wall
        samples.append(sample)
    # The fastest run is the least disturbed by the other processes on the machine (a cold start here
    # shares the CPU; on Lambda it has its own): each column is its own minimum.
    return {key: min(s[key] for s in samples) for key in samples[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--bundle", type=Path, help="an existing bundle for this machine's architecture (default: build one)"
    )
    parser.add_argument("--python", help=f"the interpreter to start (default: Python {LAMBDA_PYTHON}, as the runtime)")
    parser.add_argument("--runs", type=int, default=15, help="fresh processes per row (the fastest is shown)")
    args = parser.parse_args()
    python = args.python or find_runtime_python()
    if python is None:
        python = sys.executable
        print(f"WARNING: no Python {LAMBDA_PYTHON} found: {python} ignores the bundle's cpython-312 .pyc\n")
    with tempfile.TemporaryDirectory(prefix="rds-maint-cold-start-") as tmp:
        work = Path(tmp)
        bundle = args.bundle or build_bundle(work / "built")
        with_pyc = read_only_copy(bundle, work / "with-pyc", keep_pyc=True)
        without_pyc = read_only_copy(bundle, work / "without-pyc", keep_pyc=False)
        rows = [
            ("handler + first-call clients", "with .pyc", measure(python, HANDLER_PROBE, with_pyc, args.runs)),
            ("handler + first-call clients", "no .pyc", measure(python, HANDLER_PROBE, without_pyc, args.runs)),
            ("import boto3 alone", "with .pyc", measure(python, BOTO3_PROBE, with_pyc, args.runs)),
            ("import boto3 alone", "no .pyc", measure(python, BOTO3_PROBE, without_pyc, args.runs)),
        ]
        pyc_files = count_pyc(with_pyc)
        subprocess.run(["chmod", "-R", "u+w", str(work)], check=True)  # so the temporary directory can go
    print("# Lambda bundle cold start (bench/cold_start.py)\n")
    print(
        f"Bundle: {'given' if args.bundle else 'built by cmd/package_lambda.sh for ' + host_arch()}, "
        f"{pyc_files} .pyc files; "
        f"copies read-only (chmod -R a-w), PYTHONDONTWRITEBYTECODE=1, interpreter {python} "
        f"(Python {version_of(python)}), fastest of {args.runs} fresh processes. The first call's clients: "
        "the engine with its S3 state store client, and the RDS client (no request sent).\n"
    )
    print("| what | bytecode | import (ms) | first-call clients (ms) | in process (ms) | process wall (ms) |")
    print("|---|---|---:|---:|---:|---:|")
    for what, pyc, m in rows:
        first = f"{m['first_call_ms']:.0f}" if what.startswith("handler") else "-"
        print(f"| {what} | {pyc} | {m['import_ms']:.0f} | {first} | {m['in_process_ms']:.0f} | {m['wall_ms']:.0f} |")


if __name__ == "__main__":
    main()
