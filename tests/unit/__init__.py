"""Unit tests: judges and parsers on recorded answers, no engine or lab (tox -e unit). A package, so that
tests/unit/test_<section>.py and suites/test_<section>.py never collide as modules (unit.test_images)."""
