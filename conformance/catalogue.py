"""The requirement catalogue: requirements.toml of the checks' folder (suites/, conformance.suites) loaded and validated."""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from conformance import config as configs
from conformance.profiles import NAMES as profile_names

CATALOGUE_NAME = "requirements.toml"  # in the folder of the checks it lists
LEVELS = ("MUST", "SHOULD")
PROFILES = ("any", *profile_names)
REQUIRED = ("id", "section", "level", "claim", "description", "proof")
OPTIONAL = ("profile", "depends", "by_construction")
ID_PATTERN = re.compile(r"[a-z][a-z0-9-]*(\.[a-z0-9][a-z0-9-]*)*")


def installed_suites() -> Path:
    """The folder of the shipped checks, package conformance.suites (a checkout's suites/ when installed editable)."""
    import conformance.suites
    return Path(conformance.suites.__file__).resolve().parent


def installed_path() -> Path:
    """The shipped catalogue."""
    return installed_suites() / CATALOGUE_NAME


@dataclasses.dataclass(frozen=True)
class Requirement:
    """One documented behaviour the suite proves."""
    id: str
    section: str
    level: str
    claim: str
    description: str
    proof: str
    profile: str = "any"
    depends: tuple[str, ...] = ()
    by_construction: str = ""  # why no engine of the kind the seed documents (Moby) can fail it; reports show it


class Catalogue:
    """The requirements in file order, looked up by id or id prefix."""

    def __init__(self, requirements: list[Requirement], path: Path | None = None):
        self.path = path
        self._by_id = {r.id: r for r in requirements}
        self._order = {r.id: i for i, r in enumerate(requirements)}

    def __contains__(self, req_id: str) -> bool:
        return req_id in self._by_id

    def __iter__(self):
        return iter(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)

    def get(self, req_id: str) -> Requirement | None:
        return self._by_id.get(req_id)

    def index(self, req_id: str) -> int:
        return self._order.get(req_id, len(self._order))

    def ids(self) -> list[str]:
        return list(self._by_id)

    def matching(self, prefix: str) -> list[str]:
        return [i for i in self._by_id if i.startswith(prefix)]

    def with_dependencies(self, req_ids) -> set[str]:
        """The given ids and, transitively, every id they depend on."""
        wanted, todo = set(), list(req_ids)
        while todo:
            req_id = todo.pop()
            if req_id not in wanted:
                wanted.add(req_id)
                todo.extend(self._by_id[req_id].depends)
        return wanted


def _fail(path: Path, where: str, message: str) -> None:
    raise pytest.UsageError(f"{path}: requirement {where}: {message}")


def _requirement(path: Path, n: int, entry: dict, earlier: dict[str, Requirement]) -> Requirement:
    where = repr(entry.get("id", f"#{n + 1}"))
    unknown = sorted(set(entry) - set(REQUIRED) - set(OPTIONAL))
    if unknown:
        _fail(path, where, f"unknown key(s) {', '.join(unknown)} (allowed: {', '.join(REQUIRED + OPTIONAL)})")
    missing = [k for k in REQUIRED if k not in entry]
    if missing:
        _fail(path, where, f"missing key(s) {', '.join(missing)}")
    for key in (*REQUIRED, "profile", "by_construction"):
        if key in entry and not (isinstance(entry[key], str) and entry[key].strip()):
            _fail(path, where, f"{key} must be a non-empty string")
    if not ID_PATTERN.fullmatch(entry["id"]):
        _fail(path, where, "id must be lower-case words joined by dots, e.g. image.copy-on-write")
    if entry["id"] in earlier:
        _fail(path, where, "duplicate id")
    if entry["level"] not in LEVELS:
        _fail(path, where, f"level {entry['level']!r} is not one of {', '.join(LEVELS)}")
    profile = entry.get("profile", "any")
    if profile not in PROFILES:
        _fail(path, where, f"profile {profile!r} is not one of {', '.join(PROFILES)}")
    depends = entry.get("depends", [])
    if not (isinstance(depends, list) and all(isinstance(d, str) for d in depends)):
        _fail(path, where, "depends must be a list of ids")
    for dep in depends:
        if dep not in earlier:
            _fail(path, where, f"depends on {dep!r}, which is not listed earlier in the file")
    return Requirement(**{**entry, "profile": profile, "depends": tuple(depends)})


def load(path: Path) -> Catalogue:
    """Read and validate the catalogue; any problem is a UsageError naming the file and the id."""
    data = configs.read_toml(path, "requirement catalogue")
    extra = sorted(set(data) - {"requirement"})
    if extra:
        raise pytest.UsageError(f"{path}: unknown top-level key(s) {', '.join(extra)}; use [[requirement]] tables")
    entries = data.get("requirement", [])
    if not isinstance(entries, list):
        raise pytest.UsageError(f"{path}: 'requirement' must be an array of tables ([[requirement]])")
    earlier: dict[str, Requirement] = {}
    for n, entry in enumerate(entries):
        req = _requirement(path, n, entry, earlier)
        earlier[req.id] = req
    return Catalogue(list(earlier.values()), path)
