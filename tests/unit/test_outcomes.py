"""Blocked and not-applicable are types carrying their fields; pytest still shows them as its own skips."""
import pytest

from conformance import outcomes


def ended(raise_it):
    with pytest.raises(pytest.skip.Exception) as excinfo:
        raise_it()
    return excinfo


def test_each_ending_carries_its_fields_and_text():
    blocked = ended(lambda: outcomes.blocked("service.running", "inactive")).value
    assert (blocked.status, blocked.cause, blocked.reason) == (outcomes.BLOCKED, "service.running", "inactive")
    assert ended(lambda: outcomes.blocked("service.running", "inactive")).exconly() == (
        "Skipped: blocked by service.running: inactive")
    state = ended(lambda: outcomes.blocked_by_state("hello-world was there")).value
    assert (state.status, state.cause, str(state)) == (outcomes.BLOCKED, "state", "blocked by state: hello-world was there")
    assert outcomes.BlockedByState.said_in(str(state)) and not outcomes.BlockedByState.said_in(str(blocked))
    na = ended(lambda: outcomes.not_applicable("profile rhel")).value
    assert (na.status, str(na)) == (outcomes.NOT_APPLICABLE, "not applicable: profile rhel")


def test_a_phase_outcome_comes_from_the_exception_type_not_its_text():
    assert outcomes.ended(ended(lambda: outcomes.not_applicable("x"))) == {
        "status": outcomes.NOT_APPLICABLE, "cause": None, "reason": "x", "text": "not applicable: x"}
    # a plain skip whose text looks like a blocked one is still a plain skip: not applicable, its text its own
    plain = outcomes.ended(ended(lambda: pytest.skip("blocked by service.running: no")))
    assert plain == {"status": outcomes.NOT_APPLICABLE, "cause": None, "reason": "blocked by service.running: no",
                     "text": None}
    with pytest.raises(ValueError) as error:
        raise ValueError("x")
    assert outcomes.ended(error) is None and outcomes.ended(None) is None
