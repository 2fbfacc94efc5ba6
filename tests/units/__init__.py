"""Unit tests: plans, configuration, the RDS gateway's retries, endpoints, the offline IAM evaluator.

No simulated account (`world`) here."""
