"""Fixtures shared by the self-tests that use the lab."""
import pytest

from conformance.lab import engine


@pytest.fixture(scope="module")
def client():
    """A docker-py client of the lab machine's own engine."""
    with engine.client(timeout=120) as c:
        yield c
