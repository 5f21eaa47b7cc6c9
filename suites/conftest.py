"""What the checks share per target: the engine work that runs ahead of them (conformance/ahead.py)."""
import pytest

from conformance import ahead
from conformance.plugin import HOST_PARAM


@pytest.fixture(scope="module", autouse=True)
def engine_work_ahead(request, host, target):
    """On local://, start the engine work of the checks selected for this target in the background (once)."""
    selected = [item.get_closest_marker("req").args[0] for item in request.session.items
                if item.get_closest_marker("req") and getattr(item, "callspec", None)
                and item.callspec.params.get(HOST_PARAM) is host]
    ahead.start(target, list(dict.fromkeys(selected)))
