"""What the checks share per target: the engine work that runs ahead of them (conformance/ahead.py)."""
import pytest

from conformance import ahead, outcomes
from conformance.plugin.state import HOST_PARAM, RUN

GATE = "service.running"  # nothing connects to the engine before this is judged: a connection may start it


@pytest.fixture(autouse=True)
def engine_work_ahead(request, host, target):
    """On local://, start the engine work of the checks selected for this target in the background (once), as soon
    as service.running has passed there (at once when it is not selected)."""
    if not ahead.startable(target):
        return
    selected = [item.get_closest_marker("req").args[0] for item in request.session.items
                if item.get_closest_marker("req") and getattr(item, "callspec", None)
                and item.callspec.params.get(HOST_PARAM) is host]
    if GATE in selected:
        recorded = request.config.stash[RUN].outcomes.get(target.id, GATE)
        if recorded is None or recorded[0] in outcomes.BLOCKING:
            return
    ahead.start(target, list(dict.fromkeys(selected)))
