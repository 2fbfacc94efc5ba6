"""The store package loads the AWS SDK only when a cloud store is opened.

The engine depends on the store port; a `file://` run, a plan and a unit test must start without
boto3 and botocore (seconds of import time on a cold Lambda, and a tie of the pure layers to the
SDK). Each probe runs in a fresh interpreter: this test process loaded boto3 long ago through moto.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SDK = ("boto3", "botocore")


def sdk_loaded_after(code: str) -> list[str]:
    """The boto3/botocore modules in `sys.modules` after a fresh interpreter runs `code`."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {SDK!r})))"
    env = {name: value for name, value in os.environ.items() if not name.startswith(("AWS_", "RDS_MAINT_"))}
    env |= {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60, env=env
    )
    loaded: list[str] = json.loads(done.stdout.splitlines()[-1])
    return loaded


def test_importing_the_store_package_loads_no_sdk() -> None:
    assert sdk_loaded_after("import rds_maint.store") == []


def test_a_file_store_is_opened_created_and_read_without_the_sdk(tmp_path: Path) -> None:
    code = f"""
from datetime import UTC, datetime
from rds_maint.model import Operation, OperationType, Step
from rds_maint.store import init_store, open_store
url = "file://{tmp_path / "state"}"
init_store(url)
store = open_store(url)
now = datetime(2026, 1, 5, tzinfo=UTC)
step = Step(id="s01", name="check_cluster", action="check_cluster", description="check")
store.create(Operation(id="op-1", type=OperationType.INSTANCE_CYCLE, cluster_id="c1", region="us-east-1",
                       parameters={{}}, steps=[step], created_at=now, updated_at=now), [])
assert store.load("op-1").version == 1
assert store.acquire_lock("c1", "us-east-1", "op-1") == "op-1"
"""
    assert sdk_loaded_after(code) == []
    assert (tmp_path / "state" / "op-1" / "operation.json").is_file(), "the probe really wrote to the file store"


def test_a_malformed_cloud_store_url_is_refused_before_the_sdk_is_loaded() -> None:
    code = """
from rds_maint.errors import BadInput
from rds_maint.store import open_store
for url in ("s3://Bad_Bucket/x", "dynamodb://x"):
    try:
        open_store(url)
    except BadInput:
        pass
    else:
        raise AssertionError(url)
"""
    assert sdk_loaded_after(code) == []


def test_the_probe_sees_the_sdk_once_a_cloud_store_is_asked_for() -> None:
    # Without this, the tests above could pass on a probe that never sees anything.
    opened = sdk_loaded_after("from rds_maint.store import open_store\nopen_store('s3://rds-maint-state/x')")
    assert {"boto3", "botocore"} <= {m.split(".")[0] for m in opened}
    named = sdk_loaded_after("from rds_maint.store import DynamoDBStore")
    assert "botocore" in named
