"""conformance-merge on the scratch project: shards joined equal one run over all targets; what it refuses."""
import json
import shutil
import subprocess
from pathlib import Path

import pytest

from conformance import bundle, merge, shard
from report_project import run_in

HOSTS = [f"ssh://root@h{i}.invalid" for i in range(1, 4)] + ["local://"]


def outcomes(results: dict) -> dict:
    return {h["name"]: {i: e["status"] for i, e in h["requirements"].items()} for h in results["hosts"].values()}


def run(root: Path, *args: str) -> Path:
    """One run of the scratch project in root; its run folder."""
    done = run_in(root, f"--hosts={','.join(HOSTS)}", *args, fail="service")
    assert done.returncode in (0, 1, 4), done.stdout + done.stderr  # 4: a shard of unreachable hosts only
    return (root / "reports" / "latest").resolve()


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """(one run over every target, [the folder of each non-empty shard of 2])."""
    whole = run(tmp_path_factory.mktemp("whole"))
    shards = [run(tmp_path_factory.mktemp(f"shard{k}"), f"--shard={k}/2") for k in (1, 2)
              if any(shard.number(n, 2) == k for n in ("root@h1.invalid", "root@h2.invalid", "root@h3.invalid", "local"))]
    assert len(shards) == 2, "the four names fall into one shard of 2: pick other names"
    return whole, shards


def test_merged_shards_have_the_outcomes_of_one_run(runs, tmp_path):
    whole, shards = runs
    out = tmp_path / "fleet"
    assert merge.main([*map(str, shards), "--out", str(out)]) == 1  # service.running fails on local: exit 1 as the run
    merged = json.loads((out / "results.json").read_text())
    expected = json.loads((whole / "results.json").read_text())
    assert outcomes(merged) == outcomes(expected)
    assert sorted(merged["hosts"]) == sorted(expected["hosts"])
    assert merged["exit_status"] == expected["exit_status"]
    assert merged["catalogue"] == expected["catalogue"]
    assert [m["run_id"] for m in merged["merged_from"]] == [json.loads((s / "results.json").read_text())["run_id"]
                                                           for s in shards]
    assert bundle.verify(out) == []
    page = (out / "report.html").read_text()
    assert 'id="fleet-grid"' in page and all(f'>{name}</th>' in page for name in outcomes(expected))
    testcases = subprocess.run(["grep", "-c", "<testcase", str(out / "junit.xml")], capture_output=True, text=True)
    whole_cases = subprocess.run(["grep", "-c", "<testcase", str(whole / "junit.xml")], capture_output=True, text=True)
    assert int(testcases.stdout) == int(whole_cases.stdout) > 0
    evidence = sorted(p.relative_to(out).as_posix() for p in (out / "evidence").rglob("*.txt"))
    assert evidence == sorted(p.relative_to(whole).as_posix() for p in (whole / "evidence").rglob("*.txt"))


@pytest.mark.skipif(not shutil.which("ssh-keygen"), reason="ssh-keygen missing (openssh-client)")
def test_a_merged_bundle_is_signed_with_sign_key(runs, tmp_path):
    key = tmp_path / "id"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "ci", "-f", str(key)], check=True)
    signers = tmp_path / "allowed_signers"
    signers.write_text(f'ci namespaces="{bundle.NAMESPACE}" {" ".join(key.with_suffix(".pub").read_text().split()[:2])}\n')
    out = tmp_path / "fleet"
    merge.main([*map(str, runs[1]), "--out", str(out), "--sign-key", str(key)])
    assert bundle.verify_command(str(out), str(signers)) == 0


def copy(folder: Path, where: Path) -> Path:
    return Path(shutil.copytree(folder, where / folder.name, symlinks=True))


def rewrite(folder: Path, change) -> None:
    """Change results.json and write the manifest again (an intact folder of another kind)."""
    data = json.loads((folder / "results.json").read_text())
    change(data)
    (folder / "results.json").write_text(json.dumps(data))
    bundle.write_manifest(folder)


@pytest.mark.parametrize("change, words", [
    (lambda d: d["tools"].update({"docker-host-conformance": "9.9"}), "different suite versions"),
    (lambda d: d["catalogue"].update({"sha256": "0" * 64}), "different catalogues"),
    (lambda d: d.pop("catalogue"), "names no catalogue"),
])
def test_refuses_other_versions_and_catalogues(runs, tmp_path, capsys, change, words):
    first, second = runs[1]
    other = copy(second, tmp_path)
    rewrite(other, change)
    assert merge.main([str(first), str(other), "--out", str(tmp_path / "out")]) == merge.REFUSED
    assert words in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_refuses_a_host_twice_and_a_folder_that_fails_its_manifest(runs, tmp_path, capsys):
    whole, (first, _) = runs
    assert merge.main([str(whole), str(first), "--out", str(tmp_path / "out")]) == merge.REFUSED
    assert "conformance-merge: refused: duplicate target" in capsys.readouterr().err
    edited = copy(first, tmp_path)
    with (edited / "report.html").open("a") as f:
        f.write("<!-- edited -->")
    assert merge.main([str(edited), "--out", str(tmp_path / "out")]) == merge.REFUSED
    assert "fails its manifest check: changed: report.html" in capsys.readouterr().err
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("")
    assert merge.main([str(first), "--out", str(tmp_path / "full")]) == merge.REFUSED
    assert "exists and is not an empty folder" in capsys.readouterr().err
