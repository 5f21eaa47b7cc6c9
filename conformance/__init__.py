"""docker-host-conformance: the pytest plugin, probes and reports (PYTEST_DONT_REWRITE: this file only; the
console script docker-host-conformance imports the package before pytest marks it for assertion rewriting)."""
