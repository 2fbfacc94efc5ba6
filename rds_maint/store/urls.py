"""Store URLs: `file://PATH`, `s3://BUCKET/PREFIX`, `dynamodb://TABLE[?region=REGION]`.

Checked here, without the AWS SDK, so that a mistyped URL is refused before anything is loaded
or contacted, and a `file://` store never pays for boto3.
"""

from __future__ import annotations

import re

from rds_maint.errors import BadInput

__all__ = ["DEFAULT_STORE_URL", "parse_dynamodb_url", "parse_file_url", "parse_s3_url"]

DEFAULT_STORE_URL = "file://./.rds-maint"

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_TABLE = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")


def parse_file_url(url: str) -> str:
    """`file://PATH`: the path."""
    path = url[len("file://") :]
    if not path:
        raise BadInput("store URL 'file://' needs a path, e.g. file://./.rds-maint")
    return path


def parse_s3_url(url: str) -> tuple[str, str]:
    """`s3://BUCKET/PREFIX`: the bucket and the prefix without its outer slashes."""
    rest = url[len("s3://") :]
    bucket, _, prefix = rest.partition("/")
    if not _BUCKET.match(bucket):
        raise BadInput(f"store URL '{url}': '{bucket}' is not an S3 bucket name (use s3://BUCKET/PREFIX)")
    prefix = prefix.strip("/")
    if any(part in ("", ".", "..") for part in prefix.split("/")) and prefix:
        raise BadInput(f"store URL '{url}': the prefix must not contain empty, '.' or '..' parts")
    return bucket, prefix


def parse_dynamodb_url(url: str) -> tuple[str, str | None]:
    """`dynamodb://TABLE` or `dynamodb://TABLE?region=REGION`."""
    rest = url[len("dynamodb://") :]
    table, _, query = rest.partition("?")
    if not _TABLE.match(table):
        raise BadInput(
            f"store URL '{url}': '{table}' is not a DynamoDB table name (3-255 letters, digits, '_', '-', '.')"
        )
    region: str | None = None
    for part in filter(None, query.split("&")):
        name, _, value = part.partition("=")
        if name != "region" or not value:
            raise BadInput(f"store URL '{url}': unknown option '{part}' (only region=REGION)")
        region = value
    return table, region
