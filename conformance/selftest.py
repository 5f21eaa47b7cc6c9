"""Helpers for the plugin's own tests: a throw-away project with a catalogue and checks, run in a subprocess."""
from __future__ import annotations

import json
import textwrap
from pathlib import Path

PYPROJECT = """\
[tool.pytest.ini_options]
testpaths = ["suites"]
"""


def requirement(req_id: str, level: str = "MUST", **extra) -> dict:
    """A valid catalogue entry; extra keys override or add (profile, depends, ...)."""
    return {"id": req_id, "section": "1.2", "level": level, "claim": f"claim of {req_id}",
            "description": f"description of {req_id}", "proof": "scratch", **extra}


def catalogue_toml(entries: list[dict]) -> str:
    blocks = []
    for entry in entries:
        lines = ["[[requirement]]"] + [f"{k} = {json.dumps(list(v) if isinstance(v, tuple) else v)}"
                                       for k, v in entry.items()]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def make_project(pytester, entries: list[dict], checks: str, name: str = "test_checks") -> Path:
    """Write pyproject, suites/requirements.toml and suites/<name>.py into the pytester dir."""
    root = Path(pytester.path)
    (root / "pyproject.toml").write_text(PYPROJECT)
    suites = root / "suites"
    suites.mkdir(exist_ok=True)
    (suites / "requirements.toml").write_text(catalogue_toml(entries))
    (suites / f"{name}.py").write_text(textwrap.dedent(checks))
    return root


def results(root: Path) -> dict:
    """results.json of the latest run in <root>/reports."""
    return json.loads((root / "reports" / "latest" / "results.json").read_text())


def statuses(root: Path, target: str = "local://") -> dict[str, str]:
    return {i: e["status"] for i, e in results(root)["hosts"][target]["requirements"].items()}
