"""What ModifyDBInstance accepts as a new storage configuration of an RDS DB instance (MySQL, MariaDB, PostgreSQL).

Pure rules, no clock: `next_storage` takes the instance's storage now and the call's StorageType / AllocatedStorage /
Iops / StorageThroughput and answers the storage the instance will have, or raises AWS's refusal. The timing (the
`modifying` phase, `storage-optimization`, the 6-hour rule) is `db_instances`' business. Sources, per rule:

* Allocated storage only grows; a growth below 10 % is *rounded up* to 10 % (ModifyDBInstance API reference,
  `AllocatedStorage`: "Values that are not at least 10% greater than the existing value are rounded up").
* Size ranges (CreateDBInstance API reference, `AllocatedStorage`, RDS for MariaDB/MySQL/PostgreSQL): gp2/gp3 20 to
  65,536 GiB, io1/io2 100 to 65,536 GiB, standard 5 to 3,072 GiB.
* gp3 below 400 GiB (MySQL, MariaDB, PostgreSQL) has a fixed baseline of 3,000 IOPS and 125 MiB/s and refuses Iops and
  StorageThroughput, with the message AWS answers (terraform-provider-aws #28589, #28243); from 400 GiB its baseline is
  12,000 IOPS / 500 MiB/s and it takes 12,000-64,000 IOPS, 500-4,000 MiB/s, at most 0.25 MiB/s per IOPS (RDS user
  guide, "gp3 storage"; ValidStorageOptions.StorageThroughputToIopsRatio "0-0.25").
* io1/io2: 1,000 to 256,000 IOPS; io1 0.5 to 50 IOPS per GiB (CreateDBInstance API reference, `Iops`), io2 Block
  Express 0.5 to 1,000 per GiB (RDS user guide, "io2 Block Express storage").
* StorageThroughput applies only to gp3 (ModifyDBInstance API reference, `StorageThroughput`).
* An instance with provisioned IOPS must be given Iops with a new size, and AllocatedStorage with new Iops
  (ModifyDBInstance API reference, `AllocatedStorage` and `Iops` constraints; AWS's message from
  terraform-provider-aws #12493, #33512).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from rds_sim.errors import ApiError

__all__ = [
    "GP3_THRESHOLD_GIB",
    "STORAGE_TYPES",
    "SimulatedStorage",
    "next_storage",
    "storage_of",
]

STORAGE_TYPES = ("gp2", "gp3", "io1", "io2", "standard")
GP3_THRESHOLD_GIB = 400  # MySQL, MariaDB, PostgreSQL
GP3_SMALL = (3000, 125)  # IOPS, MiB/s below the threshold
GP3_LARGE = (12000, 500)  # baseline from the threshold on
GP3_IOPS = (12000, 64000)
GP3_THROUGHPUT = (500, 4000)
GP3_RATIO = 0.25  # MiB/s per IOPS
PIOPS_RANGE = (1000, 256000)
PIOPS_PER_GIB = {"io1": (0.5, 50.0), "io2": (0.5, 1000.0)}
SIZE_RANGE = {"gp2": (20, 65536), "gp3": (20, 65536), "io1": (100, 65536), "io2": (100, 65536), "standard": (5, 3072)}
_BOTH = (
    "You must specify both the storage size and iops when modifying the storage size or iops on a DB instance that "
    "has iops."
)


@dataclass(frozen=True)
class SimulatedStorage:
    """An instance's storage as DescribeDBInstances shows it (Iops/StorageThroughput None where AWS shows none)."""

    storage_type: str
    allocated_storage: int
    iops: int | None = None
    storage_throughput: int | None = None

    @property
    def provisioned(self) -> bool:
        """Iops of the customer's choosing: io1/io2, or gp3 from the threshold on."""
        return self.storage_type in ("io1", "io2") or (
            self.storage_type == "gp3" and self.allocated_storage >= GP3_THRESHOLD_GIB
        )

    def fields(self) -> dict[str, Any]:
        """The DBInstance (or PendingModifiedValues) fields of this storage."""
        out: dict[str, Any] = {"StorageType": self.storage_type, "AllocatedStorage": self.allocated_storage}
        if self.iops is not None:
            out["Iops"] = self.iops
        if self.storage_throughput is not None:
            out["StorageThroughput"] = self.storage_throughput
        return out


def storage_of(data: dict[str, Any]) -> SimulatedStorage:
    """The storage of a DBInstance as moto holds it, normalised to what AWS shows for its type."""
    storage_type = str(data.get("StorageType") or "gp2")
    size = int(data.get("AllocatedStorage") or 20)
    iops = data.get("Iops")
    throughput = data.get("StorageThroughput")
    return _normalised(storage_type, size, int(iops) if iops else None, int(throughput) if throughput else None)


def _normalised(storage_type: str, size: int, iops: int | None, throughput: int | None) -> SimulatedStorage:
    if storage_type == "gp3":
        if size < GP3_THRESHOLD_GIB:
            return SimulatedStorage("gp3", size, *GP3_SMALL)
        return SimulatedStorage("gp3", size, iops or GP3_LARGE[0], throughput or GP3_LARGE[1])
    if storage_type in ("io1", "io2"):
        return SimulatedStorage(storage_type, size, iops or PIOPS_RANGE[0], None)
    return SimulatedStorage(storage_type, size, None, None)


