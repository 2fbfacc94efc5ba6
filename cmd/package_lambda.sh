#!/usr/bin/env bash
# Build the Lambda bundle: the rds-maint package and its pinned runtime dependencies
# (cmd/lambda-requirements.txt, no dev extras) for the Lambda runtime in sfn/template.yaml
# (Python 3.12, arm64), precompiled for that Python. `make package` writes build/lambda/;
# `sam build -t sfn/template.yaml` runs it through the Makefile's build-EngineFunction target
# into SAM's artifacts directory.
#
# Why precompile: Lambda's code directory is read-only, so a bundle without bytecode for the
# runtime's exact Python version compiles every module it imports on every cold start. The .pyc
# are written in unchecked-hash mode (used without comparing the source's mtime, which zipping
# rounds), with /var/task paths in tracebacks. Bytecode is version-specific: only a Python 3.12
# interpreter can write it. Without one the bundle ships no .pyc (with a warning): it works, and
# starts slower.
#
# Settings (environment):
#   PYTHON            interpreter that runs pip (default: .venv/bin/python if present, else python3)
#   LAMBDA_ARCH       arm64 (default) or x86_64; must match Architectures in the template
#   LAMBDA_PYTHON     Lambda Python version (default 3.12); must match Runtime in the template
#   LAMBDA_COMPILER   Python LAMBDA_PYTHON interpreter that precompiles the bundle (default: found:
#                     pythonX.Y on PATH, then pyenv's); refused if it is another version
#   LAMBDA_PYC        auto (default: precompile if an interpreter is found, else warn), require
#                     (fail without one), or off
#   BUILD_DIR         output directory (default build/lambda)
set -euo pipefail

cd "$(dirname "$0")/.."

if [[ -z "${PYTHON:-}" ]]; then
  if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
LAMBDA_ARCH=${LAMBDA_ARCH:-arm64}
LAMBDA_PYTHON=${LAMBDA_PYTHON:-3.12}
LAMBDA_PYC=${LAMBDA_PYC:-auto}
BUILD_DIR=${BUILD_DIR:-build/lambda}
REQUIREMENTS=cmd/lambda-requirements.txt

case "$LAMBDA_ARCH" in
  arm64) PLATFORM=manylinux2014_aarch64 ;;
  x86_64) PLATFORM=manylinux2014_x86_64 ;;
  *) echo "package_lambda: LAMBDA_ARCH must be arm64 or x86_64, not '$LAMBDA_ARCH'" >&2; exit 2 ;;
esac
case "$LAMBDA_PYC" in
  auto | require | off) ;;
  *) echo "package_lambda: LAMBDA_PYC must be auto, require or off, not '$LAMBDA_PYC'" >&2; exit 2 ;;
esac

