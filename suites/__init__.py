"""The checks of the suite, one module per seed section (shipped as conformance.suites)."""
