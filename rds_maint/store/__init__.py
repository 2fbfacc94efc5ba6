"""State stores, chosen by URL: file://PATH (default), s3://BUCKET/PREFIX, dynamodb://TABLE."""

from __future__ import annotations

import os

from rds_maint.errors import BadInput
from rds_maint.store.base import StateStore, check_operation_id
from rds_maint.store.file import FileStore

DEFAULT_STORE_URL = "file://./.rds-maint"

__all__ = ["DEFAULT_STORE_URL", "FileStore", "StateStore", "check_operation_id", "open_store"]


def open_store(url: str | None = None) -> StateStore:
    url = url or os.environ.get("RDS_MAINT_STORE") or DEFAULT_STORE_URL
    if url.startswith("file://"):
        path = url[len("file://") :]
        if not path:
            raise BadInput("store URL 'file://' needs a path, e.g. file://./.rds-maint")
        return FileStore(path)
    scheme = url.split("://", 1)[0] if "://" in url else url
    if scheme in ("s3", "dynamodb"):
        raise BadInput(f"store '{url}': the {scheme} store is not available in this version; use file://PATH")
    raise BadInput(f"unknown store URL '{url}': use file://PATH, s3://BUCKET/PREFIX or dynamodb://TABLE")
