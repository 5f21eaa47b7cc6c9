"""Judges: pure functions of a check's recorded answers that return a Verdict, one module per seed section.

A check in suites/test_<section>.py calls probes (conformance/probes.py) to read the target, then its judge in
conformance/judges/<section>.py, then verdict.check(); tests/unit/test_<section>.py feeds the judges broken answers.
"""
from __future__ import annotations

import dataclasses
import datetime
import re

from conformance.outcomes import expect


@dataclasses.dataclass(frozen=True)
class Verdict:
    """A judge's answer: whether the host conforms, what was expected and what was found."""
    ok: bool
    expected: str
    found: str

    def check(self, evidence=None) -> None:
        """Fail the check unless ok; with evidence, the verdict is recorded first (passes get a 'found' too)."""
        __tracebackhide__ = True
        if evidence is not None:
            evidence.note(f"verdict: expected {self.expected}; found {self.found}")
        expect(self.ok, self.expected, self.found)


def version_tuple(text: str) -> tuple[int, ...]:
    """'20.10.24+dfsg1' -> (20, 10, 24); '3.10.0-1160.el7' -> (3, 10, 0); '' -> ()."""
    match = re.match(r"\d+(\.\d+)*", str(text).strip())
    return tuple(int(p) for p in match.group(0).split(".")) if match else ()


def page_title(body: str) -> str | None:
    match = re.search(r"<title>(.*?)</title>", body or "", re.I | re.S)
    return match.group(1).strip() if match else None


# A time as the engine writes it (Created, State.StartedAt, /info SystemTime): RFC 3339, nanoseconds, Z or an offset.
ENGINE_TIME = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)")


def engine_time(value: str | None) -> float | None:
    """An engine time as a POSIX time; None for none, one that does not read, or Go's zero time (never happened)."""
    found = ENGINE_TIME.fullmatch(value or "")
    if not found or found[1].startswith("0001-"):
        return None
    zone = "+00:00" if found[3] == "Z" else found[3]
    return datetime.datetime.fromisoformat(found[1] + zone).timestamp() + float(found[2] or 0)
