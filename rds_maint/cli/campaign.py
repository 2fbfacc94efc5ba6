"""`rds-maint campaign`: one operation type over many targets (DESIGN section 10).

`plan` and `run` live here; the commands that read or steer a campaign (status, list, pause, resume,
abort) are in `campaign_control`.
"""

from __future__ import annotations

import click

from rds_maint.cli import campaign_control

__all__ = ["campaign"]


@click.group()
def campaign() -> None:
    """Run one operation type over many clusters or DB instances, a few at a time."""


for command in campaign_control.COMMANDS:
    campaign.add_command(command)
