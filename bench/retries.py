"""Sends and virtual seconds per logical RDS call (and state store call) when AWS keeps failing it.

Plain script, no assertions: it prints a table. Each case makes one logical call through the
gateway (`RdsGateway` over `make_rds_client`, as the engine does) while every request it sends
is answered with the same fault: throttling (400), 503, or a failed connection. Sends are
counted at botocore's `before-send` (rds_sim/sends.py), which sees every attempt, the
SDK's own retries included. Every sleep (botocore's and the gateway's) is virtual: it adds to
the clock instead of waiting. Delays are random (full jitter), so seconds are the mean and the
maximum over `--trials` runs with a fixed seed (each with a new client, as a new process has).

Nothing leaves the machine: every request is answered by the fault, and the RDS endpoint points
at 127.0.0.1 besides.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from unittest import mock

import boto3
from botocore.config import Config
from store_faults import STORE_CASES, StoreCase, StoreMeasured, measure_store

from rds_maint.errors import AwsError
from rds_maint.rds import RdsGateway, make_rds_client
from rds_sim.sends import WireFaults, WireKind

REGION = "us-east-1"


@dataclass(frozen=True)
class Case:
    name: str
    operation: str
    kind: WireKind
    call: Callable[[RdsGateway], object]


REBOOT = "RebootDBInstance"


def _reboot(rds: RdsGateway) -> object:
    rds.reboot_instance("db-1")
    return None


CASES = (
    Case(
        "throttled read (DescribeDBClusters)",
        "DescribeDBClusters",
        "throttle",
        lambda rds: rds.cluster_roles("c1"),
    ),
    Case("503'd read (DescribeDBClusters)", "DescribeDBClusters", "unavailable", lambda rds: rds.cluster_roles("c1")),
    Case(
        "connection error, read (DescribeDBClusters)",
        "DescribeDBClusters",
        "connection",
        lambda rds: rds.cluster_roles("c1"),
    ),
    Case(
        "throttled mutating call (ModifyDBInstance)",
        "ModifyDBInstance",
        "throttle",
        lambda rds: rds.modify_instance("db-1", instance_class="db.r6g.xlarge"),
    ),
    Case(
        "503'd mutating call (ModifyDBInstance)",
        "ModifyDBInstance",
        "unavailable",
        lambda rds: rds.modify_instance("db-1", instance_class="db.r6g.xlarge"),
    ),
    Case(
        "connection error, mutating (FailoverDBCluster)",
        "FailoverDBCluster",
        "connection",
        lambda rds: rds.failover("c1", "db-2"),
    ),
    # A reboot is never sent twice by one call, whatever the answer: even after a throttling answer the
    # gateway hands it back, and the action looks at the instance's events before it reboots again.
    Case("throttled reboot (RebootDBInstance)", REBOOT, "throttle", _reboot),
    Case("503'd reboot (RebootDBInstance)", REBOOT, "unavailable", _reboot),
    Case("connection error, reboot (RebootDBInstance)", REBOOT, "connection", _reboot),
)

# The same calls through a client with botocore's own default retries (standard mode, 3 attempts), as a
# boto3 client gets them unless told otherwise: what `retry.SDK_RETRIES` (one send) keeps us from.
SDK_DEFAULT_CASES = (CASES[0], CASES[4], CASES[7])


@dataclass
class Measured:
    sends: list[int]
    seconds: list[float]
    raised: str


def _environment() -> None:
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ENDPOINT_URL_RDS": "http://127.0.0.1:9",
            "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9",
            "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:9",
            "AWS_EC2_METADATA_DISABLED": "true",
        }
    )
    for name in ("AWS_PROFILE", "AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE"):
        os.environ.pop(name, None)


def sdk_default_client(region: str) -> Any:
    """An RDS client as boto3 makes one by default: botocore's standard retry mode, 3 attempts."""
    session = boto3.session.Session(region_name=region)
    return session.client("rds", config=Config(retries={"mode": "standard"}))


