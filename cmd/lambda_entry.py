"""Lambda packaging entry: `lambda_entry.handler` is `rds_maint.lambda_handler.handler`.

The SAM template points the function at `rds_maint.lambda_handler.handler` directly. This
module exists for packagings that want a top-level handler file (for example a container
image with `CMD ["lambda_entry.handler"]`). cmd/package_lambda.sh copies it to the root of
build/lambda/.
"""

from __future__ import annotations

from rds_maint.lambda_handler import handler

__all__ = ["handler"]
