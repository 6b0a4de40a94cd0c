"""The wait between retries: capped exponential growth with jitter, or the server's hint."""

from __future__ import annotations

import pytest

import aioflowserv as afs
from aioflowserv._config import backoff


def test_backoff_doubles_from_the_initial_wait_up_to_the_cap() -> None:
    policy = afs.RetryPolicy(attempts=10, initial_wait=0.1, max_wait=1.0, jitter=0)
    waits = [backoff(policy, attempt) for attempt in range(1, 7)]
    assert waits == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0, 1.0])


def test_backoff_adds_at_most_the_jitter() -> None:
    policy = afs.RetryPolicy(initial_wait=0.5, max_wait=5.0, jitter=0.25)
    waits = [backoff(policy, 2) for _ in range(200)]
    assert all(1.0 <= wait <= 1.25 for wait in waits)
    assert len(set(waits)) > 1


def test_backoff_follows_a_server_hint_within_the_cap() -> None:
    policy = afs.RetryPolicy(initial_wait=0.1, max_wait=3.0, jitter=0.5)
    assert backoff(policy, 1, hint=2.0) == 2.0
    assert backoff(policy, 1, hint=60.0) == 3.0


def test_backoff_without_waits_is_zero() -> None:
    policy = afs.RetryPolicy(initial_wait=0, jitter=0)
    assert [backoff(policy, attempt) for attempt in (1, 2, 3)] == [0, 0, 0]
