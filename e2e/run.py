"""End to end on MiniStack: the shipped pieces deployed onto an independent AWS emulator, driven as users would.

MiniStack (an open-source emulator of RDS, Step Functions, Lambda, EventBridge, S3, DynamoDB and SQS written
by others) runs as a local server on 127.0.0.1 and a free port, started and stopped by this script. Onto it go:
the engine Lambda from the real bundle (`make package`), the state machine from the shipped ASL with
`${LambdaArn}` substituted, the DynamoDB store as `rds-maint init` creates it, and the `InterventionRequired`
rule and target that `sfn/template.yaml` describes (read from the template, not copied). Then the operations
run the way the README tells users to: `aws stepfunctions start-execution` inputs (sent with boto3) and
`rds-maint start-execution`, pauses answered with `rds-maint respond` and with `send-task-failure`, executions
resumed by operation id, an S3 store made by `rds-maint init` for an in-process `rds-maint run`; and each ends
with a look at the cluster itself (DescribeDBClusters/DescribeDBInstances on MiniStack).

Safety: the script refuses any endpoint that is not loopback, sets fake credentials and points every AWS
client (its own, the CLI's, and the Lambda's, which MiniStack starts with the server's environment) at the
local server only; it checks that the server listens on 127.0.0.1 alone, and stops it (its whole process
group) however the run ends. Where MiniStack differs from AWS the script prints a SKIP line naming the part
and why (docs/aws-behaviour.md, "Emulators"), and goes on with the rest.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import ipaddress
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from botocore.exceptions import ClientError, WaiterError

from sfn_harness.machine import load_template  # the template reader the tests use (short tags to long form)

ROOT = Path(__file__).resolve().parent.parent
REGION = "us-east-1"
ACCOUNT = "000000000000"  # MiniStack's default account
CLUSTER = "orders-prod"  # the cluster every example in examples/ names
ENGINE_VERSION = "15.10"  # one MiniStack knows (its DescribeDBEngineVersions list is fixed)
WRITER, READER = f"{CLUSTER}-1", f"{CLUSTER}-2"
START_CLASS = "db.r5.large"
# Target classes MiniStack lists as orderable (its list is fixed: see docs/aws-behaviour.md, Emulators).
TARGETS = ("db.r5.xlarge", "db.r5.2xlarge", "db.m5.2xlarge")
TABLE = "rds-maint-e2e"
BUCKET = "rds-maint-e2e-state"
FUNCTION = "rds-maint-e2e-engine"
MACHINE = "rds-maint-e2e-machine"
RULE = "rds-maint-e2e-intervention"
NOTICE_RULE = "rds-maint-e2e-operator-notices"
NOTICE_QUEUE = "rds-maint-e2e-notices"
FAKE_ROLE = f"arn:aws:iam::{ACCOUNT}:role/rds-maint-e2e"
EXECUTION_TIMEOUT = 120.0


class E2EFailure(Exception):
    """A check the run makes failed: what was expected and what MiniStack showed."""


# ---------------------------------------------------------------- safety


def require_loopback(url: str) -> str:
    """The endpoint, if it is http on a loopback address; otherwise refuse (nothing is sent anywhere else)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if parts.scheme != "http" or not loopback or parts.port is None:
        raise SystemExit(f"e2e: refusing endpoint {url!r}: only http://127.0.0.1:<port> (loopback) is allowed")
    return url


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def sandbox_environment(endpoint: str, scratch: Path) -> dict[str, str]:
    """This process's AWS settings: fake credentials, the local endpoint, no profile or config file of the host."""
    for key, value in list(os.environ.items()):
        if key.startswith("AWS_ENDPOINT_URL"):
            require_loopback(value)  # a service endpoint already set elsewhere would be refused, not overridden
        if key.startswith("AWS_") or key.startswith("RDS_MAINT_"):
            del os.environ[key]
    settings = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_CONFIG_FILE": str(scratch / "aws-config-absent"),
        "AWS_SHARED_CREDENTIALS_FILE": str(scratch / "aws-credentials-absent"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "NO_PROXY": "127.0.0.1,localhost",
    }
    os.environ.update(settings)
    return settings


def _socket_inodes(pid: int) -> set[str]:
    inodes: set[str] = set()
    with contextlib.suppress(OSError):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
    return inodes


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def listening_addresses(pid: int) -> list[str]:
    """Every address the process and its children listen on (TCP, IPv4 and IPv6), from /proc."""
    inodes: set[str] = set()
    for each in _descendants(pid):
        inodes |= _socket_inodes(each)
    addresses = []
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                cols = line.split()
                if cols[3] != "0A" or cols[9] not in inodes:  # 0A: LISTEN
                    continue
                hex_host, hex_port = cols[1].split(":")
                raw = bytes.fromhex(hex_host)
                if width == 8:
                    host = str(ipaddress.IPv4Address(raw[::-1]))
                else:
                    words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
                    host = str(ipaddress.IPv6Address(words))
                addresses.append(f"{host}:{int(hex_port, 16)}")
    return addresses


