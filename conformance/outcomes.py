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


class Ended(pytest.skip.Exception):
    """A check that ended before it could pass or fail: pytest reports it as a skip, the plugin by its type
    (plugin/checks.py reads it from the call's exception and attaches as_data() to the phase's report).

    The text pytest shows ("blocked by <cause>: <reason>", "not applicable: <reason>") is made from the fields,
    never parsed back. Each subclass is shown as pytest's own Skipped ("Skipped: <text>"), as pytest.skip shows it.
    """
    status: str

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        cls.__module__, cls.__qualname__ = "builtins", "Skipped"  # as _pytest.outcomes.Skipped: the short name

    def __init__(self, reason: str, cause: str | None = None):
        self.reason, self.cause = reason, cause
        super().__init__(msg=self.text())

    def text(self) -> str:
        raise NotImplementedError

    def as_data(self) -> dict:
        """The outcome as report data (plain values: xdist sends reports to the controller as they are)."""
        return {"status": self.status, "cause": self.cause, "reason": self.reason, "text": self.text()}


class NotApplicable(Ended):
    """The requirement does not apply to the target (its profile, its setup); the reason names why."""
    status = NOT_APPLICABLE

    def text(self) -> str:
        return f"not applicable: {self.reason}"


class Blocked(Ended):
    """A dependency of the requirement (its catalogue id is the cause) did not pass on the target."""
    status = BLOCKED

    def text(self) -> str:
        return f"blocked by {self.cause}: {self.reason}"


class BlockedByState(Blocked):
    """The target's state keeps the check from making the observation that proves its requirement."""
    CAUSE = "state"

    def __init__(self, reason: str):
        super().__init__(reason, self.CAUSE)

    @classmethod
    def said_in(cls, message: str) -> bool:
        """Whether a recorded message (results.json keeps the text, not the type) is this outcome's text."""
        return message.startswith(Blocked("", cls.CAUSE).text().rstrip())


def ended(excinfo: pytest.ExceptionInfo | None) -> dict | None:
    """The outcome a phase's skip carries (Ended.as_data), or None when the phase did not skip; a plain pytest.skip
    or skipif is not applicable, its text the skip's own (it names no outcome)."""
    if excinfo is None or not isinstance(excinfo.value, pytest.skip.Exception):
        return None
    if isinstance(excinfo.value, Ended):
        return excinfo.value.as_data()
    return {"status": NOT_APPLICABLE, "cause": None, "reason": str(excinfo.value), "text": None}


ENDED_BY_ERROR = {"status": ERROR}  # a call phase the suite could not complete (TargetError, the watchdog)


def not_applicable(reason: str) -> None:
    """End the running check as not-applicable, naming why (e.g. the setting that would change it)."""
    __tracebackhide__ = True
    raise NotApplicable(reason)


def blocked(dependency: str, message: str) -> None:
    """End the running check as blocked by a dependency's non-pass."""
    __tracebackhide__ = True
    raise Blocked(message, dependency)


def blocked_by_state(reason: str) -> None:
    """End the running check as blocked by the target's state: it could not make the observation that proves its
    requirement (e.g. no pull to observe), so it neither passes nor fails; the reason names the state."""
    __tracebackhide__ = True
    raise BlockedByState(reason)


def one_line(text: object, limit: int = 300) -> str:
    """First line of text, redacted (masked before it is cut), whitespace collapsed and cut to limit."""
    text = getattr(text, "stderr", None) or text  # testinfra raises RuntimeError(CommandResult)
    line = " ".join(redact(str(text)).strip().split("\n", 1)[0].split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def _failure_text(report: pytest.TestReport) -> str:
    """The failure's own message (the last exception of a chain), without its exception type (the suite's own,
    e.g. conformance.engine.StreamBroken, or pytest's AssertionError/Failed)."""
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        return re.sub(r"^conformance(\.\w+)+: ", "",
                      crash.message.removeprefix("AssertionError: ").removeprefix("Failed: "))
    return str(report.longrepr).strip().splitlines()[-1] if report.longrepr else "failed"


def _failure_message(report: pytest.TestReport) -> str:
    return one_line(_failure_text(report))


def _ended(report: pytest.TestReport) -> dict:
    return getattr(report, "conformance_outcome", None) or {}


def _skip_text(report: pytest.TestReport) -> str:
    outcome = _ended(report)
    return outcome.get("text") or outcome.get("reason", "")


def reason(report: pytest.TestReport) -> str:
    """Why a phase was skipped (blocked, not applicable) or errored, once, as plain text (not pytest's tuple)."""
    return _skip_text(report) if report.skipped else _failure_text(report)


def classify(reports: list[pytest.TestReport]) -> tuple[str, str, bool]:
    """Turn one item's setup/call/teardown reports into (status, one-line message, whether the message names the
    status itself: 'blocked by ...', 'not applicable: ...')."""
    status, message, named = PASSED, "", False
    for report in reports:
        outcome = _ended(report)
        if report.skipped:
            status, message = outcome.get("status", NOT_APPLICABLE), one_line(_skip_text(report))
            named = bool(outcome.get("text"))
        elif report.failed and (report.when != "call" or outcome.get("status") == ERROR):
            if status != ERROR:
                status, message, named = ERROR, _failure_message(report), False
        elif report.failed and status != ERROR:
            status, message, named = FAILED, _failure_message(report), False
    return status, message, named


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
