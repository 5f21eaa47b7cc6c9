"""One loader for the suite's settings: defaults < config file < CONFORMANCE_* environment < command line."""
from __future__ import annotations

import dataclasses
import fnmatch
import os
import re
import tomllib
import urllib.parse
from collections.abc import Callable
from typing import Any

import pytest

from conformance.profiles import NAMES as profile_names

ENV_PREFIX = "CONFORMANCE_"
PROFILES = ("auto", *profile_names)
EDITIONS = ("ce", "ee", "any")


def _choice(*allowed: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text not in allowed:
            raise ValueError(f"expected one of {', '.join(allowed)}")
        return text
    return parse


def _number(kind: type, minimum: float = 0) -> Callable[[Any], Any]:
    def parse(text: Any) -> Any:
        try:
            value = kind(text)
        except (TypeError, ValueError):
            raise ValueError(f"expected a number, got {text!r}") from None
        if value <= minimum:
            raise ValueError(f"expected a number above {minimum}, got {text!r}")
        return value
    return parse


def _version(text: str) -> str:
    if not re.fullmatch(r"\d+(\.\d+){0,2}", str(text)):
        raise ValueError(f"expected a version like 20.10 or 24.0.7, got {text!r}")
    return str(text)


def _url(schemes: tuple[str, ...], what: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        url = urllib.parse.urlparse(str(text))
        try:
            url.port  # noqa: B018 - raises ValueError on a malformed port
        except ValueError:
            raise ValueError(f"malformed {what} {text!r}: bad port") from None
        if url.scheme not in schemes or not (url.netloc or (url.scheme == "unix" and url.path)):
            raise ValueError(f"malformed {what} {text!r}: expected {'|'.join(schemes)}://host[:port]")
        return str(text)
    return parse


def _key_file(text: Any) -> str:
    path = os.path.expanduser(str(text))
    if not os.path.isfile(path) or not os.access(path, os.R_OK):
        raise ValueError(f"no readable key file {text!r}")
    return path


def _bool(text: Any) -> bool:
    if isinstance(text, bool):
        return text
    value = str(text).strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off", ""):
        return False
    raise ValueError(f"expected true or false, got {text!r}")


@dataclasses.dataclass(frozen=True)
class Option:
    """One setting: its parser, default and whether it takes per-target PATTERN=VALUE rules."""
    name: str
    default: Any
    parse: Callable[[Any], Any]
    help: str
    per_target: bool = False
    flag: bool = False
    cli: str | None = None  # command-line name when it differs from name

    @property
    def flag_name(self) -> str:
        return "--" + (self.cli or self.name)

    @property
    def attr(self) -> str:
        return self.name.replace("-", "_")

    @property
    def env(self) -> str:
        return ENV_PREFIX + self.attr.upper()


OPTIONS = (
    Option("profile", "auto", _choice(*PROFILES), per_target=True,
           help="Target profile: auto (from os-release), rhel or debian; [PATTERN=]VALUE, repeatable"),
    Option("mirror", None, _url(("http", "https"), "mirror URL"), per_target=True,
           help="Expected registry mirror URL; [PATTERN=]URL, repeatable (default: any, but one must be configured)"),
    Option("min-engine-version", None, _version, per_target=True,
           help="Minimum engine version the policy requires; [PATTERN=]VERSION (default: none)"),
    Option("edition", "any", _choice(*EDITIONS), per_target=True,
           help="Required engine edition: ce, ee or any; [PATTERN=]VALUE (default: any)"),
    Option("start-budget-ms", 5000, _number(int), per_target=True,
           help="Container start budget in milliseconds; [PATTERN=]MS (default: 5000)"),
    Option("call-timeout", 30.0, _number(float), per_target=True,
           help="Timeout in seconds of every Docker, SSH and command call; [PATTERN=]SECONDS (default: 30)"),
    Option("check-timeout", 300.0, _number(float), per_target=True,
           help="Watchdog of each check: seconds from its setup to its teardown before it ends as an error; "
                "[PATTERN=]SECONDS (default: 300)"),
    Option("engine-url", None, _url(("unix", "tcp", "ssh", "http", "https"), "engine URL"), per_target=True,
           help="Docker API URL of a target instead of the derived one; [TARGET=]URL, repeatable"),
    Option("skip-host-key-check", False, _bool, per_target=True,
           help="Accept any SSH host key of a target's paramiko connections (paramiko:// commands, the ssh:// engine "
                "link), unknown or changed; [PATTERN=]true, repeatable (default: false: checked against known_hosts)"),
    Option("skip-volume-hashing", False, _bool, per_target=True,
           help="Do not read the content of a target's pre-existing volumes for the leak audit (their names and "
                "creation times are still compared); [PATTERN=]true, repeatable (default: false)"),
    Option("ssh-work-ahead", True, _bool, per_target=True,
           help="Run the engine work ahead of the checks over ssh too (2 threads), where the target's sshd allows "
                "the sessions it needs at the start (else inline, said in the evidence); [PATTERN=]false runs a "
                "target's engine work inline, in each check; repeatable (default: true)"),
    # pytest 9 owns --strict (strict markers, config, ...), hence --strict-should.
    Option("strict", False, _bool, flag=True, cli="strict-should", help="Make SHOULD failures fail the run"),
    Option("report-dir", "reports", str, help="Folder for the run folders and the latest link (default: reports)"),
    Option("keep-pulled-images", False, _bool, flag=True,
           help="Keep the images the run pulled (the leak audit lists them as kept by request)"),
    Option("sign-key", None, _key_file,
           help="Sign MANIFEST.sha256 with this SSH key (ssh-keygen -Y sign; a private key, or the public key of "
                "one in ssh-agent) into MANIFEST.sha256.sig (default: unsigned)"),
)
BY_NAME = {o.name: o for o in OPTIONS}

Rule = tuple[str | None, Any]  # (target pattern or None for every target, value)


@dataclasses.dataclass(frozen=True)
class TargetSettings:
    """The settings resolved for one target."""
    profile: str
    mirrors: tuple[str, ...]
    min_engine_version: str | None
    edition: str
    start_budget_ms: int
    call_timeout: float
    check_timeout: float
    engine_url: str | None
    profile_source: str
    skip_host_key_check: bool = False
    skip_volume_hashing: bool = False
    ssh_work_ahead: bool = True


@dataclasses.dataclass(frozen=True)
class Settings:
    """All settings; per-target ones are rule tuples, resolved with for_target()."""
    profile: tuple[Rule, ...]
    mirror: tuple[Rule, ...]
    min_engine_version: tuple[Rule, ...]
    edition: tuple[Rule, ...]
    start_budget_ms: tuple[Rule, ...]
    call_timeout: tuple[Rule, ...]
    check_timeout: tuple[Rule, ...]
    engine_url: tuple[Rule, ...]
    skip_host_key_check: tuple[Rule, ...]
    skip_volume_hashing: tuple[Rule, ...]
    ssh_work_ahead: tuple[Rule, ...]
    strict: bool
    report_dir: str
    keep_pulled_images: bool
    sign_key: str | None
    sources: dict[str, str] = dataclasses.field(default_factory=dict, compare=False)

    def for_target(self, target_id: str, *aliases: str) -> TargetSettings:
        names = (target_id, *aliases)

        def pick(rules: tuple[Rule, ...], default: Any) -> Any:
            general = [v for p, v in rules if p is None]
            specific = [v for p, v in rules if p is not None and _matches(p, names)]
            return (specific or general or [default])[-1]

        mirrors = [v for p, v in self.mirror if p is None or _matches(p, names)]
        return TargetSettings(
            profile=pick(self.profile, "auto"),
            mirrors=tuple(dict.fromkeys(mirrors)),
            min_engine_version=pick(self.min_engine_version, None),
            edition=pick(self.edition, "any"),
            start_budget_ms=pick(self.start_budget_ms, 5000),
            call_timeout=pick(self.call_timeout, 30.0),
            check_timeout=pick(self.check_timeout, 300.0),
            engine_url=pick(self.engine_url, None),
            profile_source=self.sources.get("profile", "default"),
            skip_host_key_check=pick(self.skip_host_key_check, False),
            skip_volume_hashing=pick(self.skip_volume_hashing, False),
            ssh_work_ahead=pick(self.ssh_work_ahead, True),
        )


def _matches(pattern: str, names: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatchcase(n, pattern) for n in names)


def parse_rule(option: Option, text: Any) -> Rule:
    """Split '[PATTERN=]VALUE' at the first '=' whose right side is a valid value."""
    text = str(text)
    for i, char in enumerate(text):
        if char == "=" and i > 0:
            try:
                return text[:i], option.parse(text[i + 1:])
            except ValueError:
                continue
    return None, option.parse(text)


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("conformance")
    group.addoption("--conformance-config", metavar="FILE", default=None,
                    help="TOML file with conformance settings (also CONFORMANCE_CONFIG)")
    group.addoption("--req", action="append", default=[], metavar="PREFIX",
                    help="Select checks whose requirement id starts with PREFIX; repeatable")
    for o in OPTIONS:
        dest = "conformance_" + o.attr
        if o.flag:
            group.addoption(o.flag_name, dest=dest, action="store_true", default=None, help=o.help)
        elif o.per_target:
            group.addoption(o.flag_name, dest=dest, action="append", default=None, metavar="VALUE", help=o.help)
        else:
            group.addoption(o.flag_name, dest=dest, default=None, metavar="VALUE", help=o.help)


def _layer_value(option: Option, raw: Any, where: str) -> Any:
    try:
        if option.per_target:
            items = raw if isinstance(raw, list) else [raw]
            return tuple(parse_rule(option, item) for item in items)
        return option.parse(raw)
    except ValueError as e:
        raise pytest.UsageError(f"conformance: bad {where} value {raw!r} for {option.name}: {e}") from None


def read_toml(path, what: str) -> dict[str, Any]:
    """The TOML file's data; unreadable or invalid, a UsageError naming what it is, the path and the place."""
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except OSError as e:
        raise pytest.UsageError(f"conformance: cannot read {what} {path}: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise pytest.UsageError(f"conformance: {what} {path} is not valid TOML: {e}") from None


def _file_layer(path: str) -> dict[str, Any]:
    data = read_toml(path, "config file")
    layer = {}
    for key, raw in data.items():
        option = BY_NAME.get(key.replace("_", "-"))
        if option is None:
            raise pytest.UsageError(f"conformance: unknown setting {key!r} in {path} "
                                    f"(known: {', '.join(BY_NAME)})")
        layer[option.name] = _layer_value(option, raw, f"config file {path}")
    return layer


def _env_layer(environ: dict[str, str]) -> dict[str, Any]:
    layer = {}
    for o in OPTIONS:
        raw = environ.get(o.env)
        if raw is None:
            continue
        if o.per_target:
            raw = [part for part in re.split(r"[\s,]+", raw) if part]
        layer[o.name] = _layer_value(o, raw, o.env)
    return layer


def _cli_layer(config: pytest.Config) -> dict[str, Any]:
    layer = {}
    for o in OPTIONS:
        raw = config.getoption("conformance_" + o.attr)
        if raw is not None:
            layer[o.name] = _layer_value(o, raw, o.flag_name)
    return layer


def load(config: pytest.Config, environ: dict[str, str] | None = None, inventory=None) -> Settings:
    """Build the frozen Settings from defaults, file, environment and command line, in that order.

    An inventory's per-host settings (conformance.inventory) join the file layer as rules for exactly that host:
    they beat the file's general values and are replaced, like the file's, by the environment or command line.
    """
    environ = dict(os.environ if environ is None else environ)
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for o in OPTIONS:
        values[o.name] = () if o.per_target and o.default is None else (
            ((None, o.default),) if o.per_target else o.default)
        sources[o.name] = "default"
    path = config.getoption("conformance_config") or environ.get(ENV_PREFIX + "CONFIG")
    layers = [(f"config file {path}", _file_layer(path) if path else {}),
              ("environment", _env_layer(environ)),
              ("command line", _cli_layer(config))]
    for origin, layer in layers:
        for name, value in layer.items():
            values[name] = value
            sources[name] = {"environment": BY_NAME[name].env, "command line": BY_NAME[name].flag_name}.get(origin, origin)
        if origin.startswith("config file") and inventory is not None:
            for name, rules in inventory.rules().items():
                values[name] = (*values[name], *rules)
                where = f"inventory {inventory.path}"
                sources[name] = where if sources[name] == "default" else f"{sources[name]} and {where}"
    return Settings(**{BY_NAME[n].attr: v for n, v in values.items()}, sources=sources)
