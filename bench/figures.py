"""reports/bench.json: bench/run.py's local:// figures at the top level, bench/ssh.py's and bench/fleet.py's under their
own keys (ssh, fleet); each script keeps the others' figures."""
from __future__ import annotations

import json
import os
import statistics
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = ROOT / "reports" / "bench.json"
# Lab hosts of the bench are named <prefix>bench-ssh, <prefix>fleet-b1, ...: on a machine shared with other people's
# lab hosts, each may give its own prefix.
HOST_PREFIX = os.environ.get("CONFORMANCE_BENCH_HOST_PREFIX", "")


def load(path: Path = DEFAULT) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}


def save(key: str, value: dict, path: Path = DEFAULT) -> None:
    """Write value under key, keeping the other scripts' keys."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({**load(path), key: value}, indent=2) + "\n")


def summary(values: list[float]) -> dict:
    return {"median": round(statistics.median(values), 3), "min": round(min(values), 3), "max": round(max(values), 3)}
