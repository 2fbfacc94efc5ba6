"""The Lambda bundle: its entry point, the packaging script, the pinned dependencies and the sam build target."""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import shutil
import subprocess
from pathlib import Path
from types import ModuleType

import pytest

from tests.helpers.artifacts import (
    CMD_DIR,
    ROOT,
    TEMPLATE_PATH,
    template_resources,
)

# ------------------------------------------------------------------------------ packaging


def test_lambda_entry_reexports_the_handler() -> None:
    spec = importlib.util.spec_from_file_location("lambda_entry", CMD_DIR / "lambda_entry.py")
    assert spec is not None and spec.loader is not None
    module: ModuleType = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.__all__ == ["handler"]
    assert module.handler is importlib.import_module("rds_maint.lambda_handler").handler


def test_package_script_is_valid_bash() -> None:
    script = CMD_DIR / "package_lambda.sh"
    text = script.read_text(encoding="utf-8")
    assert "--target" in text and "[dev]" not in text
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("bash is not available")
    subprocess.run([bash, "-n", str(script)], check=True, timeout=30)


LAMBDA_REQUIREMENTS = CMD_DIR / "lambda-requirements.txt"
NETWORK_TESTS = "RDS_MAINT_NETWORK_TESTS"  # set to 1 to run the builds that download the pinned wheels


def pinned_requirements() -> dict[str, tuple[str, list[str]]]:
    """cmd/lambda-requirements.txt: name -> (version, sha256 hashes)."""
    text = LAMBDA_REQUIREMENTS.read_text(encoding="utf-8").replace("\\\n", " ")
    pins: dict[str, tuple[str, list[str]]] = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        spec, *options = line.split()
        name, version = spec.split("==")
        pins[name.lower().replace("_", "-")] = (version, [o.removeprefix("--hash=sha256:") for o in options])
    return pins


def test_lambda_dependencies_are_pinned_with_hashes_and_satisfy_the_project() -> None:
    import tomllib

    from packaging.requirements import Requirement

    pins = pinned_requirements()
    for name, (version, hashes) in pins.items():
        assert re.fullmatch(r"[0-9][0-9a-z.]*", version), f"{name}: pin an exact version"
        assert hashes and all(re.fullmatch(r"[0-9a-f]{64}", h) for h in hashes), f"{name}: sha256 hashes"
    # pydantic-core is compiled: one wheel per Lambda architecture for the runtime's CPython 3.12, and the
    # same two for CPython 3.11, the Python `make e2e` builds for
    assert len(pins["pydantic-core"][1]) == 4, "pydantic-core: one wheel per architecture and Python"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    for text in project["dependencies"]:
        requirement = Requirement(text)
        name = requirement.name.lower()
        assert name in pins, f"{name} (pyproject.toml) is not pinned for the Lambda bundle"
        assert requirement.specifier.contains(pins[name][0]), f"pin {name}=={pins[name][0]} breaks {text}"
    script = (CMD_DIR / "package_lambda.sh").read_text(encoding="utf-8")
    assert "--require-hashes" in script and "lambda-requirements.txt" in script
    assert "--only-binary=:all:" in script and "--platform" in script and "--python-version" in script


def test_sam_builds_the_function_with_the_makefile_target() -> None:
    function = template_resources()["EngineFunction"]
    assert function["Metadata"]["BuildMethod"] == "makefile"
    makefile_dir = (TEMPLATE_PATH.parent / function["Metadata"]["ContextPath"]).resolve()
    assert makefile_dir == ROOT
    makefile = (makefile_dir / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^build-EngineFunction:", makefile, re.M), "SAM runs make build-<LogicalId>"
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not available")
    dry = subprocess.run(
        [make, "-n", "-C", str(ROOT), "build-EngineFunction", "ARTIFACTS_DIR=/tmp/sam-artifacts"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert 'BUILD_DIR="/tmp/sam-artifacts" bash' in dry.stdout and "cmd/package_lambda.sh" in dry.stdout
    refused = subprocess.run(
        [make, "-C", str(ROOT), "build-EngineFunction", "ARTIFACTS_DIR="], capture_output=True, text=True, timeout=60
    )
    assert refused.returncode != 0 and "ARTIFACTS_DIR is not set" in refused.stderr


def assert_bundle_layout(bundle: Path) -> None:
    assert (bundle / "rds_maint" / "lambda_handler.py").is_file()
    assert (bundle / "lambda_entry.py").is_file()
    assert not (bundle / "bin").exists() and not (bundle / "tests").exists()
    assert not (bundle / "rds_sim").exists() and not (bundle / "sfn_harness").exists(), "tests' code, not the Lambda's"
    assert list((bundle / "pydantic_core").glob("_pydantic_core.cpython-312-*-linux-gnu.so")), "a Lambda wheel"
    for name, (version, _) in pinned_requirements().items():
        dist = name.replace("-", "_")
        assert list(bundle.glob(f"{dist}-{version}.dist-info")), f"{name}=={version} not installed"
    assert list((bundle / "rds_maint" / "__pycache__").glob("lambda_handler.cpython-312.pyc")), "precompiled"
    assert not list(bundle.rglob("*.cpython-311.pyc")), "bytecode of another Python is dead weight"


@pytest.mark.skipif(os.environ.get(NETWORK_TESTS) != "1", reason=f"downloads the pinned wheels: set {NETWORK_TESTS}=1")
def test_make_build_target_produces_the_bundle(tmp_path: Path) -> None:
    """What `sam build` runs, without SAM: the Makefile target into an artifacts directory."""
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not available")
    artifacts = tmp_path / "EngineFunction"
    built = subprocess.run(
        [make, "-C", str(ROOT), "build-EngineFunction", f"ARTIFACTS_DIR={artifacts}"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    if "no bytecode" in built.stdout:
        pytest.skip("no Python 3.12 interpreter on this machine to precompile with")
    assert_bundle_layout(artifacts)


@pytest.mark.skipif(os.environ.get(NETWORK_TESTS) != "1", reason=f"downloads the pinned wheels: set {NETWORK_TESTS}=1")
def test_sam_build_on_a_fresh_clone_builds_the_function(tmp_path: Path) -> None:
    sam = shutil.which("sam")
    if sam is None:
        pytest.skip("SAM CLI is not installed (pip install aws-sam-cli, in a venv of its own)")
    git = shutil.which("git")
    if git is None:
        pytest.skip("git is not available")
    clone = tmp_path / "clone"
    subprocess.run([git, "clone", "--quiet", str(ROOT), str(clone)], check=True, timeout=120)
    for relative in ("sfn/template.yaml", "Makefile", "cmd/package_lambda.sh", "cmd/lambda-requirements.txt"):
        shutil.copy2(ROOT / relative, clone / relative)  # the working tree's, committed or not
    env = {**os.environ, "SAM_CLI_TELEMETRY": "0"}
    env.pop("VIRTUAL_ENV", None)
    built = subprocess.run(
        [sam, "build", "-t", "sfn/template.yaml"],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert built.returncode == 0 and "Build Succeeded" in built.stdout, built.stdout + built.stderr
    assert_bundle_layout(clone / ".aws-sam" / "build" / "EngineFunction")