# ---------------------------------------------------------------- the server


@dataclass
class Server:
    """MiniStack as a child process in its own process group, bound to 127.0.0.1 only."""

    python: str
    port: int
    scratch: Path
    process: subprocess.Popen[bytes] | None = None
    log_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log_path = self.scratch / "ministack.log"

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(
            {
                # Bind the one listener to loopback (MiniStack's default is 0.0.0.0) on our free port.
                "BIND_HOST": "127.0.0.1",
                "GATEWAY_PORT": str(self.port),
                "MINISTACK_HOST": "localhost",
                "MINISTACK_REGION": REGION,
                # The listeners MiniStack would otherwise open besides the gateway: off.
                "IOT_MTLS_ENABLED": "0",
                "SFTP_ENABLED": "0",
                "USE_SSL": "0",
                # No state on disk, nothing shared with another MiniStack on this machine.
                "PERSIST_STATE": "0",
                "S3_PERSIST": "0",
                "STATE_DIR": str(self.scratch / "state"),
                "S3_DATA_DIR": str(self.scratch / "s3"),
                "TMPDIR": str(self.scratch),
                # Lambda functions run as local worker processes (there is no Docker engine here), with the
                # server's environment: the endpoint and fake credentials below are what the Lambda sees.
                "LAMBDA_EXECUTOR": "local",
                "DOCKER_HOST": "unix://" + str(self.scratch / "no-docker.sock"),
                "AWS_ENDPOINT_URL": self.endpoint,
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": REGION,
                "AWS_CONFIG_FILE": os.environ["AWS_CONFIG_FILE"],
                "AWS_SHARED_CREDENTIALS_FILE": os.environ["AWS_SHARED_CREDENTIALS_FILE"],
                "AWS_EC2_METADATA_DISABLED": "true",
                # Step Functions Wait states are skipped: MiniStack's RDS changes state at once, so the
                # waits the engine asks for (minutes, on AWS) would only cost time.
                "SFN_WAIT_SCALE": "0",
                "LOG_LEVEL": "WARNING",
            }
        )
        return env

    def start(self) -> None:
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [self.python, "-m", "ministack"],
            env=self.environment(),
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=self.scratch,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise E2EFailure(f"MiniStack exited with {self.process.returncode}; log:\n{self.tail()}")
            with (
                contextlib.suppress(OSError),
                urllib.request.urlopen(f"{self.endpoint}/_ministack/health", timeout=2) as reply,
            ):
                if reply.status == 200:
                    return
            time.sleep(0.2)
        raise E2EFailure(f"MiniStack did not answer on {self.endpoint} within 60 s; log:\n{self.tail()}")

    def check_loopback_only(self) -> list[str]:
        assert self.process is not None
        addresses = listening_addresses(self.process.pid)
        if not addresses:
            raise E2EFailure("found no listening socket of the MiniStack process to check")
        outside = [a for a in addresses if not ipaddress.ip_address(a.rsplit(":", 1)[0]).is_loopback]
        if outside:
            raise E2EFailure(f"MiniStack listens beyond loopback: {outside}")
        return addresses

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def tail(self, lines: int = 40) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        return ""


@contextlib.contextmanager
def running(server: Server) -> Iterator[Server]:
    def on_signal(signum: int, _frame: Any) -> None:
        server.stop()
        raise SystemExit(128 + signum)

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        server.start()
        yield server
    finally:
        server.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


# ---------------------------------------------------------------- reporting


@dataclass
class Report:
    passed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    def ok(self, what: str) -> None:
        self.passed.append(what)
        print(f"PASS {what}", flush=True)

    def skip(self, what: str, why: str) -> None:
        self.skipped.append(what)
        print(f"SKIP {what}: {why}", flush=True)


def check(condition: bool, message: str) -> None:
    if not condition:
        raise E2EFailure(message)


# ---------------------------------------------------------------- AWS helpers


def client(service: str) -> Any:
    import boto3

    # No endpoint_url here on purpose: boto3 takes AWS_ENDPOINT_URL from the environment, as the CLI does.
    made = boto3.session.Session(region_name=REGION).client(service)  # type: ignore[call-overload]
    require_loopback(made.meta.endpoint_url)
    return made


