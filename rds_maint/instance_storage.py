"""Storage rules of RDS DB instances: pure, no I/O.

Shared by the DB instance storage preflight, plan and actions (and usable for a Multi-AZ DB cluster's
storage). Each figure names its source:

- types and the 10 % growth rule: botocore model, ModifyDBInstance `StorageType` ("gp2 | gp3 | io1 | io2 |
  standard") and `AllocatedStorage` ("at least 10% greater than the current value"; AWS rounds a smaller
  increase up silently: rds-maint refuses it instead, so that the plan shows what AWS will do);
- storage only grows: RDS User Guide, "Working with storage" ("you can't reduce the amount of storage");
- size ranges: botocore model, CreateDBInstance `AllocatedStorage` (MySQL, MariaDB, PostgreSQL: gp2/gp3 20 to
  65536 GiB, io1/io2 100 to 65536, standard 5 to 3072);
- gp3: RDS User Guide, "General Purpose SSD storage" (gp3 table): below 400 GiB (200 GiB for Oracle) the
  baseline is fixed at 3,000 IOPS and 125 MiB/s and AWS refuses other values (terraform-provider-aws#28589,
  #28382); from it on the baseline is 12,000 IOPS and 500 MiB/s, provisioned up to 64,000 IOPS and 4,000
  MiB/s; SQL Server has no threshold (3,000-16,000 IOPS, 125-1,000 MiB/s); throughput at most 0.25 MiB/s per
  IOPS, IOPS at most 500 per GiB;
- io1/io2: botocore model, CreateDBInstance `Iops` ("a multiple between .5 and 50 of the storage amount");
  io2 Block Express up to 1,000 IOPS per GiB (RDS User Guide, "Provisioned IOPS SSD storage"); 1,000 to
  256,000 IOPS (64,000 for SQL Server);
- `storage_throughput` applies to gp3 only (botocore model, ModifyDBInstance `StorageThroughput`);
- the 6-hour rule: after a storage change the next one is allowed once 6 hours have passed and the instance
  has left `storage-optimization`, whichever is later (re:Post "rds-stuck-in-storage-optimization";
  FIELD_NOTES 5.3). The last change is read from DescribeEvents (14 days): RDS-EVENT-0018 "Applying
  modification to allocated storage.", RDS-EVENT-0017 "Finished applying modification to allocated storage."
  and the autoscaling pair RDS-EVENT-0217/0218 (RDS User Guide, "Amazon RDS event categories and event
  messages"). Events are best effort: a missing event lets AWS have the last word.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from rds_maint.aurora_storage import as_utc
from rds_maint.errors import BadInput

if TYPE_CHECKING:  # only annotations read the snapshot type
    from rds_maint.snapshots import InstanceSnapshot

__all__ = [
    "GP3",
    "GROWTH_FACTOR",
    "OPTIMIZING",
    "PROVISIONED_IOPS",
    "STORAGE_CHANGE_WORDS",
    "STORAGE_COOLDOWN",
    "STORAGE_TYPES",
    "Gp3Limits",
    "InstanceStorageRequest",
    "StorageConfig",
    "as_utc",
    "changes_text",
    "gp3_limits",
    "last_storage_change",
    "minimum_growth",
    "next_storage_change_allowed",
    "orderable_refusal",
    "pending_storage",
    "resolve_storage",
    "shows",
    "storage_of",
]

GP2, GP3, IO1, IO2, STANDARD = "gp2", "gp3", "io1", "io2", "standard"
STORAGE_TYPES: tuple[str, ...] = (GP2, GP3, IO1, IO2, STANDARD)
PROVISIONED_IOPS: tuple[str, ...] = (IO1, IO2)
GROWTH_FACTOR = 1.10
STORAGE_COOLDOWN = timedelta(hours=6)
OPTIMIZING = "storage-optimization"
# What the storage modification events of a DB instance say (RDS-EVENT-0017/0018/0217/0218).
STORAGE_CHANGE_WORDS = "modification to allocated storage"

# GiB per storage type, MySQL / MariaDB / PostgreSQL (CreateDBInstance AllocatedStorage).
_SIZE_RANGES: dict[str, tuple[int, int]] = {
    GP2: (20, 65536),
    GP3: (20, 65536),
    IO1: (100, 65536),
    IO2: (100, 65536),
    STANDARD: (5, 3072),
}
# IOPS per GiB of io1 and io2 (CreateDBInstance Iops; RDS User Guide for io2 Block Express).
_IOPS_PER_GIB: dict[str, tuple[float, float]] = {IO1: (0.5, 50.0), IO2: (0.5, 1000.0)}
_GP3_MAX_IOPS_PER_GIB = 500.0
_GP3_MAX_THROUGHPUT_PER_IOPS = 0.25


@dataclass(frozen=True)
class StorageConfig:
    """A DB instance's storage as AWS shows it (or as a request wants it): None = not known / not set."""

    storage_type: str | None
    allocated_storage: int | None
    iops: int | None = None
    storage_throughput: int | None = None

    def text(self) -> str:
        parts = [str(self.storage_type), f"{self.allocated_storage} GiB"]
        if self.iops is not None:
            parts.append(f"{self.iops} IOPS")
        if self.storage_throughput is not None:
            parts.append(f"{self.storage_throughput} MiB/s")
        return ", ".join(parts)


