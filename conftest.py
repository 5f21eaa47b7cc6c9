"""Where things live: a map, on purpose free of code.

The suite's plugin is loaded by its pytest11 entry point (pyproject.toml), so an installed package works without
this file and nothing here may register it again. Runs from this checkout collect suites/ (pyproject's testpaths).

Hooks and fixtures (conformance/plugin/, one module per concern; __init__.py lists them as pytest_plugins):
  collection.py   options (conformance/config.py's table, inventory), the run's configuration, --req, lint of suites/
  checks.py       per check: blocked / not applicable before setup, watchdog, each phase's report and its outcome
  ending.py       end of run: cleanup and leak audit, results.json, evidence/, MANIFEST, summary, exit_status()
  report_html.py  pytest-html and pytest-metadata: columns, row logs, verdict summary, environment table
  fixtures.py     run_id, target, engine, evidence, requirement, make (`host` is testinfra's)
  state.py        the run's state, the stash keys, and the process's role under xdist (controller or worker)
suites/conftest.py   the checks' own autouse fixture: engine work started ahead (conformance/ahead.py)
tests/conftest.py    the self-tests' lab client

Outcomes: conformance/outcomes.py (the five statuses; Blocked, BlockedByState, NotApplicable; expect()).
Checks in suites/test_<section>.py, judges in conformance/judges/<section>.py, red tests in tests/unit/.

Data: suites/requirements.toml (the catalogue), conformance/profiles.toml (what each profile expects),
conformance/report.css and conformance/schema/ (reports); test-only: fixtures/verdicts.toml (the proof matrix's
expectations) and fixtures/lab/ (the lab's recipes).
"""
