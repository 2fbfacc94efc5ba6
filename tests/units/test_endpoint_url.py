"""Every AWS client the project makes honours AWS_ENDPOINT_URL (and AWS_ENDPOINT_URL_<SERVICE>), and the CLI's
`--endpoint-url`, which wins over the variable as aws-cli's flag does.

`make e2e` points the CLI and the Lambda at a local emulator with nothing but these variables (boto3 >= 1.28
reads them itself), so a client built with a hard-coded endpoint, or a setting that turns configured
endpoints off, would send the run's traffic elsewhere. These tests build each client the way the code does,
and drive the Lambda handler against a recording server on 127.0.0.1 to see its requests arrive there.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from rds_maint import lambda_handler, stepfunctions
from rds_maint.cli import Options, main
from rds_maint.rds import make_rds_client
from rds_maint.store.aws import make_client
from rds_maint.wiring import events_client
from sfn_harness.machine import load_template

ROOT = Path(__file__).resolve().parents[2]
GENERIC = "http://127.0.0.1:45001"
S3_ONLY = "http://127.0.0.1:45002"


@pytest.fixture
def fake_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    for key in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"):
        monkeypatch.delenv(key, raising=False)
    # Recorded so that the value `--endpoint-url` leaves in this process is undone after each test.
    monkeypatch.setenv("AWS_ENDPOINT_URL", "")
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return monkeypatch


def project_clients() -> dict[str, Any]:
    """One client of each service, each made by the code path that makes it in the CLI and the Lambda."""
    return {
        "rds": make_rds_client("us-east-1"),
        "s3": make_client("s3", "us-east-1"),
        "dynamodb": make_client("dynamodb", "us-east-1"),
        "stepfunctions": stepfunctions.make_client("us-east-1"),
        "events": events_client("us-east-1"),
    }


def test_every_client_uses_aws_endpoint_url(fake_aws: pytest.MonkeyPatch) -> None:
    fake_aws.setenv("AWS_ENDPOINT_URL", GENERIC)
    endpoints = {name: client.meta.endpoint_url for name, client in project_clients().items()}
    assert endpoints == dict.fromkeys(endpoints, GENERIC)


def test_a_service_endpoint_wins_for_that_service_only(fake_aws: pytest.MonkeyPatch) -> None:
    fake_aws.setenv("AWS_ENDPOINT_URL", GENERIC)
    fake_aws.setenv("AWS_ENDPOINT_URL_S3", S3_ONLY)
    endpoints = {name: client.meta.endpoint_url for name, client in project_clients().items()}
    assert endpoints.pop("s3") == S3_ONLY
    assert set(endpoints.values()) == {GENERIC}


def test_without_the_variable_clients_go_to_aws(fake_aws: pytest.MonkeyPatch) -> None:
    """The same factories reach the regional AWS endpoints when nothing is set (no endpoint is baked in)."""
    fake_aws.delenv("AWS_ENDPOINT_URL", raising=False)
    endpoints = {name: client.meta.endpoint_url for name, client in project_clients().items()}
    assert all(url.startswith("https://") and url.endswith(".amazonaws.com") for url in endpoints.values()), endpoints


def test_the_lambda_environment_leaves_endpoints_alone() -> None:
    """The template gives the function no variable that would override or switch off AWS_ENDPOINT_URL."""
    function = load_template(ROOT / "sfn" / "template.yaml")["Resources"]["EngineFunction"]["Properties"]
    variables = set(function.get("Environment", {}).get("Variables", {}))
    assert not {v for v in variables if v.startswith("AWS_ENDPOINT_URL") or v == "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS"}


class Recorder(BaseHTTPRequestHandler):
    """Answers every request with a client error (JSON or query-XML), after writing down what it was."""

    seen: list[dict[str, str]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        target = self.headers.get("X-Amz-Target") or ""
        action = target or next((p[7:] for p in body.split("&") if p.startswith("Action=")), "")
        self.seen.append({"action": action, "host": self.headers.get("Host") or ""})
        if target:
            payload = json.dumps({"__type": "ValidationException", "message": "recorded"}).encode()
            content_type = "application/x-amz-json-1.0"
        else:
            payload = (
                b"<ErrorResponse><Error><Type>Sender</Type><Code>InvalidParameterValue</Code>"
                b"<Message>recorded</Message></Error><RequestId>1</RequestId></ErrorResponse>"
            )
            content_type = "text/xml"
        self.send_response(400)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[tuple[str, list[dict[str, str]]]]:
    seen: list[dict[str, str]] = []
    handler = type("Recording", (Recorder,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def test_the_lambda_handler_sends_its_store_and_rds_calls_to_the_endpoint(
    fake_aws: pytest.MonkeyPatch, recorder: tuple[str, list[dict[str, str]]]
) -> None:
    endpoint, seen = recorder
    fake_aws.setenv("AWS_ENDPOINT_URL", endpoint)
    fake_aws.setenv("RDS_MAINT_STORE", "dynamodb://endpoint-test")
    fake_aws.setenv("RDS_MAINT_STATUS_EVENTS", "off")
    fake_aws.setattr(lambda_handler, "_engines", {})

    status = lambda_handler.handler({"action": "status", "operation_id": "orders-prod-20260101-000000-abcdef"})
    create = lambda_handler.handler(
        {
            "action": "create",
            "params": {
                "type": "instance_type_change",
                "cluster_id": "orders-prod",
                "region": "us-east-1",
                "params": {"target_instance_type": "db.r6g.xlarge"},
            },
        }
    )

    assert status["error"] and create["error"]  # the recorder refused every call; the handler reports it
    actions = {s["action"] for s in seen}
    assert any(a.startswith("DynamoDB_20120810.") for a in actions), actions
    assert any(a.startswith("Describe") for a in actions), actions  # RDS query API (the cluster's describe)
    assert {s["host"] for s in seen} == {endpoint.removeprefix("http://")}


def test_the_endpoint_url_flag_reaches_every_client_and_beats_the_variable(fake_aws: pytest.MonkeyPatch) -> None:
    fake_aws.setenv("AWS_ENDPOINT_URL", GENERIC)
    options = Options()
    options.endpoint_url = S3_ONLY
    assert options.settings().endpoint_url == S3_ONLY
    endpoints = {name: client.meta.endpoint_url for name, client in project_clients().items()}
    assert endpoints == dict.fromkeys(endpoints, S3_ONLY)


def test_the_cli_sends_its_rds_and_store_calls_to_the_endpoint_url_flag(
    fake_aws: pytest.MonkeyPatch, recorder: tuple[str, list[dict[str, str]]], tmp_path: Path
) -> None:
    endpoint, seen = recorder
    fake_aws.setenv("AWS_ENDPOINT_URL", GENERIC)  # nothing listens there: the flag must win
    plan = ["plan", "--type", "instance_type_change", "--cluster", "orders-prod"]
    planned = CliRunner().invoke(
        main,
        [
            *plan,
            "--param",
            "target_instance_type=db.r6g.xlarge",
            "--store",
            f"file://{tmp_path}",
            "--endpoint-url",
            endpoint,
        ],
    )
    listed = CliRunner().invoke(main, ["list", "--store", "dynamodb://endpoint-test", "--endpoint-url", endpoint])

    assert planned.exit_code == 1 and listed.exit_code != 0  # the recorder refused every call
    assert "Traceback" not in planned.output + listed.output
    actions = {s["action"] for s in seen}
    assert "DescribeDBClusters" in actions, actions
    assert any(a.startswith("DynamoDB_20120810.") for a in actions), actions
    assert {s["host"] for s in seen} == {endpoint.removeprefix("http://")}


def test_an_unreachable_endpoint_url_is_one_line_naming_it(fake_aws: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Nothing listens on port 9 of 127.0.0.1: the reads are tried again (a network blip), then one line."""
    plan = ["plan", "--type", "instance_type_change", "--cluster", "orders-prod", "--store", f"file://{tmp_path}"]
    result = CliRunner().invoke(
        main, [*plan, "--param", "target_instance_type=db.r6g.xlarge", "--endpoint-url", "http://127.0.0.1:9"]
    )
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1, result.output
    assert "http://127.0.0.1:9" in result.output and "--endpoint-url" in result.output