@dataclass(frozen=True)
class Gp3Limits:
    """gp3 on one engine at one size: the baseline, and whether (and how far) IOPS/throughput can be set."""

    threshold_gib: int | None  # None: no threshold (SQL Server)
    baseline_iops: int
    baseline_throughput: int
    provisionable: bool
    iops_range: tuple[int, int]
    throughput_range: tuple[int, int]


@dataclass(frozen=True)
class InstanceStorageRequest:
    """What a storage change asks of AWS (`target`, with values to send) beside what the instance has now."""

    current: StorageConfig
    target: StorageConfig
    # Values of `target` the request did not give and rds-maint filled in (said in the plan).
    filled: tuple[str, ...] = ()

    def modify_arguments(self) -> dict[str, Any]:
        """ModifyDBInstance keywords of `RdsPort.modify_instance_storage`: the type, and what AWS wants with it
        (with gp3 from the threshold on and io1/io2, AWS wants Iops with a new size and the size with new Iops:
        botocore model, ModifyDBInstance AllocatedStorage and Iops)."""
        t = self.target
        provisioned = t.iops is not None
        return {
            "storage_type": t.storage_type,
            "iops": t.iops,
            "storage_throughput": t.storage_throughput,
            "allocated_storage": t.allocated_storage
            if provisioned or t.allocated_storage != self.current.allocated_storage
            else None,
        }


def _int(value: object) -> int | None:
    return int(value) if isinstance(value, int | float | str) and str(value).strip() != "" else None


def storage_of(instance: InstanceSnapshot) -> StorageConfig:
    """What a DB instance shows now."""
    return StorageConfig(instance.storage_type, instance.allocated_storage, instance.iops, instance.storage_throughput)


def pending_storage(pending: Mapping[str, Any]) -> StorageConfig | None:
    """The storage part of PendingModifiedValues (None: no storage change pending)."""
    config = StorageConfig(
        storage_type=str(pending["StorageType"]) if pending.get("StorageType") else None,
        allocated_storage=_int(pending.get("AllocatedStorage")),
        iops=_int(pending.get("Iops")),
        storage_throughput=_int(pending.get("StorageThroughput")),
    )
    return None if config == StorageConfig(None, None) else config


def shows(actual: StorageConfig, wanted: StorageConfig) -> bool:
    """`actual` has every value `wanted` sets (values `wanted` leaves None are not compared)."""
    return all(
        w is None or a == w
        for a, w in (
            (actual.storage_type, wanted.storage_type),
            (actual.allocated_storage, wanted.allocated_storage),
            (actual.iops, wanted.iops),
            (actual.storage_throughput, wanted.storage_throughput),
        )
    )


