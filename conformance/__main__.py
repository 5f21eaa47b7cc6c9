"""`python -m conformance`: the same as the docker-host-conformance command."""
import sys

from conformance.console import main

sys.exit(main())
