"""No credentials, an unknown profile, an expired SSO session, bad parameters: one clear line at once.

Real botocore credential resolution on a machine with no usable login: empty config files, no
keys in the environment, instance metadata off, and every endpoint on 127.0.0.1 (a request that
did leave would fail with a connection error, not with these messages). Nothing is retried, nothing
is written, no traceback is shown; the CLI exits 1 (2 for an unknown profile) and the Lambda answers
an error result.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import SSOTokenLoadError
from click.testing import CliRunner

from rds_maint.cli import main
from rds_maint.errors import AwsParameterError, CredentialsError, UnknownProfile
from rds_maint.lambda_handler import handler
from rds_maint.model import Outcome
from rds_maint.progress import drive
from rds_maint.rds import RdsGateway, make_rds_client
from rds_maint.store import FileStore
from tests.helpers.world import CLUSTER, REGION, World

SSO_CONFIG = """\
[profile sso-user]
sso_session = corp
sso_account_id = 123456789012
sso_role_name = Admin
region = us-east-1

[sso-session corp]
sso_start_url = https://example.awsapps.com/start
sso_region = us-east-1
sso_registration_scopes = sso:account:access
"""


@pytest.fixture
def no_login(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A machine with no usable AWS login (conftest's fake keys removed)."""
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    config = home / ".aws" / "config"
    config.write_text(SSO_CONFIG)
    (home / ".aws" / "credentials").write_text("")
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SECURITY_TOKEN", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(home / ".aws" / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_REGION", REGION)
    return tmp_path


def plan_args(store: Path, *extra: str) -> list[str]:
    return [
        "plan",
        "--type",
        "instance_type_change",
        "--cluster",
        CLUSTER,
        "--param",
        "target_instance_type=db.r6g.xlarge",
        "--store",
        f"file://{store}",
        "--region",
        REGION,
        *extra,
    ]


def one_clear_line(output: str) -> str:
    assert "Traceback" not in output
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    return lines[0]


def test_no_credentials_fail_at_once_with_how_to_sign_in(no_login: Path) -> None:
    result = CliRunner().invoke(main, plan_args(no_login / "state"))
    assert result.exit_code == 1, result.output
    line = one_clear_line(result.output)
    assert "no AWS credentials found" in line and "aws sso login" in line and "--profile" in line
    assert "AWS_PROFILE" in line
    assert not (no_login / "state").exists(), "nothing was written"


def test_an_expired_sso_session_names_the_login_command(no_login: Path) -> None:
    result = CliRunner().invoke(main, plan_args(no_login / "state", "--profile", "sso-user"))
    assert result.exit_code == 1, result.output
    line = one_clear_line(result.output)
    assert "SSO session of profile 'sso-user'" in line and "aws sso login --profile sso-user" in line


def test_an_unknown_profile_is_bad_input(no_login: Path) -> None:
    result = CliRunner().invoke(main, plan_args(no_login / "state", "--profile", "nope"))
    assert result.exit_code == 2, result.output
    line = one_clear_line(result.output)
    assert "AWS profile 'nope' is not configured" in line and "--profile" in line
    s3 = CliRunner().invoke(main, ["list", "--store", "s3://rds-maint-state/x", "--profile", "nope"])
    assert s3.exit_code == 2 and "AWS profile 'nope' is not configured" in one_clear_line(s3.output)


@pytest.mark.parametrize("profile", [None, "sso-user"])
def test_credential_errors_are_never_retried(no_login: Path, profile: str | None) -> None:
    slept: list[float] = []
    rds = RdsGateway(make_rds_client(REGION, profile), sleep=slept.append)
    with pytest.raises(CredentialsError):
        rds.cluster_roles(CLUSTER)
    assert rds.calls["DescribeDBClusters"] == 1 and slept == []
    with pytest.raises(UnknownProfile):
        make_rds_client(REGION, "nope")


def test_a_parameter_validation_error_is_bad_input_and_never_retried() -> None:
    slept: list[float] = []
    rds = RdsGateway(make_rds_client(REGION), sleep=slept.append)
    with pytest.raises(AwsParameterError, match="ParamValidationError"):
        rds.call("DescribeDBClusters", DBClusterIdentifier=["not", "a", "string"])
    assert rds.calls["DescribeDBClusters"] == 1 and slept == []


def test_the_lambda_answers_an_error_result(no_login: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RDS_MAINT_STORE", f"file://{no_login / 'state'}")
    request = {"type": "instance_type_change", "cluster_id": CLUSTER, "region": REGION}
    create = {"action": "create", "params": {**request, "params": {"target_instance_type": "db.r6g.xlarge"}}}
    answer = handler(create)
    assert answer["failed"] is True and "no AWS credentials found" in str(answer["error"])
    monkeypatch.setenv("AWS_PROFILE", "nope")
    answer = handler(create)
    assert answer["failed"] is True and "AWS profile 'nope' is not configured" in str(answer["error"])
    assert not (no_login / "state").exists(), "nothing was written"


def test_run_checks_the_login_before_it_starts_anything(world: World, cluster_1w2r: list[str], no_login: Path) -> None:
    op = world.create({"target_instance_type": "db.r6g.xlarge"})
    result = world.cli(["run", op.id, "--store", world.store_url, "--region", REGION])
    assert result.exit_code == 1, result.output
    assert "no AWS credentials found" in one_clear_line(result.output)
    stored = world.store.load(op.id)
    assert stored.state.value == "created" and stored.version == op.version, "nothing was written"
    assert world.mutating_calls() == []
    assert isinstance(world.store, FileStore)


def test_a_login_that_expires_mid_operation_pauses_it_once_with_the_fix_and_continue_finishes(
    world: World, cluster_1w2r: list[str]
) -> None:
    op = world.create({"target_instance_type": "db.r6g.xlarge"})
    world.engine.start(op.id)
    world.engine.advance(op.id)  # the first step ran with a working login
    gateway = world.engine.rds(REGION)  # the engine sees the port; this world gives it the boto3 gateway
    assert isinstance(gateway, RdsGateway)
    client = gateway.client
    refused: list[str] = []

    def expired_session(model: Any, **_: Any) -> None:
        # What botocore raises from the call once the SSO token cache has expired (before anything is sent).
        refused.append(model.name)
        raise SSOTokenLoadError(error_msg="Token for corp does not exist")

    client.meta.events.register_first("before-parameter-build.rds", expired_session)
    paused = drive(world.engine, op.id, world.clock.sleep)
    assert paused.outcome is Outcome.INTERVENTION
    assert paused.pause_reason is not None and "aws sso login --profile" in paused.pause_reason
    assert len(refused) == 1, "never retried: one refused call, then the pause"
    stored = world.store.load(op.id)
    assert stored.current_step is not None and stored.current_step.retry_count == 0

    client.meta.events.unregister("before-parameter-build.rds", expired_session)  # `aws sso login` done
    world.engine.resume(op.id, "continue", "signed in again")
    assert world.run(op.id).outcome is Outcome.COMPLETED
    view = world.sim.cluster_view(CLUSTER)
    assert {m.instance_class for m in view.members.values()} == {"db.r6g.xlarge"}
