"""Scheduled jobs, one module per job. Each job reads all its work from the store, holds no
state and is idempotent, so a restart or a crash in the middle loses and doubles nothing."""
