"""The per-check watchdog: pytest-timeout's signal method over each check, ending a hung one as an error."""
from __future__ import annotations

import os
import signal
import threading

import pytest

TIMED_OUT = pytest.StashKey[float]()  # the watchdog's limit, set when it ended the check


def watch(item: pytest.Item, settings) -> None:
    """The check's watchdog: pytest-timeout's signal method over setup, call and teardown (a marker of its own wins).

    Without pytest-timeout (-p no:timeout) checks have no watchdog; their calls are still bounded.
    """
    if item.config.pluginmanager.hasplugin("timeout") and item.get_closest_marker("timeout") is None:
        item.add_marker(pytest.mark.timeout(settings.check_timeout, method="signal"))


def set_timer(item: pytest.Item, settings, target: str) -> bool | None:
    """pytest-timeout's signal method for checks, ending one as an error that names it, its limit and where it
    hung, instead of a failure with every thread's stack on the terminal. SIGALRM raises in the main thread
    (xdist workers run checks there too), so the check's fixtures tear down and the run goes on; engine work
    in background threads (conformance.ahead) is not interrupted and stays bounded by its own limits."""
    if settings.method != "signal" or threading.current_thread() is not threading.main_thread():
        return None  # pytest-timeout's own handler

    def expired(signum, frame) -> None:
        __tracebackhide__ = True
        import pytest_timeout  # loaded already: the hook comes from it
        if not settings.disable_debugger_detection and pytest_timeout.is_debugging():
            return
        item.stash[TIMED_OUT] = settings.timeout
        pytest.fail(f"{target}: {item.name} did not end within {settings.timeout:g} s (--check-timeout), "
                    f"stopped in {where(item, frame)}", pytrace=False)

    def cancel() -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, signal.SIG_DFL)

    item.cancel_timeout = cancel  # what pytest-timeout's pytest_timeout_cancel_timer calls
    signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, settings.timeout)
    return True


def where(item: pytest.Item, frame) -> str:
    """The line the check was at: in its own module if it is on the stack, else the innermost line of this
    project's code (outside installed packages), else the innermost line."""
    frames = []
    while frame is not None:
        frames.append(frame)
        frame = frame.f_back
    root = str(item.config.rootpath)
    own = [f for f in frames if f.f_code.co_filename == str(item.path)]
    project = [f for f in frames if f.f_code.co_filename.startswith(root) and "-packages" not in f.f_code.co_filename]
    found = (own or project or frames or [None])[0]
    if found is None:
        return "an unknown place"
    name = found.f_code.co_filename
    name = name[len(root) + 1:] if name.startswith(root + os.sep) else name
    return f"{found.f_code.co_name} ({name}:{found.f_lineno})"
