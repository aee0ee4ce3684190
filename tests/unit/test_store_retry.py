"""The store's retry loop: transient and connection failures are retried, within a real bound."""

from __future__ import annotations

import pytest

from mmkg.errors import Neo4jUnavailableError, QueryError, RetryableError
from mmkg.platform import store


class FakeClock:
    """Monotonic time that only moves when the code under test sleeps or an attempt runs."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(store.time, "monotonic", fake.monotonic)
    monkeypatch.setattr(store.time, "sleep", fake.sleep)
    return fake


def test_a_lost_server_is_reported_at_the_deadline_not_after_a_doubled_backoff(
    clock: FakeClock,
) -> None:
    attempts: list[float] = []

    def lost() -> None:
        attempts.append(clock.now)
        clock.now += 0.3  # a refused connection still takes a moment
        raise Neo4jUnavailableError("cannot reach Neo4j")

    with pytest.raises(Neo4jUnavailableError):
        store.retry_until(5.0, lost)
    # Gave up within the deadline plus one attempt; the backoff grew but stayed capped.
    assert clock.now <= 5.0 + 0.3
    assert len(attempts) >= 4
    assert max(clock.sleeps) <= store._RETRY_CAP
    assert clock.sleeps[:3] == [0.5, 1.0, 2.0]


def test_a_transient_failure_is_retried_until_it_succeeds(clock: FakeClock) -> None:
    failures = iter([RetryableError("deadlock"), Neo4jUnavailableError("restarting")])

    def flaky() -> str:
        error = next(failures, None)
        if error is not None:
            raise error
        return "done"

    assert store.retry_until(30.0, flaky) == "done"
    assert clock.sleeps == [0.5, 1.0]


def test_a_query_error_is_not_retried(clock: FakeClock) -> None:
    calls = []

    def bad() -> None:
        calls.append(1)
        raise QueryError("syntax error")

    with pytest.raises(QueryError):
        store.retry_until(30.0, bad)
    assert calls == [1] and clock.sleeps == []
