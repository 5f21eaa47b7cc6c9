"""Judges of seed 1.3 docker镜像从哪里来: Docker Hub by default, a registry mirror in daemon.json, used and reachable."""
from __future__ import annotations

import json

from conformance.judges import Verdict


def default_hub(info: dict, hub_index: str) -> Verdict:
    """Judge registry.default-hub."""
    index = info.get("IndexServerAddress")
    official = ((info.get("RegistryConfig") or {}).get("IndexConfigs") or {}).get("docker.io", {}).get("Official")
    return Verdict(index == hub_index and official is True, f"IndexServerAddress {hub_index}, docker.io official",
                   f"IndexServerAddress {index}, docker.io official: {official}")


def daemon_json_mirrors(content: str) -> list[str]:
    """registry-mirrors of a daemon.json text (raises json.JSONDecodeError or ValueError)."""
    data = json.loads(content)
    if not isinstance(data, dict):
        raise ValueError("the top level is not a JSON object")
    mirrors = data.get("registry-mirrors", [])
    if not isinstance(mirrors, list) or not all(isinstance(m, str) for m in mirrors):
        raise ValueError(f"registry-mirrors is not a list of strings: {mirrors!r}")
    return mirrors


def normalise(mirrors) -> list[str]:
    """The daemon adds a trailing '/' to each mirror (moby TestValidateMirror)."""
    return sorted(m.rstrip("/") for m in mirrors)


def mirror_configured(path: str, content: str | None, expected: tuple[str, ...]) -> Verdict:
    """Judge registry.mirror-configured."""
    want = f"{path} valid JSON with registry-mirrors " + (f"holding {', '.join(expected)}" if expected else "not empty")
    if content is None:
        return Verdict(False, want, f"{path} does not exist or cannot be read")
    try:
        mirrors = daemon_json_mirrors(content)
    except json.JSONDecodeError as e:
        return Verdict(False, want, f"{path} is not valid JSON: line {e.lineno} column {e.colno}: {e.msg}")
    except ValueError as e:
        return Verdict(False, want, f"{path}: {e}")
    missing = [m for m in expected if m.rstrip("/") not in normalise(mirrors)]
    return Verdict(bool(mirrors) and not missing, want,
                   f"registry-mirrors {mirrors}" + (f"; missing {missing}" if missing else ""))


def mirror_applied(file_mirrors: list[str], daemon_mirrors: list[str]) -> Verdict:
    """Judge registry.mirror-applied: drift between the file and the running daemon means a pending restart."""
    same = normalise(file_mirrors) == normalise(daemon_mirrors)
    return Verdict(same, f"the running daemon uses daemon.json's mirrors {file_mirrors}",
                   f"running daemon uses {daemon_mirrors}" + ("" if same else
                                                              " (drift: daemon.json changed, restart pending)"))


def mirrors_in_use(daemon_mirrors: list[str], file_mirrors: list[str]) -> list[str]:
    """The mirrors pulls go through: the running daemon's, else (not restarted yet) the file's."""
    return [m.rstrip("/") for m in (daemon_mirrors or file_mirrors)]


def mirror_reachable(answers: dict[str, int | None]) -> Verdict:
    """Judge registry.mirror-reachable: GET /v2/ answers 200 or 401 for every mirror."""
    bad = {m: s for m, s in answers.items() if s not in (200, 401)}
    found = ", ".join(f"{m}/v2/ -> {s if s is not None else 'no answer'}" for m, s in answers.items()) or "no mirror"
    return Verdict(bool(answers) and not bad, "GET <mirror>/v2/ answers 200 or 401", found)


def serves_pulls(answers: dict[str, tuple[int | None, str | None]], repo_digests: list[str]) -> Verdict:
    """Judge registry.mirror-serves-pulls: a mirror serves the manifest digest the engine pulled."""
    local = {d.partition("@")[2] for d in repo_digests}
    served = [m for m, (status, digest) in answers.items() if status == 200 and digest in local]
    found = ("; ".join(f"{m}: HTTP {s if s is not None else 'no answer'} digest {d or '-'}" for m, (s, d) in answers.items())
             + f"; local RepoDigests {repo_digests or 'none'}")
    return Verdict(bool(served), "a mirror serves hello-world:latest with a digest the engine pulled", found)
