"""`rds-maint init --store s3://BUCKET/PREFIX`: create the bucket the store needs, or look at an existing one.

A new bucket is private (public access blocked, owner-enforced objects), encrypted, versioned (an
earlier state of an operation can be recovered) with old versions expiring after 90 days. An
existing bucket is left exactly as it is: it may hold other data under other prefixes and its
settings are its owner's choice; init only says what it would rather see.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from rds_maint.errors import BadInput, StoreError
from rds_maint.store.aws import error_code
from rds_maint.store.s3_objects import Layout

__all__ = ["SSE", "audit_bucket", "initialise_bucket"]

SSE = "AES256"


def initialise_bucket(
    client: Any, layout: Layout, fail: Callable[[ClientError, str, str], StoreError]
) -> tuple[bool, list[str]]:
    """Create the bucket with encryption, versioning and no public access; leave an existing one as it is.

    Whether it was created, and what was done. `fail(exc, api, key)` turns an AWS error into the store's
    StoreError. The objects under the prefix (the summaries `init` writes) are the store's business.
    """
    bucket = layout.bucket
    try:
        client.head_bucket(Bucket=bucket)
    except ClientError as exc:
        if error_code(exc) not in ("404", "NoSuchBucket", "NotFound"):
            raise fail(exc, "HeadBucket", "") from exc
    else:
        return False, [f"bucket {bucket} exists; left its settings as they are", *audit_bucket(client, bucket)]
    region = client.meta.region_name or "us-east-1"
    create: dict[str, Any] = {"Bucket": bucket}
    if region != "us-east-1":
        create["CreateBucketConfiguration"] = {"LocationConstraint": region}
    try:
        client.create_bucket(**create)
        client.put_public_access_block(
            Bucket=bucket,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )
        client.put_bucket_ownership_controls(
            Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
        )
        client.put_bucket_encryption(
            Bucket=bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": SSE}, "BucketKeyEnabled": True}]
            },
        )
        client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        client.put_bucket_lifecycle_configuration(
            Bucket=bucket,
            LifecycleConfiguration={
                "Rules": [
                    {
                        "ID": "ExpireOldStateVersions",
                        "Status": "Enabled",
                        "Filter": {"Prefix": layout.key("")},
                        "NoncurrentVersionExpiration": {"NoncurrentDays": 90},
                        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
                    }
                ]
            },
        )
    except ClientError as exc:
        if error_code(exc) == "BucketAlreadyExists":
            raise BadInput(f"bucket name '{bucket}' is taken by another account; choose another") from exc
        raise fail(exc, "CreateBucket", "") from exc
    return True, [
        f"created bucket {bucket} in {region}: SSE-S3 encryption, versioning, public access blocked, "
        "old versions expire after 90 days"
    ]


def audit_bucket(client: Any, bucket: str) -> list[str]:
    """Warnings about an existing bucket the store would rather see set up differently."""
    notes: list[str] = []
    try:
        status = client.get_bucket_versioning(Bucket=bucket).get("Status")
        if status != "Enabled":
            notes.append("warning: versioning is off; earlier states of an operation cannot be recovered")
    except ClientError as exc:
        notes.append(f"could not read versioning: {error_code(exc)}")
    try:
        client.get_public_access_block(Bucket=bucket)
    except ClientError as exc:
        notes.append(f"warning: no public access block ({error_code(exc)})")
    return notes
