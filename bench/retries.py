"""Sends and virtual seconds per logical RDS call when AWS keeps failing it.

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
from unittest import mock

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


CASES = (
    Case(
        "throttled read (DescribeDBClusters)",
        "DescribeDBClusters",
        "throttle",
        lambda rds: rds.cluster_roles("c1"),
    ),
    Case("503'd read (DescribeDBClusters)", "DescribeDBClusters", "unavailable", lambda rds: rds.cluster_roles("c1")),
    Case(
        "503'd mutating call (ModifyDBInstance)",
        "ModifyDBInstance",
        "unavailable",
        lambda rds: rds.modify_instance("db-1", instance_class="db.r6g.xlarge"),
    ),
    Case(
        "connection error, read (DescribeDBClusters)",
        "DescribeDBClusters",
        "connection",
        lambda rds: rds.cluster_roles("c1"),
    ),
    Case(
        "connection error, mutating (FailoverDBCluster)",
        "FailoverDBCluster",
        "connection",
        lambda rds: rds.failover("c1", "db-2"),
    ),
    Case(
        "throttled mutating call (ModifyDBInstance)",
        "ModifyDBInstance",
        "throttle",
        lambda rds: rds.modify_instance("db-1", instance_class="db.r6g.xlarge"),
    ),
)


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
            "AWS_EC2_METADATA_DISABLED": "true",
        }
    )
    for name in ("AWS_PROFILE", "AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE"):
        os.environ.pop(name, None)


def measure(case: Case, trials: int, seed: int) -> Measured:
    result = Measured([], [], "")
    for trial in range(trials):
        random.seed(seed + trial)
        slept: list[float] = []
        # A client of its own per logical call: botocore's standard mode keeps a retry quota per client,
        # which a long series of failures on one client would drain (and so hide what one call costs).
        client = make_rds_client(REGION)
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


def render(rows: list[tuple[Case, Measured]], trials: int) -> str:
    lines = [
        f"Sends and virtual seconds per logical call, AWS failing every send ({trials} trials each)",
        "",
        "| case | sends | seconds (mean) | seconds (max) | raised |",
        "|---|---:|---:|---:|---|",
    ]
    for case, m in rows:
        sends = f"{min(m.sends)}" if min(m.sends) == max(m.sends) else f"{min(m.sends)}-{max(m.sends)}"
        lines.append(
            f"| {case.name} | {sends} | {statistics.mean(m.seconds):.1f} | {max(m.seconds):.1f} | {m.raised} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    _environment()
    rows = [(case, measure(case, args.trials, args.seed)) for case in CASES]
    print(render(rows, args.trials))


if __name__ == "__main__":
    main()
