"""What the checks share per target: the engine work that runs ahead of them (conformance/ahead.py)."""
import pytest

from conformance import ahead, outcomes
from conformance.plugin.checks import or_error
from conformance.plugin.state import HOST_PARAM, RUN

GATE = "service.running"  # nothing connects to the engine before this is judged: a connection may start it
# The checks that judge the engine's host from the login's own view of it (its files, packages, units, processes)
HOST_SIDE = ("install.", "service.", "registry.mirror-configured")
SELECTED = pytest.StashKey[dict]()


@pytest.fixture(autouse=True)
def engine_work_ahead(request, target):
    """Start the engine work of the checks selected for a target in the background (once), as soon as
    service.running has passed there (at once when it is not selected). This check's target, and every other target
    of this process whose gate has passed: in one process that checks several targets (requirement by requirement,
    conformance/plugin/collection.py), each starts as soon as it may, not when its next check comes."""
    run = request.config.stash[RUN]
    for each in dict.fromkeys([target, *run.targets.all()]):
        if not ahead.startable(each):
            continue
        selected = selected_ids(request.session, each.host)
        if GATE in selected:
            recorded = run.outcomes.get(each.id, GATE)
            if recorded is None or recorded[0] in outcomes.BLOCKING:
                continue
        elif each is not target:
            continue  # no gate: it starts at its own first check, as it always did
        ahead.start(each, selected)


@pytest.fixture(autouse=True)
def observer_on_host(request, target):
    """A host-side check is an error, never failed or passed, where the login runs inside a container of the very
    engine it judges (a CI job given the engine's socket): what it reads there is the container's, not the host's."""
    marker = request.node.get_closest_marker("req")
    if marker and marker.args[0].startswith(HOST_SIDE):
        or_error(lambda: outside_engine_container(target))


def outside_engine_container(target) -> None:
    inside = target.observer_container()
    if inside:
        raise outcomes.ObserverError(
            f"{target.name}: cannot observe the engine's host: this login runs inside container {inside} of the "
            "engine it judges (its /etc/hostname and /var/run/docker.sock are bound in from the host, as for a CI "
            "job given the engine's socket), so os-release, packages, units and daemon.json read here are the "
            "container's; run the suite on the engine's host, or as a login there")


def selected_ids(session: pytest.Session, host) -> list[str]:
    """The requirement ids of the session's checks on host, in order, each once (looked up once per host)."""
    found = session.stash.setdefault(SELECTED, {})
    if host not in found:
        found[host] = list(dict.fromkeys(
            item.get_closest_marker("req").args[0] for item in session.items
            if item.get_closest_marker("req") and getattr(item, "callspec", None)
            and item.callspec.params.get(HOST_PARAM) is host))
    return found[host]
