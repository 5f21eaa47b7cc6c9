"""Lab host variants as data (fixtures/lab/variants.toml): a base plus mutation steps, validated on load."""
import re
import tomllib
from dataclasses import dataclass, field

from conformance.lab import paths, releases, rpms
from conformance.lab.progress import LabError

FILE = "variants.toml"  # in the lab's recipes (paths.recipe)
DEFAULT_MIRROR = "http://{gateway}:5000"
VARIANT_KEYS = {"description", "base", "mirror", "policy", "registry", "observer", "steps", "release", "store"}
# observer: the suite logs in as this user (created with the lab key) instead of root: {user = "hunter", groups = [...]},
# with sudo = true also a passwordless sudoers entry, and the suite checks the host as ssh://user@ip?...&sudo=true
NAME = re.compile(r"[a-z_][a-z0-9_-]{0,31}")
# policy key -> the suite option it becomes, and its type (the proof matrix passes them to the suite).
POLICY_OPTIONS = {
    "mirror": ("--mirror", str),
    "min_engine_version": ("--min-engine-version", str),
    "edition": ("--edition", str),
    "start_budget_ms": ("--start-budget-ms", int),
    "engine_url": ("--engine-url", str),  # "{host}" stands for the lab host's address
}
# registry: an extra lab registry serving only some repositories of the lab registry (see extra_registry.py).
REGISTRY_PORTS = range(5001, 5100)
# Each step kind with its argument type and the options it accepts (option -> type).
STEP_KINDS = {
    "write": (str, {"content": str, "source": str, "mode": int}),
    "remove": (str, {}),
    "run": (str, {"timeout": int}),
    "daemon_json": (dict, {"restart": bool, "replace": bool}),
    "rpm": (list, {}),
}


@dataclass(frozen=True)
class Step:
    """One mutation: a kind, its argument and its options."""
    kind: str
    arg: object
    options: dict = field(default_factory=dict)

    def __str__(self):
        return f"{self.kind} {self.arg!r}" + "".join(f" {k}={v!r}" for k, v in self.options.items()
                                                      if k != "content")


@dataclass(frozen=True)
class Variant:
    """A lab host variant, its base's steps and settings already folded in."""
    name: str
    description: str
    steps: tuple = ()
    mirror: str = DEFAULT_MIRROR
    policy: dict = field(default_factory=dict)
    base: str = ""
    registry: dict = field(default_factory=dict)  # {} or {"port": int, "serves": [repository, ...]}
    observer: dict = field(default_factory=dict)  # {} (root) or {"user": str, "groups": [str, ...], "sudo": bool}
    release: str = releases.DEFAULT  # the Debian release the host runs (conformance/lab/releases.py)
    store: str = "overlay2"          # the engine's image store: overlay2 or containerd

    def suite_options(self, values=None):
        """The policy as suite command-line options; the expected mirror defaults to the variant's own."""
        policy = {"mirror": self.mirror, **self.policy} if self.mirror else dict(self.policy)
        out = []
        for key, value in policy.items():
            for k, v in (values or {}).items():
                value = value.replace(k, v) if isinstance(value, str) else value
            out.append(f"{POLICY_OPTIONS[key][0]}={value}")
        return out


def load(path=None):
    """Every variant in the file by name; a LabError naming the variant and the fault on any mistake."""
    path = path or paths.recipe(FILE)
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise LabError(f"{path}: {e}") from None
    resolved = {}
    for name in raw:
        _resolve(name, raw, resolved, path, chain=())
    return resolved


def get(name, path=None):
    """One variant by name; a LabError listing the known ones otherwise."""
    variants = load(path)
    if name not in variants:
        raise LabError(f"unknown variant {name!r}; known: {', '.join(variants)}")
    return variants[name]


