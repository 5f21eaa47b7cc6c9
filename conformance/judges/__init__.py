"""Judges: pure functions of a check's recorded answers that return a Verdict, one module per seed section.

A check in suites/test_<section>.py calls probes (conformance/probes.py) to read the target, then its judge in
conformance/judges/<section>.py, then verdict.check(); tests/unit/test_<section>.py feeds the judges broken answers.
"""
from __future__ import annotations

import dataclasses
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
