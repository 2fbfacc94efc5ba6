"""What each step takes and records: typed params and results, shared by plans and actions.

A plan builds a step's params model; the action reads its typed fields; a later step reads an
earlier one's record through its `StepKind`, never through an action-name string and a key.
The stored JSON stays the plain dicts of `Step.parameters` and `Step.result`.
"""

from rds_maint.steps.base import StepKind, StepParams, StepRecord

__all__ = ["StepKind", "StepParams", "StepRecord"]
