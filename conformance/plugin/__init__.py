"""The suite's pytest plugin (pytest11 entry point `conformance.plugin`): one module per concern, each registered by
pytest as a plugin of its own through pytest_plugins below (the root conftest.py is the map). A module comes after
the ones it imports: pytest marks each for assertion rewriting and warns about one that is imported already."""

pytest_plugins = [
    "conformance.plugin.checks",  # per check: blocked / not applicable, watchdog, each phase's report and outcome
    "conformance.plugin.collection",  # options, the run's configuration, catalogue selection (--req), lint of suites/
    "conformance.plugin.report_html",  # pytest-html and pytest-metadata: columns, rows, summary, environment table
    "conformance.plugin.ending",  # end of run: cleanup, results.json, manifest, terminal summary, the exit status
    "conformance.plugin.fixtures",  # run_id, target, engine, evidence, requirement, make
]
