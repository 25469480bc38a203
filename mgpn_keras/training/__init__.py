"""Training: strategies, the reference schedule, checkpoints and backups, resumable fit loop."""
