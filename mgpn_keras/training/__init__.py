"""Training: strategies, the reference schedule, evaluation callback, resumable fit loop."""