def zip_bundle(bundle: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(bundle.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(bundle).as_posix())
    return buffer.getvalue()


@dataclass
class Stack:
    function_arn: str
    machine_arn: str
    queue_url: str
    store_url: str


def deploy(bundle: Path, report: Report, cli: Callable[..., tuple[int, str]]) -> Stack:
    template = load_template(ROOT / "sfn" / "template.yaml")
    resources = template["Resources"]

    # The store, as `rds-maint init` creates it (the stack's table has the same keys and indexes).
    store_url = f"dynamodb://{TABLE}"
    rc, out = cli("init", "--store", store_url)
    check(rc == 0, f"rds-maint init --store {store_url} exited {rc}: {out}")
    table = client("dynamodb").describe_table(TableName=TABLE)["Table"]
    check(table["TableStatus"] == "ACTIVE", f"table {TABLE} is {table['TableStatus']}")
    report.ok(f"store: rds-maint init made DynamoDB table {TABLE} ({len(table.get('GlobalSecondaryIndexes', []))} GSI)")

    # The engine Lambda from the real bundle, configured as the template's EngineFunction.
    props = resources["EngineFunction"]["Properties"]
    variables = {"RDS_MAINT_STORE": store_url}  # the template's only variable, for the DynamoDB store
    template_vars = set(props.get("Environment", {}).get("Variables", {}))
    check(template_vars == {"RDS_MAINT_STORE"}, f"the template's function environment changed: {template_vars}")
    lam = client("lambda")
    code = zip_bundle(bundle)
    created = lam.create_function(
        FunctionName=FUNCTION,
        Runtime=props["Runtime"],
        Handler=props["Handler"],
        Role=FAKE_ROLE,
        Code={"ZipFile": code},
        Timeout=int(props["Timeout"]),
        MemorySize=int(props["MemorySize"]),
        Environment={"Variables": variables},
    )
    function_arn = created["FunctionArn"]
    waiter = lam.get_waiter("function_active_v2")
    waiter.wait(FunctionName=FUNCTION, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    report.ok(f"lambda: {FUNCTION} from {bundle} ({len(code) // 1024} KiB zip), handler {props['Handler']}")

    # The state machine from the shipped ASL, ${LambdaArn} substituted as DefinitionSubstitutions does.
    machine_props = resources["StateMachine"]["Properties"]
    check(
        set(machine_props["DefinitionSubstitutions"]) == {"LambdaArn"}, "the template substitutes more than LambdaArn"
    )
    definition = (ROOT / "sfn" / "rds-maint-machine.asl.json").read_text().replace("${LambdaArn}", function_arn)
    check("${" not in definition, "a ${...} placeholder is left in the ASL after substitution")
    machine_arn = client("stepfunctions").create_state_machine(
        name=MACHINE, definition=definition, roleArn=FAKE_ROLE, type=machine_props["Type"]
    )["stateMachineArn"]
    report.ok(f"state machine: {MACHINE} from sfn/rds-maint-machine.asl.json")

    # The InterventionRequired rule and its Lambda target, read from the template.
    events = client("events")
    rule_props = resources["InterventionRule"]["Properties"]
    pattern = dict(rule_props["EventPattern"])
    if "resources" in pattern:
        # AWS appends the execution and state machine ARNs to each entry's Resources; MiniStack does not,
        # so a rule that matches on them would never fire here.
        del pattern["resources"]
        report.skip(
            "InterventionRule 'resources' filter (the state machine ARN)",
            "MiniStack's events:putEvents integration does not append the execution and state machine ARNs to "
            "Resources as AWS does; the rule is deployed without that one key",
        )
    events.put_rule(Name=RULE, EventPattern=json.dumps(pattern), State=rule_props["State"])
    [record] = [t for t in rule_props["Targets"] if t["Id"] == "RecordTaskToken"]
    transformer = record["InputTransformer"]
    lam.add_permission(
        FunctionName=FUNCTION,
        StatementId="events-intervention",
        Action="lambda:InvokeFunction",
        Principal="events.amazonaws.com",
        SourceArn=f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{RULE}",
    )
    events.put_targets(
        Rule=RULE,
        Targets=[
            {
                "Id": record["Id"],
                "Arn": function_arn,
                "InputTransformer": {
                    "InputPathsMap": transformer["InputPathsMap"],
                    "InputTemplate": transformer["InputTemplate"],
                },
                "RetryPolicy": record["RetryPolicy"],
            }
        ],
    )
    report.ok("eventbridge: InterventionRequired -> Lambda record_intervention, as in sfn/template.yaml")

    # An operator's own rule on the same source and detail-type (README), into a queue the run reads the
    # notices (and their task tokens) from, as a person would from their subscription.
    sqs = client("sqs")
    queue_url = sqs.create_queue(QueueName=NOTICE_QUEUE)["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(
        Name=NOTICE_RULE,
        EventPattern=json.dumps({"source": ["rds-maint-machine"], "detail-type": ["InterventionRequired"]}),
        State="ENABLED",
    )
    events.put_targets(Rule=NOTICE_RULE, Targets=[{"Id": "operator-queue", "Arn": queue_arn}])
    report.ok("eventbridge: operator rule InterventionRequired -> SQS (where the run reads notices)")
    return Stack(function_arn, machine_arn, queue_url, store_url)


def create_cluster() -> None:
    rds = client("rds")
    rds.create_db_cluster(
        DBClusterIdentifier=CLUSTER,
        Engine="aurora-postgresql",
        EngineVersion=ENGINE_VERSION,
        MasterUsername="postgres",
        MasterUserPassword="not-a-secret-1",
        AvailabilityZones=[f"{REGION}a", f"{REGION}b", f"{REGION}c"],
    )
    for instance, zone, tier in ((WRITER, "a", 1), (READER, "b", 1)):
        rds.create_db_instance(
            DBInstanceIdentifier=instance,
            DBClusterIdentifier=CLUSTER,
            DBInstanceClass=START_CLASS,
            Engine="aurora-postgresql",
            AvailabilityZone=f"{REGION}{zone}",
            PromotionTier=tier,
        )


@dataclass(frozen=True)
class ClusterView:
    writer: str | None
    classes: dict[str, str]
    statuses: dict[str, str]
    storage_type: str | None
    status: str
    tags: dict[str, str]


def look_at_cluster() -> ClusterView:
    rds = client("rds")
    cluster = rds.describe_db_clusters(DBClusterIdentifier=CLUSTER)["DBClusters"][0]
    instances = rds.describe_db_instances(Filters=[{"Name": "db-cluster-id", "Values": [CLUSTER]}])["DBInstances"]
    writers = [m["DBInstanceIdentifier"] for m in cluster.get("DBClusterMembers", []) if m.get("IsClusterWriter")]
    tags = rds.list_tags_for_resource(ResourceName=cluster["DBClusterArn"]).get("TagList", [])
    return ClusterView(
        writer=writers[0] if len(writers) == 1 else None,
        classes={i["DBInstanceIdentifier"]: i["DBInstanceClass"] for i in instances},
        statuses={i["DBInstanceIdentifier"]: i["DBInstanceStatus"] for i in instances},
        storage_type=cluster.get("StorageType"),
        status=cluster["Status"],
        tags={t["Key"]: t["Value"] for t in tags},
    )


def check_cluster_clean(view: ClusterView, expected_class: str, what: str) -> None:
    """What every finished temp-instance operation must leave: the original writer, no temp, no lock tag."""
    check(view.writer == WRITER, f"{what}: writer is {view.writer}, expected {WRITER}")
    check(set(view.classes) == {WRITER, READER}, f"{what}: instances are {sorted(view.classes)} (a temp one left?)")
    check(
        all(c == expected_class for c in view.classes.values()),
        f"{what}: classes are {view.classes}, expected {expected_class}",
    )
    check(all(s == "available" for s in view.statuses.values()), f"{what}: statuses {view.statuses}")
    check(
        not any(k.startswith("rds-maint:active") for k in view.tags),
        f"{what}: the cluster still carries a lock tag: {view.tags}",
    )


def orderable(instance_class: str) -> bool:
    options = client("rds").describe_orderable_db_instance_options(
        Engine="aurora-postgresql", EngineVersion=ENGINE_VERSION, DBInstanceClass=instance_class
    )
    return any(o["DBInstanceClass"] == instance_class for o in options["OrderableDBInstanceOptions"])


def list_operations(cli: Callable[..., tuple[int, str]], store: str) -> list[dict[str, Any]]:
    rc, out = cli("list", "--store", store, "--output", "json", quiet=True)
    check(rc == 0, f"rds-maint list exited {rc}: {out}")
    data = json.loads(out[out.index("[") :]) if "[" in out else []
    return [d for d in data if isinstance(d, dict)]


def wait_execution(arn: str, done: Callable[[dict[str, Any]], bool], what: str) -> dict[str, Any]:
    sfn = client("stepfunctions")
    deadline = time.monotonic() + EXECUTION_TIMEOUT
    while time.monotonic() < deadline:
        described: dict[str, Any] = sfn.describe_execution(executionArn=arn)
        if done(described):
            return described
        if described["status"] != "RUNNING":
            raise E2EFailure(f"{what}: execution ended {described['status']}: {_history_tail(arn)}")
        time.sleep(0.5)
    raise E2EFailure(f"{what}: execution still {described['status']} after {EXECUTION_TIMEOUT:.0f} s")


def wait_ended(arn: str, status: str, what: str) -> dict[str, Any]:
    described = wait_execution(arn, lambda d: d["status"] != "RUNNING", what)
    check(
        described["status"] == status,
        f"{what}: execution ended {described['status']}, expected {status}: {_history_tail(arn)}",
    )
    return described


def _history_tail(arn: str) -> str:
    events = client("stepfunctions").get_execution_history(executionArn=arn, reverseOrder=True, maxResults=6)
    return json.dumps([{k: v for k, v in e.items() if k != "timestamp"} for e in events["events"]], default=str)[:3000]


def next_notice(queue_url: str, operation_id: str | None, what: str) -> dict[str, Any]:
    """The next InterventionRequired notice (its detail) from the operator queue, for this operation."""
    sqs = client("sqs")
    deadline = time.monotonic() + EXECUTION_TIMEOUT
    while time.monotonic() < deadline:
        got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for message in got.get("Messages", []):
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            event = json.loads(message["Body"])
            detail: dict[str, Any] = event["detail"]
            if operation_id is None or detail.get("operation_id") == operation_id:
                return detail
    raise E2EFailure(f"{what}: no InterventionRequired notice within {EXECUTION_TIMEOUT:.0f} s")


def drain(queue_url: str) -> None:
    client("sqs").purge_queue(QueueUrl=queue_url)


# ---------------------------------------------------------------- the CLI


def make_cli(rds_maint: str, env: dict[str, str]) -> Callable[..., tuple[int, str]]:
    def run(*args: str, quiet: bool = False) -> tuple[int, str]:
        done = subprocess.run(
            [rds_maint, *args],
            env=env,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            timeout=EXECUTION_TIMEOUT,
            check=False,
        )
        out = done.stdout + done.stderr
        if quiet:
            return done.returncode, out
        print(f"  $ rds-maint {' '.join(args)}  -> exit {done.returncode}", flush=True)
        for line in out.strip().splitlines()[:12]:
            print(f"    {line}", flush=True)
        return done.returncode, out

    return run


def yes_flag(cli: Callable[..., tuple[int, str]], command: str = "start-execution") -> list[str]:
    """`--yes` where the CLI asks for confirmation of a new operation (DESIGN section 10), else nothing."""
    _, out = cli(command, "--help", quiet=True)
    return ["--yes"] if "--yes" in out else []


def status_json(cli: Callable[..., tuple[int, str]], operation_id: str, store: str) -> dict[str, Any]:
    """`rds-maint status OP --output json`: the operation as the CLI shows it (token masked)."""
    rc, out = cli("status", operation_id, "--store", store, "--output", "json", quiet=True)
    check(rc in (0, 1, 3), f"rds-maint status {operation_id} exited {rc}: {out[-1000:]}")
    data: dict[str, Any] = json.JSONDecoder().raw_decode(out[out.index("{") :])[0]["operation"]
    return data


def wait_token_recorded(cli: Callable[..., tuple[int, str]], operation_id: str, store: str) -> dict[str, Any]:
    """The Lambda's record_intervention (fed by the EventBridge rule) has stored the task token."""
    deadline = time.monotonic() + EXECUTION_TIMEOUT
    while time.monotonic() < deadline:
        data = status_json(cli, operation_id, store)
        if data.get("intervention") and data["intervention"].get("task_token"):
            return data
        time.sleep(1)
    raise E2EFailure(f"{operation_id}: no task token recorded by the Lambda within {EXECUTION_TIMEOUT:.0f} s")


# ---------------------------------------------------------------- scenarios


def scenario_aws_start_execution(stack: Stack, report: Report, cli: Callable[..., tuple[int, str]]) -> None:
    """`aws stepfunctions start-execution --input file://examples/instance_type_change.json`, as the README says."""
    sfn = client("stepfunctions")
    body = (ROOT / "examples" / "instance_type_change.json").read_text()
    example_class = json.loads(body)["params"]["params"]["target_instance_type"]
    before = look_at_cluster()
    if not orderable(example_class):
        # The example as shipped: the Lambda's create refuses it (bad input: nothing written, nothing changed).
        started = sfn.start_execution(stateMachineArn=stack.machine_arn, input=body)
        described = wait_ended(started["executionArn"], "FAILED", "start-execution with the example as shipped")
        check(described.get("error") == "CreateRejected", f"the example failed with {described.get('error')}")
        check("not orderable" in (described.get("cause") or ""), f"unexpected cause: {described.get('cause')}")
        check(look_at_cluster() == before, "a rejected request changed the cluster")
        report.skip(
            f"examples/instance_type_change.json as shipped ({example_class})",
            f"MiniStack's DescribeOrderableDBInstanceOptions lists a fixed 10 classes without {example_class}; "
            f"the run checked the Lambda rejects it (CreateRejected, cluster untouched) and sends the same file "
            f"with {TARGETS[0]}",
        )
        body = body.replace(example_class, TARGETS[0])
    target = json.loads(body)["params"]["params"]["target_instance_type"]
    started = sfn.start_execution(stateMachineArn=stack.machine_arn, input=body)
    described = wait_ended(started["executionArn"], "SUCCEEDED", "start-execution with examples/instance_type_change")
    view = look_at_cluster()
    check_cluster_clean(view, target, "instance_type_change from the example input")
    report.ok(
        f"aws stepfunctions start-execution --input examples/instance_type_change.json: SUCCEEDED, {view.classes}"
    )
    [operation] = [o for o in list_operations(cli, stack.store_url) if o.get("type") == "instance_type_change"]
    check(operation.get("state") == "completed", f"{operation.get('id')}: the store says {operation.get('state')}")
    report.ok(f"store: operation {operation.get('id')} completed")


def scenario_cli_respond(stack: Stack, report: Report, cli: Callable[..., tuple[int, str]]) -> None:
    """`rds-maint start-execution ... --pause-before failback`, answered with `rds-maint respond --action continue`."""
    target = TARGETS[1]
    drain(stack.queue_url)
    command = (
        "start-execution", "--type", "instance_type_change", "--cluster", CLUSTER, "--region", REGION,
        "--param", f"target_instance_type={target}", "--pause-before", "failback", *yes_flag(cli),
        "--state-machine-arn", stack.machine_arn, "--store", stack.store_url, "--output", "json",
    )  # fmt: skip
    rc, out = cli(*command)
    check(rc == 0, f"rds-maint start-execution exited {rc}")
    execution_arn = json.loads(out[out.index("{") :])["execution_arn"]
    rc, out = cli(*command)
    again = json.loads(out[out.index("{") :])
    check(rc == 0 and not again["started"], f"the same request started again (exit {rc}): {again}")
    check(again["execution_arn"] == execution_arn, f"the repeat names {again['execution_arn']}, not {execution_arn}")
    report.ok("rds-maint start-execution with the same request again reports the running execution (exit 0)")
    notice = next_notice(stack.queue_url, None, "rds-maint start-execution --pause-before failback")
    operation_id = str(notice["operation_id"])
    check(notice["step_name"] == "failback", f"the notice is for step {notice['step_name']}, expected failback")
    contract = {
        "operation_id",
        "task_token",
        "pause_reason",
        "step_name",
        "step_index",
        "cluster_id",
        "allowed_actions",
    }
    check(contract <= set(notice), f"the notice lacks {sorted(contract - set(notice))}")
    check(notice["cluster_id"] == CLUSTER and notice["pause_reason"], f"the notice says {notice}")
    view = look_at_cluster()
    check(view.writer not in (WRITER, READER), f"paused before failback, the writer should be the temp: {view.writer}")
    report.ok(f"InterventionRequired notice before failback for {operation_id} (writer {view.writer}, the temp)")

    data = wait_token_recorded(cli, operation_id, stack.store_url)
    masked = str(data["intervention"]["task_token"])
    check(masked != notice["task_token"], "rds-maint status shows the task token unmasked")
    report.ok("EventBridge rule -> Lambda record_intervention stored the task token (status shows it masked)")

    rc, _ = cli("respond", operation_id, "--action", "continue", "--comment", "e2e", "--store", stack.store_url)
    check(rc == 0, f"rds-maint respond exited {rc}")
    wait_ended(execution_arn, "SUCCEEDED", "after rds-maint respond --action continue")
    view = look_at_cluster()
    check_cluster_clean(view, target, "after respond continue")
    check(status_json(cli, operation_id, stack.store_url).get("state") == "completed", "operation not completed")
    report.ok(f"rds-maint respond --action continue: SUCCEEDED, cluster {view.classes}, writer {view.writer}")

    rc, out = cli("respond", operation_id, "--action", "continue", "--store", stack.store_url)
    check(rc == 2, f"a second respond on a completed operation exited {rc}, expected 2")
    report.ok("rds-maint respond with nothing pending refuses (exit 2)")


def scenario_resume_and_abort(stack: Stack, report: Report, cli: Callable[..., tuple[int, str]]) -> None:
    """A stopped execution resumed by operation id (both ways), then aborted with `send-task-failure`."""
    before = look_at_cluster()
    target = TARGETS[2]
    drain(stack.queue_url)
    request = json.loads((ROOT / "examples" / "instance_type_change.json").read_text())
    request["params"]["params"]["target_instance_type"] = target
    request["params"]["pause_before_steps"] = ["failback"]
    sfn = client("stepfunctions")
    first = sfn.start_execution(stateMachineArn=stack.machine_arn, input=json.dumps(request))["executionArn"]
    notice = next_notice(stack.queue_url, None, "start-execution with pause_before_steps")
    operation_id = str(notice["operation_id"])
    sfn.stop_execution(executionArn=first, error="E2E.Stopped", cause="the e2e run stops it to resume it")
    wait_ended(first, "ABORTED", "stop_execution")
    check(status_json(cli, operation_id, stack.store_url).get("state") == "paused", "stopped: the store lost the pause")
    report.ok(f"{operation_id}: execution stopped while paused; the store keeps it paused")

    # Resume 1: aws stepfunctions start-execution --name OPERATION_ID-r1 --input '{"operation_id": ...}'.
    resume_input = json.loads((ROOT / "examples" / "resume.json").read_text())
    resume_input["operation_id"] = operation_id
    resume_input["cluster_id"] = CLUSTER
    second = sfn.start_execution(
        stateMachineArn=stack.machine_arn, name=f"{operation_id}-r1", input=json.dumps(resume_input)
    )["executionArn"]
    again = next_notice(stack.queue_url, operation_id, "resume with aws stepfunctions start-execution")
    check(again["step_name"] == "failback", f"resumed notice is for {again['step_name']}")
    sfn.stop_execution(executionArn=second, error="E2E.Stopped", cause="stopped again")
    wait_ended(second, "ABORTED", "second stop_execution")
    report.ok(f"resume by operation id (aws stepfunctions start-execution --name {operation_id}-r1): a new notice")

    # Resume 2: rds-maint start-execution OPERATION_ID.
    rc, out = cli(
        "start-execution", operation_id, "--state-machine-arn", stack.machine_arn, "--store", stack.store_url,
        "--output", "json",
    )  # fmt: skip
    check(rc == 0, f"rds-maint start-execution {operation_id} exited {rc}")
    third = json.loads(out[out.index("{") :])["execution_arn"]
    latest = next_notice(stack.queue_url, operation_id, "resume with rds-maint start-execution OPERATION_ID")
    report.ok(f"resume by operation id (rds-maint start-execution {operation_id}): a new notice")

    # Answer with the token from the notice: aws stepfunctions send-task-failure --error OperationAborted.
    sfn.send_task_failure(taskToken=latest["task_token"], error="OperationAborted", cause="e2e: window closed")
    ended = wait_ended(third, "FAILED", "after send-task-failure OperationAborted")
    check(ended.get("error") == "OperationAborted", f"the aborted execution failed with {ended.get('error')}")
    final = status_json(cli, operation_id, stack.store_url)
    check(final.get("state") == "failed", f"aborted operation is {final.get('state')}, expected failed")
    view = look_at_cluster()
    # Abort fails back to the original writer and deletes the temp instance; changed classes stay changed.
    check(view.writer == WRITER, f"after abort the writer is {view.writer}, expected {WRITER}")
    check(set(view.classes) == {WRITER, READER}, f"after abort instances are {sorted(view.classes)}")
    check(before.writer == WRITER, "precondition: the writer was the original before this scenario")
    report.ok(f"send-task-failure OperationAborted: operation failed (aborted), writer {view.writer}, temp deleted")


def scenario_s3_store_run(report: Report, cli: Callable[..., tuple[int, str]]) -> None:
    """An S3 store made by `rds-maint init`, and `rds-maint run` driving an operation in-process against it."""
    store = f"s3://{BUCKET}/rds-maint"
    rc, out = cli("init", "--store", store)
    check(rc == 0, f"rds-maint init --store {store} exited {rc}")
    s3 = client("s3")
    versioning = s3.get_bucket_versioning(Bucket=BUCKET).get("Status")
    check(versioning == "Enabled", f"bucket {BUCKET} versioning is {versioning}")
    report.ok(f"store: rds-maint init made S3 bucket {BUCKET} (versioning {versioning})")
    before = look_at_cluster()
    rc, out = cli(
        "run", "--type", "instance_cycle", "--cluster", CLUSTER, "--region", REGION,
        *yes_flag(cli, "run"), "--store", store,
    )  # fmt: skip
    check(rc == 0, f"rds-maint run instance_cycle exited {rc}: {out[-2000:]}")
    [operation] = list_operations(cli, store)
    check(operation.get("state") == "completed", f"{operation.get('id')} is {operation.get('state')} in the S3 store")
    view = look_at_cluster()
    check(view.writer == WRITER and view.classes == before.classes, f"after the cycle: {view}")
    check(set(view.classes) == {WRITER, READER}, f"after the cycle instances are {sorted(view.classes)}")
    restarted = {
        e["SourceIdentifier"]
        for e in client("rds").describe_events(SourceType="db-instance", Duration=60)["Events"]
        if "restarted" in e.get("Message", "")
    }
    check({WRITER, READER} <= restarted, f"RDS events show restarts of {sorted(restarted)}, expected both instances")
    report.ok(
        f"rds-maint run instance_cycle (S3 store): completed, {sorted(restarted)} restarted, writer {view.writer}"
    )
    report.skip(
        "storage_type_change (Aurora StorageType aurora-iopt1)",
        "MiniStack's DB clusters carry no StorageType: ModifyDBCluster ignores it and DescribeDBClusters never "
        "shows it, so the change could never be seen to finish",
    )


SCENARIOS: dict[str, Callable[[Stack, Report, Callable[..., tuple[int, str]]], None]] = {
    "example": scenario_aws_start_execution,
    "respond": scenario_cli_respond,
    "resume": scenario_resume_and_abort,
    "s3": lambda _stack, report, cli: scenario_s3_store_run(report, cli),
}


# ---------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--ministack-python", required=True, help="interpreter with ministack installed")
    parser.add_argument("--bundle", required=True, type=Path, help="the Lambda bundle directory (make package)")
    parser.add_argument("--rds-maint", default=str(Path(sys.executable).parent / "rds-maint"), help="the CLI")
    parser.add_argument(
        "--scenarios", nargs="+", choices=list(SCENARIOS), default=list(SCENARIOS), help="which to run (all)"
    )
    parser.add_argument("--port", type=int, default=0, help="loopback port for MiniStack (default: a free one)")
    args = parser.parse_args(argv)
    args.bundle = args.bundle.resolve()
    check_bundle = args.bundle / "rds_maint" / "lambda_handler.py"
    if not check_bundle.is_file():
        raise SystemExit(f"e2e: {check_bundle} is missing: build the bundle with `make package` first")

    started = time.monotonic()
    report = Report()
    with tempfile.TemporaryDirectory(prefix="rds-maint-e2e-") as tmp:
        scratch = Path(tmp)
        port = args.port or free_loopback_port()
        endpoint = require_loopback(f"http://127.0.0.1:{port}")
        sandbox_environment(endpoint, scratch)
        server = Server(python=str(Path(args.ministack_python).absolute()), port=port, scratch=scratch)
        version = subprocess.run(
            [args.ministack_python, "-c", "import importlib.metadata as m; print(m.version('ministack'))"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        print(f"e2e: MiniStack {version} on {endpoint} (BIND_HOST=127.0.0.1), scratch {scratch}", flush=True)
        cli_env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("RDS_MAINT_")},
            "RDS_MAINT_POLL_INTERVAL": "1",
        }
        cli = make_cli(args.rds_maint, cli_env)
        try:
            with running(server):
                report.ok(f"MiniStack listens on loopback only: {', '.join(server.check_loopback_only())}")
                create_cluster()
                view = look_at_cluster()
                check(view.writer == WRITER, f"new cluster writer is {view.writer}")
                report.ok(f"cluster {CLUSTER}: writer {WRITER}, reader {READER}, {START_CLASS}")
                stack = deploy(args.bundle, report, cli)
                for name in args.scenarios:
                    SCENARIOS[name](stack, report, cli)
                report.skip(
                    "engine_upgrade (Blue/Green deployment, switchover, old-cluster cleanup)",
                    "MiniStack has no Blue/Green deployment API (CreateBlueGreenDeployment and the rest are absent)",
                )
                report.ok(f"MiniStack still listens on loopback only: {', '.join(server.check_loopback_only())}")
        except (E2EFailure, ClientError, WaiterError, subprocess.TimeoutExpired) as failure:
            print(f"FAIL {failure}", file=sys.stderr, flush=True)
            print(f"--- MiniStack log (last lines) ---\n{server.tail()}", file=sys.stderr, flush=True)
            print(f"{len(report.passed)} passed, 1 failed, {len(report.skipped)} skipped", flush=True)
            return 1
    elapsed = time.monotonic() - started
    print(f"e2e: {elapsed:.1f} s", flush=True)
    print(f"{len(report.passed)} passed, 0 failed, {len(report.skipped)} skipped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