def gp3_limits(engine: str, allocated_storage: int) -> Gp3Limits:
    """gp3's figures for `engine` at `allocated_storage` GiB (RDS User Guide, gp3 table)."""
    if engine.startswith("sqlserver"):
        return Gp3Limits(None, 3000, 125, True, (3000, 16000), (125, 1000))
    threshold = 200 if engine.startswith("oracle") else 400
    if allocated_storage < threshold:
        return Gp3Limits(threshold, 3000, 125, False, (3000, 3000), (125, 125))
    return Gp3Limits(threshold, 12000, 500, True, (12000, 64000), (500, 4000))


def minimum_growth(current_gib: int) -> int:
    """The smallest new size AWS takes as it is: at least 10 % more (ModifyDBInstance AllocatedStorage)."""
    return -(-current_gib * 11 // 10)  # ceil(current x 1.10) in integers (floats make 100 x 1.1 > 110)


def _refuse(rule: str, given: str, accepted: str) -> BadInput:
    return BadInput(f"{rule}: {given}; {accepted}")


def _check_size(engine: str, current: StorageConfig, target_type: str, requested: int | None) -> int:
    now = current.allocated_storage or 0
    size = now if requested is None else requested
    if requested is not None and requested != now:
        if requested < now:
            raise _refuse(
                "storage only grows (AWS cannot shrink a DB instance's storage)",
                f"allocated_storage {requested} GiB is below the current {now} GiB",
                f"give {minimum_growth(now)} GiB or more, or leave allocated_storage out to keep {now} GiB",
            )
        if requested < minimum_growth(now):
            raise _refuse(
                "storage grows by at least 10 % (AWS rounds a smaller increase up to 10 %)",
                f"allocated_storage {requested} GiB is less than 10 % above the current {now} GiB",
                f"give at least {minimum_growth(now)} GiB, or leave allocated_storage out to keep {now} GiB",
            )
    low, high = _SIZE_RANGES[target_type]
    if engine.startswith("sqlserver"):
        high = 16384
    if not low <= size <= high:
        raise _refuse(
            f"{target_type} storage takes {low} to {high} GiB",
            f"the instance would have {size} GiB",
            f"give allocated_storage between {max(low, minimum_growth(now))} and {high} GiB"
            if size < low
            else f"choose another storage type ({', '.join(t for t in STORAGE_TYPES if _SIZE_RANGES[t][1] >= size)})",
        )
    return size


def _gp3(
    engine: str, current: StorageConfig, size: int, iops: int | None, throughput: int | None
) -> InstanceStorageRequest:
    limits = gp3_limits(engine, size)
    if not limits.provisionable:
        given = [f"{name} {value}" for name, value in (("iops", iops), ("storage_throughput", throughput)) if value]
        if given:
            raise _refuse(
                f"gp3 below {limits.threshold_gib} GiB on {engine} has a fixed baseline of {limits.baseline_iops} "
                f"IOPS and {limits.baseline_throughput} MiB/s and takes neither iops nor storage_throughput",
                f"{' and '.join(given)} given for {size} GiB",
                f"leave them out, or give allocated_storage {limits.threshold_gib} or more to provision them "
                f"({limits.iops_range[0] if limits.threshold_gib else 3000} IOPS and up)",
            )
        return InstanceStorageRequest(current, StorageConfig(GP3, size))
    filled: list[str] = []
    keep = current.storage_type == GP3
    if iops is None:
        iops = current.iops if keep and current.iops and current.iops >= limits.iops_range[0] else limits.baseline_iops
        filled.append(f"iops {iops}")
    if throughput is None:
        ok = keep and current.storage_throughput and current.storage_throughput >= limits.throughput_range[0]
        throughput = current.storage_throughput if ok and current.storage_throughput else limits.baseline_throughput
        filled.append(f"storage_throughput {throughput}")
    low, high = limits.iops_range
    max_by_size = int(size * _GP3_MAX_IOPS_PER_GIB)
    if not low <= iops <= min(high, max_by_size):
        raise _refuse(
            f"gp3 at {size} GiB on {engine} takes {low} to {min(high, max_by_size)} IOPS (at most "
            f"{high} and {_GP3_MAX_IOPS_PER_GIB:g} per GiB)",
            f"iops {iops}",
            f"give iops between {low} and {min(high, max_by_size)}",
        )
    t_low, t_high = limits.throughput_range
    t_max = min(t_high, int(iops * _GP3_MAX_THROUGHPUT_PER_IOPS))
    if not t_low <= throughput <= t_max:
        raise _refuse(
            f"gp3 at {size} GiB on {engine} takes {t_low} to {t_high} MiB/s, at most "
            f"{_GP3_MAX_THROUGHPUT_PER_IOPS:g} MiB/s per IOPS ({t_max} MiB/s with {iops} IOPS)",
            f"storage_throughput {throughput}",
            f"give storage_throughput between {t_low} and {t_max}"
            if t_max >= t_low
            else f"give more iops (at least {math.ceil(t_low / _GP3_MAX_THROUGHPUT_PER_IOPS)})",
        )
    return InstanceStorageRequest(current, StorageConfig(GP3, size, iops, throughput), tuple(filled))


def _provisioned(
    engine: str, current: StorageConfig, target_type: str, size: int, iops: int | None
) -> InstanceStorageRequest:
    filled: tuple[str, ...] = ()
    if iops is None:
        if current.storage_type != target_type or not current.iops:
            raise _refuse(
                f"{target_type} needs iops (Provisioned IOPS)",
                "no iops given",
                f"give iops between {_iops_bounds(engine, target_type, size)[0]} and "
                f"{_iops_bounds(engine, target_type, size)[1]} for {size} GiB",
            )
        iops, filled = current.iops, (f"iops {current.iops}",)
    low, high = _iops_bounds(engine, target_type, size)
    if not low <= iops <= high:
        per_low, per_high = _IOPS_PER_GIB[target_type]
        raise _refuse(
            f"{target_type} takes {per_low:g} to {per_high:g} IOPS per GiB, 1000 to "
            f"{64000 if engine.startswith('sqlserver') else 256000} IOPS in all",
            f"iops {iops} for {size} GiB",
            f"give iops between {low} and {high}" if low <= high else "give more allocated_storage",
        )
    return InstanceStorageRequest(current, StorageConfig(target_type, size, iops), filled)


def _iops_bounds(engine: str, target_type: str, size: int) -> tuple[int, int]:
    per_low, per_high = _IOPS_PER_GIB[target_type]
    top = 64000 if engine.startswith("sqlserver") else 256000
    return max(1000, math.ceil(size * per_low)), min(top, int(size * per_high))


def resolve_storage(
    engine: str,
    current: StorageConfig,
    *,
    storage_type: str,
    iops: int | None = None,
    storage_throughput: int | None = None,
    allocated_storage: int | None = None,
) -> InstanceStorageRequest:
    """The storage to ask AWS for, after every rule above; BadInput names the rule, the values and what works."""
    if storage_type not in STORAGE_TYPES:
        raise _refuse(
            "unknown storage type for a DB instance",
            f"target_storage_type {storage_type!r}",
            f"use one of {', '.join(STORAGE_TYPES)} (aurora and aurora-iopt1 are Aurora cluster types)",
        )
    if storage_throughput is not None and storage_type != GP3:
        raise _refuse(
            "storage_throughput applies to gp3 only",
            f"storage_throughput {storage_throughput} with {storage_type}",
            "leave storage_throughput out, or choose gp3",
        )
    if iops is not None and storage_type in (GP2, STANDARD):
        raise _refuse(
            f"{storage_type} has no provisioned IOPS (its performance follows its size)",
            f"iops {iops} with {storage_type}",
            "leave iops out, or choose gp3, io1 or io2",
        )
    size = _check_size(engine, current, storage_type, allocated_storage)
    if storage_type == GP3:
        request = _gp3(engine, current, size, iops, storage_throughput)
    elif storage_type in PROVISIONED_IOPS:
        request = _provisioned(engine, current, storage_type, size, iops)
    else:
        request = InstanceStorageRequest(current, StorageConfig(storage_type, size))
    if _same(current, request.target):
        raise BadInput(
            f"nothing to change: the instance already has {current.text()}; give another target_storage_type, "
            "allocated_storage, iops or storage_throughput"
        )
    return request


def _same(current: StorageConfig, target: StorageConfig) -> bool:
    if current.storage_type != target.storage_type or current.allocated_storage != target.allocated_storage:
        return False
    # A target without iops/throughput (gp2, standard, gp3 at its baseline) keeps whatever AWS shows.
    return shows(current, target)


def last_storage_change(events: Iterable[tuple[datetime, str]]) -> datetime | None:
    """The latest storage modification event (RDS-EVENT-0017/0018/0217/0218), None if there is none."""
    times = [as_utc(when) for when, message in events if STORAGE_CHANGE_WORDS in message.lower()]
    return max(times) if times else None


def next_storage_change_allowed(last_change: datetime | None) -> datetime | None:
    """When the 6-hour rule lets the next storage change in (and not before the instance leaves
    storage-optimization, which no time foretells)."""
    return None if last_change is None else as_utc(last_change) + STORAGE_COOLDOWN


def changes_text(request: InstanceStorageRequest) -> str:
    """What changes, from -> to, value by value (for the plan, the steps and the events)."""
    c, t = request.current, request.target
    parts = []
    for name, before, after, unit in (
        ("type", c.storage_type, t.storage_type, ""),
        ("size", c.allocated_storage, t.allocated_storage, " GiB"),
        ("IOPS", c.iops, t.iops, ""),
        ("throughput", c.storage_throughput, t.storage_throughput, " MiB/s"),
    ):
        if after is None:
            continue
        if before == after:
            parts.append(f"{name} {after}{unit} (kept)")
        else:
            parts.append(f"{name} {before if before is not None else 'baseline'} -> {after}{unit}")
    return ", ".join(parts)


def orderable_refusal(
    rows: Sequence[Mapping[str, Any]], target: StorageConfig, engine: str, version: str, instance_class: str
) -> str | None:
    """What AWS's DescribeOrderableDBInstanceOptions rows of the class say against `target` (None: nothing, or
    AWS answered no rows: the rules above stand alone)."""
    if not rows:
        return None
    mine = [r for r in rows if r.get("StorageType") == target.storage_type]
    if not mine:
        offered = sorted({str(r.get("StorageType")) for r in rows if r.get("StorageType")})
        return (
            f"AWS offers no {target.storage_type} storage for {instance_class} with {engine} {version} in this "
            f"region (it offers {', '.join(offered) or 'none'}); choose one of those"
        )
    size, iops = target.allocated_storage or 0, target.iops
    for row in mine:
        low, high = _int(row.get("MinStorageSize")), _int(row.get("MaxStorageSize"))
        if (low is not None and size < low) or (high is not None and size > high):
            return f"AWS takes {low} to {high} GiB of {target.storage_type} for {instance_class}; {size} GiB asked"
        iops_low, iops_high = _int(row.get("MinIopsPerDbInstance")), _int(row.get("MaxIopsPerDbInstance"))
        if iops is not None and iops_low is not None and iops_high is not None and not iops_low <= iops <= iops_high:
            return (
                f"AWS takes {iops_low} to {iops_high} IOPS of {target.storage_type} for {instance_class}; {iops} asked"
            )
        throughput = target.storage_throughput
        t_low = _int(row.get("MinStorageThroughputPerDbInstance"))
        t_high = _int(row.get("MaxStorageThroughputPerDbInstance"))
        if throughput is not None and t_low is not None and t_high is not None and not t_low <= throughput <= t_high:
            return (
                f"AWS takes {t_low} to {t_high} MiB/s of {target.storage_type} for {instance_class}; {throughput} asked"
            )
        per_low, per_high = row.get("MinIopsPerGib"), row.get("MaxIopsPerGib")
        if iops is not None and size and isinstance(per_low, int | float) and isinstance(per_high, int | float):
            ratio = iops / size
            if not per_low <= ratio <= per_high:
                return (
                    f"AWS takes {per_low:g} to {per_high:g} IOPS per GiB of {target.storage_type} for "
                    f"{instance_class}; {iops} IOPS for {size} GiB is {ratio:g}"
                )
    return None
