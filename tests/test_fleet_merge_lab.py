"""The real suite on local:// and two lab hosts: the merged bundle of --shard runs equals one run over all three."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conformance import merge, shard
from conformance.lab import engine, hosts
from conformance.lab.sshconf import USER, client_key

pytestmark = pytest.mark.lab

REPO = Path(__file__).resolve().parent.parent
SHARDS = 2
LAB_NAMES = (f"f17-merge-{os.getpid() % 100000}-a", f"f17-merge-{os.getpid() % 100000}-b")
LOAD_TOLERANT = ("--start-budget-ms=60000", "--call-timeout=60")


def names_in_every_shard(count: int) -> list[str]:
    """Inventory names that fall into shard 1, 2, 1, ... of SHARDS, so that every shard has a host."""
    found, candidates = [], (f"host-{i}" for i in range(1000))
    for k in [(i % SHARDS) + 1 for i in range(count)]:
        found.append(next(c for c in candidates if shard.number(c, SHARDS) == k))
    return found


def suite(folder: Path, inventory: Path, *args: str) -> Path:
    """The suite from the repository root over the inventory; its run folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONFORMANCE_") and k != "PYTEST_ADDOPTS"}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", f"--report-dir={folder}",
                           f"--inventory={inventory}", *LOAD_TOLERANT, *args, "suites"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    (folder / "output.txt").write_text(proc.stdout + proc.stderr)
    assert (folder / "latest" / "results.json").exists(), proc.stdout[-3000:] + proc.stderr[-2000:]
    return (folder / "latest").resolve()


@pytest.fixture(scope="module")
def inventory(tmp_path_factory):
    """local:// and two debian lab hosts under inventory names that split over the shards; hosts stopped after."""
    with engine.client(timeout=120) as client:
        started = []
        try:
            for name in LAB_NAMES:
                started.append(name)
                spec = hosts.start(client, name, "debian")
                started[-1] = (name, spec.split("@", 1)[1].split("?", 1)[0])
            local, first, second = names_in_every_shard(3)
            path = tmp_path_factory.mktemp("inventory") / "fleet.yml"
            path.write_text(f"defaults:\n  user: {USER}\n  key: {client_key()}\nhosts:\n  {local}:\n    spec: local://\n"
                            + "".join(f"  {n}:\n    address: {ip}\n" for n, (_, ip) in zip((first, second), started)))
            yield path
        finally:
            for item in started:
                hosts.stop(client, item[0] if isinstance(item, tuple) else item)


def outcomes(results: dict) -> dict:
    return {h["name"]: {i: e["status"] for i, e in h["requirements"].items()} for h in results["hosts"].values()}


def test_merged_shards_equal_one_run_over_every_host(inventory, tmp_path):
    whole = suite(tmp_path / "whole", inventory, "-n", "3")
    folders = [suite(tmp_path / f"shard-{k}", inventory, f"--shard={k}/{SHARDS}", "-n", "2")
               for k in range(1, SHARDS + 1)]
    out = tmp_path / "fleet"
    code = merge.main([*map(str, folders), "--out", str(out)])
    merged, expected = (json.loads((p / "results.json").read_text()) for p in (out, whole))
    assert outcomes(merged) == outcomes(expected)
    assert len(merged["hosts"]) == 3 and all(len(h["requirements"]) == len(expected["catalogue"]["ids"])
                                             for h in merged["hosts"].values())
    assert code == expected["exit_status"]["code"] == merged["exit_status"]["code"]
    assert subprocess.run(["conformance-lab", "verify-report", str(out)], capture_output=True).returncode == 0
