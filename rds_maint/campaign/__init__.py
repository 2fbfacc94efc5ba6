"""Campaigns: one operation type over many targets, each target an ordinary operation (DESIGN section 10).

The record is `rds_maint.campaign_model` (plain data the stores keep); `schedule` decides from it which
targets start and what the campaign has come to; `planner` previews every target. Drivers (the CLI's loop,
the Lambda the campaign state machine calls) do the starting and the looking.
"""
