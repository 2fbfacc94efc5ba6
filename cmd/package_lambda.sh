#!/usr/bin/env bash
# Build build/lambda/: the rds-maint package and its runtime dependencies (no dev extras) for
# the Lambda runtime in sfn/template.yaml (Python 3.12, arm64). `make package` runs this;
# `sam deploy -t sfn/template.yaml` then uploads build/lambda/ (CodeUri ../build/lambda).
#
# Settings (environment):
#   PYTHON          interpreter that runs pip (default: .venv/bin/python if present, else python3)
#   LAMBDA_ARCH     arm64 (default) or x86_64; must match Architectures in the template
#   LAMBDA_PYTHON   Lambda Python version (default 3.12); must match Runtime in the template
#   BUILD_DIR       output directory (default build/lambda)
set -euo pipefail

cd "$(dirname "$0")/.."

if [[ -z "${PYTHON:-}" ]]; then
  if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
LAMBDA_ARCH=${LAMBDA_ARCH:-arm64}
LAMBDA_PYTHON=${LAMBDA_PYTHON:-3.12}
BUILD_DIR=${BUILD_DIR:-build/lambda}

case "$LAMBDA_ARCH" in
  arm64) PLATFORM=manylinux2014_aarch64 ;;
  x86_64) PLATFORM=manylinux2014_x86_64 ;;
  *) echo "LAMBDA_ARCH must be arm64 or x86_64, not '$LAMBDA_ARCH'" >&2; exit 2 ;;
esac

WORK_DIR=$(mktemp -d)
trap 'rm -rf "$WORK_DIR"' EXIT

# 1. The project as a pure-Python wheel (no dependencies, no dev extras), built from a copy so
#    setuptools leaves no build/ or egg-info scratch in the source tree.
mkdir -p "$WORK_DIR/src" "$WORK_DIR/wheels"
cp pyproject.toml "$WORK_DIR/src/"
[[ -f README.md ]] && cp README.md "$WORK_DIR/src/"
tar --exclude=__pycache__ -cf - rds_maint | tar -xf - -C "$WORK_DIR/src"
"$PYTHON" -m pip wheel --quiet --no-deps --wheel-dir "$WORK_DIR/wheels" "$WORK_DIR/src"

# 2. Install it and its runtime dependencies as binary wheels for the Lambda platform.
#    --only-binary keeps pip from building native code (pydantic-core) for the build host.
rm -rf "$BUILD_DIR"
mkdir -p "$BUILD_DIR"
"$PYTHON" -m pip install --quiet \
  --target "$BUILD_DIR" \
  --platform "$PLATFORM" \
  --implementation cp \
  --python-version "$LAMBDA_PYTHON" \
  --only-binary=:all: \
  --upgrade \
  "$WORK_DIR"/wheels/rds_maint-*.whl

# 3. The top-level packaging entry; no console scripts or bytecode caches.
cp cmd/lambda_entry.py "$BUILD_DIR/lambda_entry.py"
rm -rf "$BUILD_DIR/bin"
find "$BUILD_DIR" -type d -name __pycache__ -prune -exec rm -rf {} +

test -f "$BUILD_DIR/rds_maint/lambda_handler.py" || {
  echo "package_lambda: $BUILD_DIR/rds_maint/lambda_handler.py is missing" >&2
  exit 1
}
echo "package_lambda: built $BUILD_DIR ($(du -sh "$BUILD_DIR" | cut -f1), python$LAMBDA_PYTHON $LAMBDA_ARCH)"
