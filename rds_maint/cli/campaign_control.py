"""`rds-maint campaign status|list|pause|resume|abort`: read and steer a campaign from its record."""

from __future__ import annotations

import click

__all__ = ["COMMANDS"]

COMMANDS: list[click.Command] = []
