"""The state stores (file, S3, DynamoDB on moto) and durable state: conditional writes, leases, locks."""
