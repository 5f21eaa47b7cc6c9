"""Helpers of the tests that feed the checks' judges broken answers (tests/unit/test_<section>.py)."""
import pytest


def message(verdict):
    """The failure message the check would report (and that it fails at all)."""
    with pytest.raises(AssertionError) as failure:
        verdict.check()
    return str(failure.value)