def next_storage(engine: str, current: SimulatedStorage, params: dict[str, Any]) -> SimulatedStorage:
    """The storage after this ModifyDBInstance, or AWS's refusal (ApiError). Equal to `current`: nothing to do."""
    storage_type = str(params.get("StorageType") or current.storage_type)
    if storage_type not in STORAGE_TYPES:
        raise ApiError(
            "InvalidParameterValue",
            f"Invalid storage type: {storage_type}. Valid storage types are {', '.join(STORAGE_TYPES)}.",
        )
    size = _next_size(engine, current, storage_type, params.get("AllocatedStorage"))
    iops = params.get("Iops")
    throughput = params.get("StorageThroughput")
    if throughput is not None and storage_type != "gp3":
        raise ApiError(
            "InvalidParameterCombination",
            f"StorageThroughput applies only to the gp3 storage type, not to {storage_type}.",
        )
    if current.provisioned and storage_type == current.storage_type:
        if params.get("AllocatedStorage") is not None and size != current.allocated_storage and iops is None:
            raise ApiError("InvalidParameterCombination", _BOTH)
        if iops is not None and int(iops) != current.iops and params.get("AllocatedStorage") is None:
            raise ApiError("InvalidParameterCombination", _BOTH)
    if storage_type == "gp3":
        return _gp3(engine, current, size, iops, throughput)
    if storage_type in ("io1", "io2"):
        return _piops(current, storage_type, size, iops)
    if iops not in (None, 0):
        raise ApiError(
            "InvalidParameterCombination",
            f"Iops applies only to the gp3, io1 and io2 storage types, not to {storage_type} (give 0 or omit it).",
        )
    return SimulatedStorage(storage_type, size)


def _next_size(engine: str, current: SimulatedStorage, storage_type: str, requested: Any) -> int:
    size = current.allocated_storage if requested is None else int(requested)
    if size < current.allocated_storage:
        raise ApiError(
            "InvalidParameterCombination",
            f"Invalid storage size for engine name {engine} and storage type {storage_type}: {size}. The allocated "
            f"storage of a DB instance can't be decreased (it is {current.allocated_storage} GiB).",
        )
    if size > current.allocated_storage:
        size = max(size, -(-current.allocated_storage * 11 // 10))  # rounded up to +10 %
    low, high = SIZE_RANGE[storage_type]
    if not low <= size <= high:
        raise ApiError(
            "InvalidParameterValue",
            f"Invalid storage size for engine name {engine} and storage type {storage_type}: {size}. "
            f"Valid sizes are {low} to {high} GiB.",
        )
    return size


def _gp3(engine: str, current: SimulatedStorage, size: int, iops: Any, throughput: Any) -> SimulatedStorage:
    if size < GP3_THRESHOLD_GIB:
        if iops is not None or throughput is not None:
            raise ApiError(
                "InvalidParameterCombination",
                f"You can't specify IOPS or storage throughput for engine {engine} and a storage size less than "
                f"{GP3_THRESHOLD_GIB}.",
            )
        return SimulatedStorage("gp3", size, *GP3_SMALL)
    keep = current.storage_type == "gp3" and current.provisioned
    new_iops = int(iops) if iops is not None else (current.iops if keep and current.iops else GP3_LARGE[0])
    new_tp = (
        int(throughput)
        if throughput is not None
        else (current.storage_throughput if keep and current.storage_throughput else GP3_LARGE[1])
    )
    if not GP3_IOPS[0] <= new_iops <= GP3_IOPS[1]:
        raise ApiError(
            "InvalidParameterCombination",
            f"Invalid iops value for engine name {engine} and storage type gp3 with {size} GiB: {new_iops}. "
            f"Valid values are {GP3_IOPS[0]} to {GP3_IOPS[1]}.",
        )
    if not GP3_THROUGHPUT[0] <= new_tp <= GP3_THROUGHPUT[1]:
        raise ApiError(
            "InvalidParameterCombination",
            f"Invalid storage throughput value for engine name {engine} and storage type gp3: {new_tp}. "
            f"Valid values are {GP3_THROUGHPUT[0]} to {GP3_THROUGHPUT[1]} MiBps.",
        )
    if new_tp > new_iops * GP3_RATIO:
        raise ApiError(
            "InvalidParameterCombination",
            f"The storage throughput to IOPS ratio of {new_tp}/{new_iops} is too high: it can be at most "
            f"{GP3_RATIO} MiBps per IOPS.",
        )
    return SimulatedStorage("gp3", size, new_iops, new_tp)


def _piops(current: SimulatedStorage, storage_type: str, size: int, iops: Any) -> SimulatedStorage:
    if iops is None:
        if current.storage_type not in ("io1", "io2") or current.iops is None:
            raise ApiError(
                "InvalidParameterCombination",
                f"You must specify Iops when you change the storage type to {storage_type}.",
            )
        iops = current.iops
    value = int(iops)
    low, high = PIOPS_RANGE
    if not low <= value <= high:
        raise ApiError(
            "InvalidParameterCombination",
            f"Invalid iops value for storage type {storage_type}: {value}. Valid values are {low} to {high}.",
        )
    lo_ratio, hi_ratio = PIOPS_PER_GIB[storage_type]
    if not lo_ratio * size <= value <= hi_ratio * size:
        raise ApiError(
            "InvalidParameterCombination",
            f"The IOPS to storage ratio of {value}/{size} GiB is out of range for {storage_type}: the IOPS must be "
            f"{lo_ratio:g} to {hi_ratio:g} times the allocated storage.",
        )
    return replace(SimulatedStorage(storage_type, size, value, None))
