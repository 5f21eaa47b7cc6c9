"""docker-host-conformance: the suite as a command, `pytest --pyargs conformance.suites ARGS` (the installed checks,
from any folder). An interrupt that arrives while pytest is still starting ends like any other interrupt: one line
and exit status 2."""
import signal
import sys

INTERRUPTED = 2  # pytest.ExitCode.INTERRUPTED, without importing pytest before the handlers are in place
SUITES = "conformance.suites"  # the checks, shipped with the package (suites/ of a checkout)


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")


def main(argv: list[str] | None = None) -> int:
    # From here on SIGTERM ends the run like Ctrl-C; the plugin takes over both once pytest has configured it.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        import pytest
        return int(pytest.main(["--pyargs", SUITES, *(sys.argv[1:] if argv is None else argv)]))
    except KeyboardInterrupt as interrupt:
        # pytest handles an interrupt once its session runs; before that (plugins loading, capture set-up) it
        # reaches here, after pytest has undone its set-up.
        print(f"conformance: {interrupt or 'signal SIGINT'} while pytest was starting: no check ran; "
              f"exit status {INTERRUPTED}: interrupted", file=sys.stderr, flush=True)
        return INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
