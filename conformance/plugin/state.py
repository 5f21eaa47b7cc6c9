"""The run's state (one per process), what the plugin knows per check, and the process's role under xdist."""
from __future__ import annotations

import dataclasses
import datetime
from pathlib import Path

import pytest

from conformance import config as configs, interrupts, report as reports
from conformance.catalogue import Catalogue, Requirement
from conformance.evidence import Evidence
from conformance.outcomes import Outcomes
from conformance.targets import Target, Targets

HOST_PARAM = "_testinfra_host"  # testinfra's indirect, module-scoped parameter behind `host`


@dataclasses.dataclass
class Run:
    """The session's conformance state (one per process; the controller also aggregates results)."""
    settings: configs.Settings
    catalogue: Catalogue | None
    run_id: str
    started: datetime.datetime
    suites_dir: Path
    targets: Targets
    outcomes: Outcomes
    results: reports.Results
    run_dir: Path | None = None
    exit_status: int | None = None
    pytest_status: int | None = None  # pytest's own exit status, before ending.exit_status replaces it
    cleanup_problems: list[str] = dataclasses.field(default_factory=list)
    lint_error: str | None = None
    report_problems: list[str] = dataclasses.field(default_factory=list)  # reports that could not be written
    audits: dict[str, dict] = dataclasses.field(default_factory=dict)  # target -> leak audit (audit.Audit.as_json)
    session: pytest.Session | None = None  # the exit status can still change at unconfigure (MANIFEST)
    ending: interrupts.Ending = dataclasses.field(default_factory=lambda: interrupts.Ending())


@dataclasses.dataclass(frozen=True)
class Check:
    """What the plugin knows about one collected check."""
    requirement: Requirement
    target: str  # the spec (the key of results.json's hosts)
    name: str  # the target's display name (Targets.name_of), in every report and message


RUN = pytest.StashKey[Run]()
CHECK = pytest.StashKey[Check]()
EVIDENCE = pytest.StashKey[Evidence]()
CALL_REPORT = pytest.StashKey[pytest.TestReport]()


def target_of(item: pytest.Item) -> Target:
    return item.config.stash[RUN].targets.get(item.callspec.params[HOST_PARAM])


# The process's role: the one place that asks xdist. A worker runs checks and hands what only the controller
# reports (lint failures, leak audits) over in workeroutput; the controller (or a run without xdist) writes reports.

def is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def from_controller(config: pytest.Config) -> dict | None:
    """A worker's workerinput (what the controller handed it: testrunuid, pytest_configure_node's keys), else None."""
    return getattr(config, "workerinput", None)


def to_controller(config: pytest.Config, key: str, value) -> None:
    """A worker hands value to the controller (read there by from_worker when the worker is down)."""
    config.workeroutput[key] = value


def from_worker(node, key: str):
    """Controller: what a worker node handed over under key (to_controller), None when it has not (yet)."""
    return (getattr(node, "workeroutput", None) or {}).get(key)


def to_worker(node, key: str, value) -> None:
    """Controller, at pytest_configure_node: hand value to a worker (read there by from_controller)."""
    node.workerinput[key] = value


LINT = "conformance_lint"  # a worker's collection-lint failure (a UsageError there would be an INTERNALERROR)
AUDITS = "conformance_audits"  # a worker's leak audits, per target
LOADGROUP = "conformance_loadgroup"  # the controller distributes by xdist group (collection._fleet_dist)
