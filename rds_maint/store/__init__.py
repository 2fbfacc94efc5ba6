"""State stores, chosen by URL: file://PATH (default), s3://BUCKET/PREFIX, dynamodb://TABLE.

Importing this package loads no AWS SDK: the S3 and DynamoDB stores (and boto3 with them) are
imported only when a URL names one, so the engine, a `file://` run and a unit test start without
botocore. `from rds_maint.store import S3Store, DynamoDBStore` still works: the module
`__getattr__` below imports the class on first use.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING

from rds_maint.config import state_store_url
from rds_maint.errors import BadInput, StoreError
from rds_maint.store.base import StateStore, check_lock_key, check_operation_id
from rds_maint.store.file import FileStore
from rds_maint.store.urls import DEFAULT_STORE_URL, parse_dynamodb_url, parse_file_url, parse_s3_url

if TYPE_CHECKING:
    from rds_maint.store.dynamodb import DynamoDBStore
    from rds_maint.store.s3 import S3Store

__all__ = [
    "DEFAULT_STORE_URL",
    "DynamoDBStore",
    "FileStore",
    "S3Store",
    "StateStore",
    "check_lock_key",
    "check_operation_id",
    "init_store",
    "open_store",
]

# Names served by __getattr__: the module that defines each, imported on first use.
_CLOUD_STORES = {"S3Store": "rds_maint.store.s3", "DynamoDBStore": "rds_maint.store.dynamodb"}


def __getattr__(name: str) -> object:
    module = _CLOUD_STORES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def open_store(url: str | None = None, region: str | None = None, profile: str | None = None) -> StateStore:
    """The store a URL names. Never creates a bucket or table: `init_store` does that.

    A malformed URL is refused (BadInput) before any SDK is loaded or any client is made.
    """
    url = url or state_store_url() or DEFAULT_STORE_URL
    if url.startswith("file://"):
        return FileStore(parse_file_url(url))
    if url.startswith("s3://"):
        bucket, prefix = parse_s3_url(url)
        from rds_maint.store.s3 import S3Store

        return S3Store(bucket, prefix, region=region, profile=profile)
    if url.startswith("dynamodb://"):
        table, url_region = parse_dynamodb_url(url)
        from rds_maint.store.dynamodb import DynamoDBStore

        return DynamoDBStore(table, region=url_region or region, profile=profile)
    raise BadInput(f"unknown store URL '{url}': use file://PATH, s3://BUCKET/PREFIX or dynamodb://TABLE")


def init_store(url: str | None = None, region: str | None = None, profile: str | None = None) -> list[str]:
    """Create the storage a URL names with the layout its store needs; say what was done."""
    store = open_store(url, region, profile)
    if isinstance(store, FileStore):
        root = Path(store.root)
        existed = root.is_dir()
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create {root}: {exc}") from exc
        if not existed:
            return [f"directory {root} created"]
        written = store.write_missing_summaries()
        return [f"directory {root} exists", f"summaries: {written} operation(s) given the summary `list` reads"]
    # Not a file store: open_store has imported the cloud store's module already.
    from rds_maint.store.dynamodb import DynamoDBStore
    from rds_maint.store.s3 import S3Store

    if isinstance(store, S3Store | DynamoDBStore):
        return store.initialise()
    raise BadInput(f"rds-maint init does not know how to set up {store.url}")  # pragma: no cover