# The interpreter that writes the bytecode must be the runtime's version, exactly (major.minor).
version_of() { "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || true; }
find_compiler() {
  local candidate
  if [[ -n "${LAMBDA_COMPILER:-}" ]]; then
    if [[ "$(version_of "$LAMBDA_COMPILER")" != "$LAMBDA_PYTHON" ]]; then
      echo "package_lambda: LAMBDA_COMPILER=$LAMBDA_COMPILER is Python $(version_of "$LAMBDA_COMPILER"), not $LAMBDA_PYTHON: its bytecode would be ignored on Lambda" >&2
      exit 2
    fi
    echo "$LAMBDA_COMPILER"
    return
  fi
  for candidate in "python$LAMBDA_PYTHON" "$PYTHON" python3; do
    if command -v "$candidate" >/dev/null && [[ "$(version_of "$candidate")" == "$LAMBDA_PYTHON" ]]; then
      command -v "$candidate"
      return
    fi
  done
  if command -v pyenv >/dev/null; then
    for candidate in "$(pyenv root)"/versions/"$LAMBDA_PYTHON".*/bin/python"$LAMBDA_PYTHON"; do
      if [[ -x "$candidate" && "$(version_of "$candidate")" == "$LAMBDA_PYTHON" ]]; then
        echo "$candidate"
        return
      fi
    done
  fi
}

COMPILER=""
if [[ "$LAMBDA_PYC" != off ]]; then
  COMPILER=$(find_compiler)
  if [[ -z "$COMPILER" && "$LAMBDA_PYC" == require ]]; then
    echo "package_lambda: no Python $LAMBDA_PYTHON interpreter to precompile the bundle (set LAMBDA_COMPILER)" >&2
    exit 2
  fi
fi

WORK_DIR=$(mktemp -d)
trap 'rm -rf "$WORK_DIR"' EXIT

# 1. The project as a pure-Python wheel (no dependencies, no dev extras), built from a copy so
#    setuptools leaves no build/ or egg-info scratch in the source tree. Only rds_maint is copied:
#    the wheel leaves out rds_sim (the simulator) and sfn_harness, which pyproject.toml also lists.
mkdir -p "$WORK_DIR/src" "$WORK_DIR/wheels"
cp pyproject.toml "$WORK_DIR/src/"
[[ -f README.md ]] && cp README.md "$WORK_DIR/src/"
tar --exclude=__pycache__ -cf - rds_maint | tar -xf - -C "$WORK_DIR/src"
"$PYTHON" -m pip wheel --quiet --no-deps --wheel-dir "$WORK_DIR/wheels" "$WORK_DIR/src"

# 2. The pinned dependencies, then the project, as binary wheels for the Lambda platform.
#    --only-binary keeps pip from building native code (pydantic-core) for the build host;
#    --require-hashes refuses any file that is not the one pinned.
rm -rf "$BUILD_DIR"
mkdir -p "$BUILD_DIR"
LAMBDA_PIP=(
  "$PYTHON" -m pip install --quiet --disable-pip-version-check
  --target "$BUILD_DIR"
  --platform "$PLATFORM"
  --implementation cp
  --python-version "$LAMBDA_PYTHON"
  --only-binary=:all:
)
"${LAMBDA_PIP[@]}" --require-hashes --no-deps -r "$REQUIREMENTS"
"${LAMBDA_PIP[@]}" --no-deps --upgrade "$WORK_DIR"/wheels/rds_maint-*.whl
# Every dependency the project declares must now be there (a pin that went missing fails here).
"$PYTHON" - "$BUILD_DIR" <<'EOF'
import sys
from importlib.metadata import distributions
from pathlib import Path

try:
    from packaging.requirements import Requirement
except ImportError:  # a bare interpreter: pip carries its own copy
    from pip._vendor.packaging.requirements import Requirement

target = Path(sys.argv[1])
found = {d.metadata["Name"].lower().replace("_", "-"): d for d in distributions(path=[str(target)])}
missing = []
for name, dist in found.items():
    for text in dist.requires or []:
        req = Requirement(text)
        if req.marker is not None and not req.marker.evaluate({"extra": "", "python_version": "3.12"}):
            continue
        key = req.name.lower().replace("_", "-")
        if key not in found or not req.specifier.contains(found[key].version, prereleases=True):
            missing.append(f"{name} needs {text}")
if missing:
    sys.exit("package_lambda: cmd/lambda-requirements.txt does not satisfy: " + "; ".join(sorted(missing)))
EOF

# 3. The top-level packaging entry; no console scripts or stale bytecode.
cp cmd/lambda_entry.py "$BUILD_DIR/lambda_entry.py"
rm -rf "$BUILD_DIR/bin"
find "$BUILD_DIR" -type d -name __pycache__ -prune -exec rm -rf {} +

test -f "$BUILD_DIR/rds_maint/lambda_handler.py" || {
  echo "package_lambda: $BUILD_DIR/rds_maint/lambda_handler.py is missing" >&2
  exit 1
}
# The simulator and the Step Functions harness are for tests and the demo: never in the Lambda.
for unwanted in rds_sim sfn_harness; do
  if [[ -e "$BUILD_DIR/$unwanted" ]]; then
    echo "package_lambda: $BUILD_DIR/$unwanted must not be in the bundle" >&2
    exit 1
  fi
done

# 4. Bytecode for the runtime's Python, as Lambda will find it at /var/task.
if [[ -n "$COMPILER" ]]; then
  "$COMPILER" -m compileall -q -j 0 --invalidation-mode unchecked-hash \
    -s "$BUILD_DIR" -p /var/task "$BUILD_DIR" >/dev/null
  PYC="precompiled by $COMPILER"
elif [[ "$LAMBDA_PYC" == off ]]; then
  PYC="no bytecode (LAMBDA_PYC=off)"
else
  PYC="no bytecode"
  echo "package_lambda: WARNING: no Python $LAMBDA_PYTHON interpreter found, so the bundle has no .pyc and" \
    "every cold start compiles it (set LAMBDA_COMPILER, or LAMBDA_PYC=require to make this an error)" >&2
fi
echo "package_lambda: built $BUILD_DIR ($(du -sh "$BUILD_DIR" | cut -f1), python$LAMBDA_PYTHON $LAMBDA_ARCH, $PYC)"
