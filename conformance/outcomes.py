"""The five outcomes of a check, how they are told apart, and the helpers checks call."""
from __future__ import annotations

import re
import threading

import pytest

from conformance.masking import redact

PASSED, FAILED, BLOCKED, NOT_APPLICABLE, ERROR = "passed", "failed", "blocked", "not-applicable", "error"
STATUSES = (PASSED, FAILED, BLOCKED, NOT_APPLICABLE, ERROR)
# When one requirement has several items on a target (parametrized), the worst one speaks for it.
SEVERITY = {NOT_APPLICABLE: 0, PASSED: 1, BLOCKED: 2, FAILED: 3, ERROR: 4}
BLOCKING = (FAILED, BLOCKED, ERROR)

BLOCKED_PREFIX = "blocked by "
BY_STATE = "state"  # blocked by the target's state, not by a catalogue dependency: "blocked by state: <reason>"
NOT_APPLICABLE_PREFIX = "not applicable: "

_current = threading.local()  # per thread: engine work ahead of a check runs in threads of its own


class TargetError(Exception):
    """The suite could not reach or operate the target: the outcome is error, not failed."""


class ObserverError(TargetError):
    """The target could be reached but the suite cannot observe what the check needs there (a tool the probe
    needs is missing, the login may not read a path): error naming the tool or the permission, never failed."""


def set_current_requirement(req_id: str | None) -> None:
    _current.requirement = req_id


def expect(condition: object, expected: object, found: object) -> None:
    """Fail the running check with 'requirement <id>: expected <...>; found <...>' unless condition holds."""
    __tracebackhide__ = True
    if condition:
        return
    expected, found = str(expected), str(found)
    head = f"requirement {getattr(_current, 'requirement', None) or '?'}"
    if "\n" in expected or "\n" in found:
        indent = "\n    "
        raise AssertionError(f"{head}:\n  expected:{indent}{expected.replace(chr(10), indent)}"
                             f"\n  found:{indent}{found.replace(chr(10), indent)}")
    raise AssertionError(f"{head}: expected {expected}; found {found}")


def not_applicable(reason: str) -> None:
    """End the running check as not-applicable, naming why (e.g. the setting that would change it)."""
    __tracebackhide__ = True
    pytest.skip(NOT_APPLICABLE_PREFIX + reason)


def blocked(dependency: str, message: str) -> None:
    """End the running check as blocked by a dependency's non-pass."""
    __tracebackhide__ = True
    pytest.skip(f"{BLOCKED_PREFIX}{dependency}: {message}")


def blocked_by_state(reason: str) -> None:
    """End the running check as blocked by the target's state: it could not make the observation that proves its
    requirement (e.g. no pull to observe), so it neither passes nor fails; the reason names the state."""
    __tracebackhide__ = True
    pytest.skip(f"{BLOCKED_PREFIX}{BY_STATE}: {reason}")


def one_line(text: object, limit: int = 300) -> str:
    """First line of text, redacted (masked before it is cut), whitespace collapsed and cut to limit."""
    text = getattr(text, "stderr", None) or text  # testinfra raises RuntimeError(CommandResult)
    line = " ".join(redact(str(text)).strip().split("\n", 1)[0].split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _skip_reason(report: pytest.TestReport) -> str:
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    return reason.removeprefix("Skipped: ")


def _failure_text(report: pytest.TestReport) -> str:
    """The failure's own message (the last exception of a chain), without its exception type."""
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        return re.sub(rf"^{re.escape(TargetError.__module__)}\.\w+Error: ", "",
                      crash.message.removeprefix("AssertionError: ").removeprefix("Failed: "))
    return str(report.longrepr).strip().splitlines()[-1] if report.longrepr else "failed"


def _failure_message(report: pytest.TestReport) -> str:
    return one_line(_failure_text(report))


def reason(report: pytest.TestReport) -> str:
    """Why a phase was skipped (blocked, not applicable) or errored, once, as plain text (not pytest's tuple)."""
    return _skip_reason(report) if report.skipped else _failure_text(report)


def classify(reports: list[pytest.TestReport]) -> tuple[str, str]:
    """Turn one item's setup/call/teardown reports into (status, one-line message)."""
    status, message = PASSED, ""
    for report in reports:
        if report.skipped:
            reason = _skip_reason(report)
            status = BLOCKED if reason.startswith(BLOCKED_PREFIX) else NOT_APPLICABLE
            message = one_line(reason)
        elif report.failed and (report.when != "call" or getattr(report, "conformance_error", False)):
            if status != ERROR:
                status, message = ERROR, _failure_message(report)
        elif report.failed and status != ERROR:
            status, message = FAILED, _failure_message(report)
    return status, message


def worst(a: str | None, b: str) -> str:
    return b if a is None or SEVERITY[b] > SEVERITY[a] else a


class Outcomes:
    """What each requirement ended as, per target, so later checks can see it."""

    def __init__(self):
        self._by_key: dict[tuple[str, str], tuple[str, str]] = {}

    def record(self, target: str, req_id: str, status: str, message: str) -> None:
        previous = self._by_key.get((target, req_id))
        if previous is None or worst(previous[0], status) != previous[0]:
            self._by_key[(target, req_id)] = (status, message)

    def get(self, target: str, req_id: str) -> tuple[str, str] | None:
        return self._by_key.get((target, req_id))
