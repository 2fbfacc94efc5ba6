"""State stores, chosen by URL: file://PATH (default), s3://BUCKET/PREFIX, dynamodb://TABLE."""

from __future__ import annotations

from pathlib import Path

from rds_maint.config import state_store_url
from rds_maint.errors import BadInput, StoreError
from rds_maint.store.base import StateStore, check_lock_key, check_operation_id
from rds_maint.store.dynamodb import DynamoDBStore, parse_dynamodb_url
from rds_maint.store.file import FileStore
from rds_maint.store.s3 import S3Store, parse_s3_url

DEFAULT_STORE_URL = "file://./.rds-maint"

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


def open_store(url: str | None = None, region: str | None = None, profile: str | None = None) -> StateStore:
    """The store a URL names. Never creates a bucket or table: `init_store` does that."""
    url = url or state_store_url() or DEFAULT_STORE_URL
    if url.startswith("file://"):
        path = url[len("file://") :]
        if not path:
            raise BadInput("store URL 'file://' needs a path, e.g. file://./.rds-maint")
        return FileStore(path)
    if url.startswith("s3://"):
        bucket, prefix = parse_s3_url(url)
        return S3Store(bucket, prefix, region=region, profile=profile)
    if url.startswith("dynamodb://"):
        table, url_region = parse_dynamodb_url(url)
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
        return [f"directory {root} {'exists' if existed else 'created'}"]
    if isinstance(store, S3Store | DynamoDBStore):
        return store.initialise()
    raise BadInput(f"rds-maint init does not know how to set up {store.url}")  # pragma: no cover
