"""Tiny noarch rpms that simulate CentOS 7 packages, built with Debian's rpmbuild and cached by content hash."""
import hashlib
import json
import shutil
import tomllib

from conformance.lab import paths
from conformance.lab.progress import LabError, run, step

SPEC = "centos7/sim-package.spec"
TABLE = "centos7/packages.toml"


def table():
    """The simulated packages: name -> {version, release, summary, epoch?}."""
    return tomllib.loads(paths.recipe(TABLE).read_text())


def _digest(name, fields):
    h = hashlib.sha256(paths.recipe(SPEC).read_bytes())
    h.update(json.dumps([name, fields], sort_keys=True).encode())
    return h.hexdigest()[:12]


def ensure_built(names):
    """Paths of the rpm files for `names`, each built once and cached under the lab folder."""
    packages = table()
    unknown = sorted(set(names) - set(packages))
    if unknown:
        raise LabError(f"no simulated package {', '.join(unknown)} in {paths.recipe(TABLE)}")
    return [_ensure_one(name, packages[name]) for name in names]


def _ensure_one(name, fields):
    cache = paths.HOME / "rpms" / _digest(name, fields)
    built = sorted(cache.glob("*.rpm"))
    if built:
        return built[0]
    with step(f"rpmbuild {name}-{fields['version']}"):
        top = paths.BUILD / f"rpm-{name}"
        shutil.rmtree(top, ignore_errors=True)
        defines = {"_topdir": top, "sim_name": name, "sim_version": fields["version"],
                   "sim_release": fields["release"], "sim_summary": fields["summary"]}
        if "epoch" in fields:
            defines["sim_epoch"] = fields["epoch"]
        args = [a for k, v in defines.items() for a in ("--define", f"{k} {v}")]
        try:
            run(["rpmbuild", "-bb", "--quiet", *args, str(paths.recipe(SPEC))],
                title=f"rpmbuild {name}", timeout=120)
            rpm = next((top / "RPMS" / "noarch").glob("*.rpm"))
            cache.mkdir(parents=True, exist_ok=True)
            tmp = cache / (rpm.name + ".tmp")
            shutil.copy(rpm, tmp)
            return tmp.rename(cache / rpm.name)  # rename: a concurrent reader never sees half a file
        finally:
            shutil.rmtree(top, ignore_errors=True)
