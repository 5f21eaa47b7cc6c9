"""The fixtures a check may request: run_id, target, engine, evidence, requirement, make (testinfra gives host)."""
from __future__ import annotations

import pytest

from conformance import cleanup
from conformance.catalogue import Requirement
from conformance.evidence import Evidence
from conformance.plugin.checks import or_error
from conformance.plugin.state import CHECK, EVIDENCE, RUN
from conformance.targets import Target


@pytest.fixture(scope="session")
def run_id(pytestconfig: pytest.Config) -> str:
    """The run id: label value conformance.run and part of the report folder name."""
    return pytestconfig.stash[RUN].run_id


@pytest.fixture(scope="module")
def target(request: pytest.FixtureRequest, host) -> Target:
    """The target of this check: .id, .host, .engine, .profile, .settings, .shared, .make (session-wide cache)."""
    found = request.config.stash[RUN].targets.get(host)
    or_error(found.reachable)
    return found


@pytest.fixture(scope="module")
def engine(target: Target):
    """The target's docker-py client; an unreachable engine makes the check an error."""
    return or_error(lambda: target.engine)


@pytest.fixture
def evidence(request: pytest.FixtureRequest, target: Target) -> Evidence:
    """Where the check records what it ran or read and what it saw."""
    recorded = Evidence(target.name, target.settings.call_timeout)
    request.node.stash[EVIDENCE] = recorded
    return recorded


@pytest.fixture
def requirement(request: pytest.FixtureRequest) -> Requirement | None:
    """The catalogue entry of the running check."""
    check = request.node.stash.get(CHECK, None)
    return check.requirement if check else None


@pytest.fixture
def make(target: Target, engine, run_id: str):
    """Factory of labelled containers/images/networks/volumes, removed when the check ends (pass or fail)."""
    factory = cleanup.Factory(engine, run_id, target.pulled_images)
    yield factory
    problems = factory.cleanup()
    if problems:
        pytest.fail(f"cleanup on {target.name}: " + "; ".join(problems), pytrace=False)
