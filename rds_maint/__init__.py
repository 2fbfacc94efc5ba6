"""rds-maint: Amazon Aurora maintenance, one safe step at a time."""

__version__ = "0.1.0"
