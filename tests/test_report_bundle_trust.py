"""What verify-report trusts: only names inside the bundle, never through a symlink."""
import hashlib
import shutil
import subprocess
from pathlib import Path

from conformance import bundle


def verify(folder: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["conformance-lab", "verify-report", str(folder), *args], capture_output=True, text=True,
                          timeout=60)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def made(root: Path) -> Path:
    """A small bundle: files in the run folder and in evidence/, and its manifest."""
    run_dir = root / "run"
    (run_dir / "evidence" / "local").mkdir(parents=True)
    (run_dir / "report.html").write_text("<p>does not conform</p>\n")
    (run_dir / "results.json").write_text('{"verdict": "does not conform"}\n')
    (run_dir / "evidence" / "local" / "service.running.txt").write_text("status: failed\n")
    bundle.write_manifest(run_dir)
    return run_dir


def test_names_outside_the_bundle_are_refused_and_not_read(tmp_path, monkeypatch):
    run_dir = made(tmp_path)
    outside = tmp_path / "outside.txt"
    outside.write_text("not part of the run\n")
    with open(run_dir / bundle.MANIFEST, "a") as manifest:
        manifest.write(f"{sha256(Path('/etc/hostname'))}  /etc/hostname\n"
                       f"{sha256(outside)}  ../outside.txt\n"
                       f"{'0' * 64}  evidence/../../outside.txt\n")
    read = []
    digest = bundle._digest
    monkeypatch.setattr(bundle, "_digest", lambda path: read.append(Path(path)) or digest(path))
    assert bundle.verify(run_dir) == ["refused: /etc/hostname: an absolute name (not read)",
                                      "refused: ../outside.txt: outside the bundle (not read)",
                                      "refused: evidence/../../outside.txt: outside the bundle (not read)"]
    assert read and all(run_dir in p.parents for p in read), read
    assert verify(run_dir).returncode == 1


def test_symlinks_are_refused_and_not_followed(tmp_path):
    run_dir = made(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(run_dir / "evidence", elsewhere)
    link = run_dir / "results.json"  # a listed file replaced by a link to a copy: same bytes, outside the bundle
    (tmp_path / "results.json").write_bytes(link.read_bytes())
    link.unlink()
    link.symlink_to(tmp_path / "results.json")
    shutil.rmtree(run_dir / "evidence")  # a listed folder replaced by a link to a copy
    (run_dir / "evidence").symlink_to(elsewhere)
    (run_dir / "notes.txt").symlink_to("/etc/hostname")  # an unlisted link
    proc = verify(run_dir)
    assert proc.returncode == 1
    assert set(proc.stdout.splitlines()) == {
        f"verify-report: {run_dir}: refused: evidence/local/service.running.txt: a symlink (not read)",
        f"verify-report: {run_dir}: refused: results.json: a symlink (not read)",
        f"verify-report: {run_dir}: extra: evidence (a symlink; not read)",
        f"verify-report: {run_dir}: extra: notes.txt (a symlink; not read)"}, proc.stdout
    bundle.write_manifest(run_dir)  # a manifest written now lists no link
    assert set((run_dir / bundle.MANIFEST).read_text().split()[1::2]) == {"report.html"}
