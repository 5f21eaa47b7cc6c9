"""Which Engine API version the suite speaks to a target: the newest both sides know, or an error naming both.

docker-py asks the engine for its newest API version and speaks that one, whatever it is. The suite reads
shapes (fields) that API versions move or drop (API 1.52: GraphDriver, NetworkSettings.IPAddress), so it speaks
at most the newest version whose shapes its checks know, and never one the engine does not accept.
"""
from __future__ import annotations

import docker
from docker.constants import MINIMUM_DOCKER_API_VERSION
from docker.utils import version_lt

NEWEST_KNOWN = "1.52"  # Engine 29; see docs/api/version-history.md in moby/moby for what each version changed


class NoCommonVersion(docker.errors.DockerException):
    """The engine and this client share no API version: the suite cannot talk to the engine."""


def negotiate(answer: dict, low: str = MINIMUM_DOCKER_API_VERSION, high: str = NEWEST_KNOWN) -> str:
    """The API version to speak, from the engine's unversioned GET /version answer."""
    newest, oldest = answer.get("ApiVersion") or "", answer.get("MinAPIVersion") or answer.get("ApiVersion") or ""
    client = f"this client (docker-py {docker.__version__}, the suite's checks) speaks API {low} to {high}"
    engine = f"the engine ({answer.get('Version') or 'version not reported'}) speaks API {oldest or '?'} to {newest or '?'}"
    if not newest:
        raise NoCommonVersion(f"no API version to speak: {engine} (GET /version names no ApiVersion); {client}")
    if version_lt(newest, low):
        raise NoCommonVersion(f"the engine's API is too old: {engine}; {client}")
    if version_lt(high, oldest):
        raise NoCommonVersion(f"the engine's API is too new: {engine}; {client}")
    return high if version_lt(high, newest) else newest
