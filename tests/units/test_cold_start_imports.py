"""What a Lambda cold start loads and builds: nothing the function never runs, one SDK session, no collector.

bench/cold_start.py measures the cold start (docs/cold-start.md); these tests keep what it depends on from
quietly coming back: a driver, the simulator or test tooling imported by the handler, a client of the first
invocation built on a session of its own (its own loaders and credential lookup), or the garbage collector
left off in a warm container. Each probe runs in a fresh interpreter, since this test process has long
since imported everything.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rds_maint import credentials
from rds_maint.config import Settings
from rds_maint.store.s3 import S3Store
from rds_maint.wiring import build_engine, events_client

ROOT = Path(__file__).resolve().parents[2]

# Packages the Lambda never runs: the CLI and its terminal views, the demo and the rehearsal account, the
# simulator, the Step Functions harness and test tooling, the DynamoDB store of another URL.
NEVER_IN_LAMBDA = (
    "click",
    "rds_sim",
    "sfn_harness",
    "moto",
    "pytest",
    "freezegun",
    "rds_maint.cli",
    "rds_maint.demo",
    "rds_maint.rehearsal",
    "rds_maint.progress",
    "rds_maint.notify",
    "rds_maint.stepfunctions",
    "rds_maint.planning.saved_plan",
    "rds_maint.store.dynamodb",
)

# The first invocation's clients, made as the handler makes them (bench/cold_start.py's probe does the same).
FIRST_CALL = """
import gc, json, sys
import rds_maint.lambda_handler as lambda_handler
after_import = {"collecting": gc.isenabled(), "frozen": gc.get_freeze_count()}
from rds_maint.config import Settings
from rds_maint.wiring import events_client
settings = Settings.from_env()
engine = lambda_handler.warm_engine(settings)
engine.rds(settings.region)
events_client(settings.region, settings.profile)
loaded = sorted(sys.modules)
answer = lambda_handler.handler({"action": "no-such-action"})
print(json.dumps({"after_import": after_import, "collecting_after_first_call": gc.isenabled(),
                  "modules": loaded, "error": answer["error"]}))
"""


def first_call(in_lambda: bool) -> dict[str, object]:
    """FIRST_CALL's report from a fresh interpreter with fake credentials and an S3 store (nothing is sent)."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AWS_", "RDS_MAINT_")) and key not in ("PYTHONPATH", "PYTHONSTARTUP")
    }
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "RDS_MAINT_STORE": "s3://rds-maint-cold-start/rds-maint",
        }
    )
    if in_lambda:
        env["AWS_LAMBDA_FUNCTION_NAME"] = "rds-maint-engine"
    done = subprocess.run(
        [sys.executable, "-c", FIRST_CALL], capture_output=True, text=True, check=False, env=env, cwd=ROOT, timeout=120
    )
    assert done.returncode == 0, done.stderr
    report: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


@pytest.fixture(scope="module")
def lambda_cold_start() -> dict[str, object]:
    return first_call(in_lambda=True)


def test_the_handler_and_its_first_call_load_nothing_the_lambda_never_runs(
    lambda_cold_start: dict[str, object],
) -> None:
    loaded = lambda_cold_start["modules"]
    assert isinstance(loaded, list)
    found = sorted(m for m in loaded if any(m == p or m.startswith(p + ".") for p in NEVER_IN_LAMBDA))
    assert found == []
    # the probe did reach the first call's clients: the S3 store, the gateway and boto3 are loaded
    assert {"rds_maint.store.s3", "rds_maint.rds", "boto3"} <= set(loaded)


def test_the_collector_is_off_through_a_lambda_cold_start_and_back_after_the_first_answer(
    lambda_cold_start: dict[str, object],
) -> None:
    after_import = lambda_cold_start["after_import"]
    assert isinstance(after_import, dict)
    assert after_import["collecting"] is False, "no collection while the container imports its code"
    assert after_import["frozen"] > 0, "the imported module graph is frozen out of later collections"
    assert "unknown action 'no-such-action'" in str(lambda_cold_start["error"])
    assert lambda_cold_start["collecting_after_first_call"] is True, "a warm container collects garbage again"


def test_outside_lambda_importing_the_handler_leaves_the_collector_alone() -> None:
    """Tests, the Step Functions harness and the CLI's process import the handler too: nothing changes there."""
    report = first_call(in_lambda=False)
    assert report["after_import"] == {"collecting": True, "frozen": 0}
    assert report["collecting_after_first_call"] is True


def test_the_first_calls_clients_share_one_sdk_session(monkeypatch: pytest.MonkeyPatch) -> None:
    """Store, RDS and EventBridge clients of one region and profile on one session: each other session would
    read the SDK's endpoint data again and look for credentials again on a cold start."""
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    settings = Settings(store_url="s3://rds-maint-cold-start/rds-maint", region="us-east-1")
    engine = build_engine(settings)
    assert isinstance(engine.store, S3Store)
    rds_client = engine.rds("us-east-1").client  # type: ignore[attr-defined]
    clients = {
        "s3": engine.store.client,
        "rds": rds_client,
        "events": events_client(settings.region, settings.profile),
    }
    sessions = {name: getattr(client, credentials.SESSION_ATTRIBUTE, None) for name, client in clients.items()}
    assert sessions["s3"] is not None
    assert all(session is sessions["s3"] for session in sessions.values()), sessions
    assert clients["events"].meta.service_model.service_name == "events"
