"""pytest-html and pytest-metadata: the report's title, conformance columns, row logs, verdict summary and the
environment table (redacted; filled with the run's targets at the end of the run)."""
from __future__ import annotations

import html

import pytest

from conformance import html_report
from conformance.evidence import redact
from conformance.plugin.state import RUN


def _metadata(config: pytest.Config) -> dict | None:
    """pytest-metadata's dict: the environment table of report.html (pytest-html reads it when it writes)."""
    try:
        from pytest_metadata.plugin import metadata_key
    except ImportError:
        return None
    return config.stash.get(metadata_key, None)


def _redact_metadata(config: pytest.Config, escape: bool = False) -> None:
    """Every metadata key and value redacted (pytest-metadata copies CI variables and --metadata values, which may
    hold URLs; it prints them under -v); with escape, also HTML-escaped, once, just before pytest-html writes:
    its JavaScript renders each value (and each key of a nested table) as HTML, only a top-level key as text."""
    metadata = _metadata(config)
    if metadata is None:
        return

    def escaped(value):
        if isinstance(value, dict):
            return {html.escape(str(k)): escaped(v) for k, v in value.items()}
        if isinstance(value, list):
            return [escaped(v) for v in value]
        return html.escape(value) if isinstance(value, str) else value
    for key, value in list(metadata.items()):
        del metadata[key]
        value = redact(value)
        metadata[redact(key) if isinstance(key, str) else key] = escaped(value) if escape else value


def environment(config: pytest.Config, values: dict) -> None:
    """Add the run's values (id, targets and their facts) to the environment table, then redact and escape all of it,
    once, just before pytest-html writes (pytest-metadata makes its dict after this plugin's pytest_configure)."""
    metadata = _metadata(config)
    if metadata is not None:
        metadata.update(values)
        _redact_metadata(config, escape=True)


@pytest.hookimpl(tryfirst=True)  # before the terminal prints pytest-metadata's report header
def pytest_sessionstart(session: pytest.Session) -> None:
    _redact_metadata(session.config)


@pytest.hookimpl(optionalhook=True)
def pytest_html_report_title(report) -> None:
    report.title = "Docker host conformance"


@pytest.hookimpl(optionalhook=True)
def pytest_html_results_table_header(cells: list[str]) -> None:
    html_report.header(cells)


@pytest.hookimpl(optionalhook=True)
def pytest_html_results_table_row(report, cells: list[str]) -> None:
    html_report.row(report, cells)


@pytest.hookimpl(optionalhook=True)
def pytest_html_results_table_html(report, data: list[str]) -> None:
    html_report.log(report, data)


@pytest.hookimpl(optionalhook=True)
def pytest_html_results_summary(prefix: list[str], summary: list[str], postfix: list[str], session) -> None:
    """The verdict and per-host counts at the top, the fleet grid above the results table."""
    run = session.config.stash.get(RUN, None)
    if run is None or not run.results.hosts:
        return
    order = run.catalogue.ids() if run.catalogue else []
    html_report.summary(prefix, postfix, run.results, order, run.exit_status, run.settings.strict)
