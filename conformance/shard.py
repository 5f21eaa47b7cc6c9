"""--shard K/N: a stable share of the targets, by display name, so that parallel CI jobs each check a part."""
from __future__ import annotations

import hashlib
import os
import re

import pytest

from conformance import config as configs

ENV = configs.ENV_PREFIX + "SHARD"


def add_options(parser: pytest.Parser) -> None:
    parser.getgroup("conformance").addoption(
        "--shard", metavar="K/N", default=None,
        help="Check only shard K of N (1 <= K <= N): the targets whose display name hashes to K, the same shard "
             "for a name whatever the other targets (also CONFORMANCE_SHARD)")


def parse(text: str) -> tuple[int, int]:
    """'K/N' -> (K, N); anything else is a usage error (exit 4) saying what is expected."""
    found = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    k, n = (int(found[1]), int(found[2])) if found else (0, 0)
    if not found or n < 1 or not 1 <= k <= n:
        raise pytest.UsageError(f"--shard {text!r}: expected K/N with whole numbers 1 <= K <= N, e.g. --shard 2/4")
    return k, n


def of(config: pytest.Config, environ: dict[str, str] | None = None) -> tuple[int, int] | None:
    """The (K, N) asked for on the command line, else in CONFORMANCE_SHARD; None for every target."""
    environ = os.environ if environ is None else environ
    text = config.getoption("shard", None) or environ.get(ENV) or None
    return None if text is None else parse(text)


def number(name: str, n: int) -> int:
    """The shard (1..n) of a display name: sha256 of the name mod n, so it depends on the name alone."""
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "big") % n + 1


def select(names: dict[str, str], k: int, n: int) -> list[str]:
    """The target ids (keys of names: target id -> display name, in run order) that fall into shard k of n."""
    return [target for target, name in names.items() if number(name, n) == k]


def empty_message(k: int, n: int, names: dict[str, str]) -> str:
    where = ", ".join(f"{name} -> {number(name, n)}" for name in names.values())
    return (f"conformance: shard {k}/{n} has no target ({len(names)} target(s) in all: {where}); nothing to check, "
            "no run folder written, exit status 0")


def apply(config: pytest.Config, specs: list[str], inventory) -> tuple[list[str], dict[str, str] | None]:
    """(the specs of this shard, the display names of the whole run) under --shard; (specs, None) without it.

    The names are made over every target, so a shard names a target as one run over all of them would (#2 ...), and
    conformance-merge can join the shards' folders. An empty shard ends the run here: exit status 0, no folder."""
    from conformance.targets import display_names  # late: targets imports the engine client
    wanted = of(config)
    if wanted is None:
        return specs, None
    entries = inventory.by_spec() if inventory is not None else {}
    names = display_names([(s, entries[s].name if s in entries else None) for s in specs])
    chosen = select(names, *wanted)
    if not chosen:
        pytest.exit(empty_message(*wanted, names), returncode=pytest.ExitCode.OK)
    return chosen, names
