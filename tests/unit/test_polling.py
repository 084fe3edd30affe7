"""poll_until: the one wait loop; it returns what it waited for or says what never came."""

from __future__ import annotations

import pytest

from devlab.polling import PollTimeout, poll_until


def test_returns_the_first_truthy_value() -> None:
    values = iter([None, 0, "", {"ready": True}])
    assert poll_until(lambda: next(values), "ready", timeout=5, interval=0) == {"ready": True}


def test_timeout_names_what_never_happened_and_the_last_value() -> None:
    calls: list[int] = []

    def never() -> int:
        calls.append(1)
        return 0

    with pytest.raises(PollTimeout, match=r"not within 0\.05 s: the lab to answer") as caught:
        poll_until(never, "the lab to answer", timeout=0.05, interval=0.01)
    assert caught.value.last == 0
    assert isinstance(caught.value, TimeoutError)
    # Tried at the start and once more at the deadline, never just given up on.
    assert len(calls) >= 2


def test_a_zero_timeout_still_asks_once() -> None:
    assert poll_until(lambda: "up", "up", timeout=0) == "up"


def test_what_the_predicate_raises_ends_the_wait_at_once() -> None:
    def stopped() -> None:
        raise RuntimeError("alice's server stopped while starting")

    with pytest.raises(RuntimeError, match="stopped while starting"):
        poll_until(stopped, "alice's server", timeout=3600)