def _resolve(name, raw, resolved, path, chain):
    if name in resolved:
        return resolved[name]
    where = f"{path}: variant {name!r}"
    if name in chain:
        raise LabError(f"{where}: base cycle {' -> '.join((*chain, name))}")
    table = raw[name]
    if not isinstance(table, dict):
        raise LabError(f"{where}: must be a table")
    unknown = set(table) - VARIANT_KEYS
    if unknown:
        raise LabError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(VARIANT_KEYS))}")
    base_name = table.get("base", "")
    if base_name:
        if base_name not in raw:
            raise LabError(f"{where}: unknown base {base_name!r}; known: {', '.join(raw)}")
        base = _resolve(base_name, raw, resolved, path, (*chain, name))
    else:
        base = Variant(name="", description="")
    if not isinstance(table.get("description", ""), str) or not table.get("description"):
        raise LabError(f"{where}: needs a one-line description")
    if not isinstance(table.get("mirror", ""), str):
        raise LabError(f"{where}: mirror must be a string")
    if not isinstance(table.get("policy", {}), dict):
        raise LabError(f"{where}: policy must be a table")
    for key, value in table.get("policy", {}).items():
        if key not in POLICY_OPTIONS:
            raise LabError(f"{where}: unknown policy key {key!r}; known: {', '.join(POLICY_OPTIONS)}")
        if not isinstance(value, POLICY_OPTIONS[key][1]):
            raise LabError(f"{where}: policy {key} must be a {'number' if POLICY_OPTIONS[key][1] is int else 'string'}")
    registry = table.get("registry", base.registry)
    if registry != base.registry:
        _registry(registry, where)
    release, store = table.get("release", base.release), table.get("store", base.store)
    try:
        releases.get(release if isinstance(release, str) else repr(release))
        releases.check_store(store if isinstance(store, str) else repr(store))
    except LabError as e:
        raise LabError(f"{where}: {e}") from None
    observer = table.get("observer", base.observer)
    if observer != base.observer:
        _observer(observer, where)
    steps = table.get("steps", [])
    if not isinstance(steps, list):
        raise LabError(f"{where}: steps must be a list of tables")
    own = tuple(_step(s, f"{where}, step {i + 1}") for i, s in enumerate(steps))
    variant = Variant(name=name, description=table["description"], steps=base.steps + own,
                      mirror=table.get("mirror", base.mirror), policy={**base.policy, **table.get("policy", {})},
                      base=base_name, registry=registry, observer=observer, release=release, store=store)
    resolved[name] = variant
    return variant


def _registry(table, where):
    if not isinstance(table, dict) or set(table) != {"port", "serves"}:
        raise LabError(f"{where}: registry must be a table {{port = 5002, serves = [\"library/nginx\"]}}")
    port, serves = table["port"], table["serves"]
    if not isinstance(port, int) or port not in REGISTRY_PORTS:
        raise LabError(f"{where}: registry port must be a number in {REGISTRY_PORTS.start}-{REGISTRY_PORTS.stop - 1} "
                       "(5000 is the lab registry)")
    if not (isinstance(serves, list) and serves and all(isinstance(s, str) and "/" in s for s in serves)):
        raise LabError(f"{where}: registry serves must list repositories like \"library/nginx\"")


def _observer(table, where):
    groups = table.get("groups", []) if isinstance(table, dict) else None
    if (not isinstance(table, dict) or not set(table) <= {"user", "groups", "sudo"}
            or not isinstance(table.get("sudo", False), bool) or not isinstance(table.get("user"), str)
            or not NAME.fullmatch(table["user"]) or table["user"] == "root" or not isinstance(groups, list)
            or not all(isinstance(g, str) and NAME.fullmatch(g) for g in groups)):
        raise LabError(f"{where}: observer must be a table {{user = \"hunter\", groups = [\"docker\"], sudo = true}} "
                       "(a user name other than root; groups and sudo optional)")


def _step(table, where):
    if not isinstance(table, dict):
        raise LabError(f"{where}: must be a table like {{run = \"...\"}}")
    kinds = [k for k in table if k in STEP_KINDS]
    if len(kinds) != 1:
        raise LabError(f"{where}: needs exactly one step kind of {', '.join(STEP_KINDS)}; "
                       f"found {', '.join(sorted(table)) or 'nothing'}")
    kind = kinds[0]
    arg_type, option_types = STEP_KINDS[kind]
    arg = table[kind]
    if not isinstance(arg, arg_type):
        raise LabError(f"{where}: {kind} takes a {arg_type.__name__}, got {type(arg).__name__}")
    options = {k: v for k, v in table.items() if k != kind}
    for key, value in options.items():
        if key not in option_types:
            raise LabError(f"{where}: {kind} has no option {key!r}"
                           + (f"; options: {', '.join(option_types)}" if option_types else ""))
        if not isinstance(value, option_types[key]):
            raise LabError(f"{where}: option {key} must be a {option_types[key].__name__}")
    if kind == "write":
        if ("content" in options) == ("source" in options):
            raise LabError(f"{where}: write needs exactly one of content or source")
        if "source" in options and not paths.recipe(options["source"]).is_file():
            raise LabError(f"{where}: source {options['source']!r} is not a file under {paths.FIXTURES}")
    if kind in ("write", "remove") and not arg.startswith("/"):
        raise LabError(f"{where}: {kind} needs an absolute path, got {arg!r}")
    if kind == "rpm":
        unknown = [n for n in arg if n not in rpms.table()]
        if unknown or not arg:
            raise LabError(f"{where}: rpm needs names from {rpms.TABLE}; unknown: {', '.join(map(str, unknown))}")
    return Step(kind, arg, options)