def measure(case: Case, trials: int, seed: int, make_client: Callable[[str], Any] = make_rds_client) -> Measured:
    result = Measured([], [], "")
    for trial in range(trials):
        random.seed(seed + trial)
        slept: list[float] = []
        # A client of its own per logical call: botocore's standard mode keeps a retry quota per client,
        # which a long series of failures on one client would drain (and so hide what one call costs).
        client = make_client(REGION)
        wire = WireFaults(client)
        wire.arm(case.operation, case.kind)
        rds = RdsGateway(client, sleep=slept.append)
        # botocore sleeps between its own retries with time.sleep (botocore/endpoint.py): count it too.
        with mock.patch.object(time, "sleep", slept.append):
            try:
                case.call(rds)
                result.raised = "none"
            except AwsError as exc:
                result.raised = f"{type(exc).__name__} {exc.code}"
        result.sends.append(wire.sends[case.operation])
        result.seconds.append(sum(slept))
    return result


def sends_text(sends: list[int]) -> str:
    """The sends per call: one figure when every trial sent as many, else the range."""
    return f"{min(sends)}" if min(sends) == max(sends) else f"{min(sends)}-{max(sends)}"


def seconds_text(seconds: list[float]) -> str:
    """Virtual seconds slept per call: median [min-max]."""
    return f"{statistics.median(seconds):.1f} [{min(seconds):.1f}-{max(seconds):.1f}]"


def render(
    rows: list[tuple[Case, Measured]],
    trials: int,
    sdk_rows: list[tuple[Case, Measured]] | None = None,
    store_rows: list[tuple[StoreCase, StoreMeasured]] | None = None,
) -> str:
    lines = [
        f"Sends per logical call and virtual seconds it waits, AWS failing every send ({trials} trials each)",
        "",
        "Sends are counted at botocore's before-send (every attempt, the SDK's own included). rds-maint's",
        "clients send each request once (retry.SDK_RETRIES); the gateway is the only retry layer. Seconds",
        "are the backoff slept (virtual), median [min-max] over the trials (full jitter, fixed seeds).",
        "",
        "| case | sends per call | virtual seconds, median [min-max] | raised |",
        "|---|---:|---:|---|",
    ]
    for case, m in rows:
        lines.append(f"| {case.name} | {sends_text(m.sends)} | {seconds_text(m.seconds)} | {m.raised} |")
    if sdk_rows:
        lines += [
            "",
            "For comparison, the same calls through the gateway on a client with botocore's default retries",
            "(standard mode, 3 attempts), which rds-maint does not use:",
            "",
            "| case | sends per call | virtual seconds, median [min-max] | raised |",
            "|---|---:|---:|---|",
        ]
        for case, m in sdk_rows:
            lines.append(f"| {case.name} | {sends_text(m.sends)} | {seconds_text(m.seconds)} | {m.raised} |")
    if store_rows:
        lines += [
            "",
            "State store calls (bench/store_faults.py): the store's clients send once, the store's own layer",
            "retries throttling, 5xx and connection errors (every store write is conditional):",
            "",
            "| case | sends per call | virtual seconds, median [min-max] | raised |",
            "|---|---:|---:|---|",
        ]
        for store_case, sm in store_rows:
            lines.append(f"| {store_case.name} | {sends_text(sm.sends)} | {seconds_text(sm.seconds)} | {sm.raised} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    _environment()
    rows = [(case, measure(case, args.trials, args.seed)) for case in CASES]
    sdk_rows = [(case, measure(case, args.trials, args.seed, sdk_default_client)) for case in SDK_DEFAULT_CASES]
    store_rows = [(case, measure_store(case, args.trials, args.seed, REGION)) for case in STORE_CASES]
    print(render(rows, args.trials, sdk_rows, store_rows))


if __name__ == "__main__":
    main()
