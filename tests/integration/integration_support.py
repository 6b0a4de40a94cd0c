"""Constants shared by the integration tests."""

POLL = 0.05
"""Poll interval (seconds) for waits on runs: sleeper runs of 0 s end within ~0.3 s."""

DEADLINE = 30.0
"""Upper bound (seconds) for any wait on a run, so that a stuck run fails a test, never hangs it."""
