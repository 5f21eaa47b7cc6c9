"""Pulls the run left before their end (an interrupt, or the connection broke while their progress was read).

The engine goes on pulling after the client stopped reading its progress: the image then arrives after the run's
cleanup looked for it, and stays (the leak audit says "appeared during the run, not pulled by it"). Before the run
removes what it pulled, it waits, bounded, for the engine to report the end of each such pull: the image present, or
the engine's own `pull` event for the reference (GET /events, replayed from the moment the pull was asked for, so an
end that came first is seen too). A pull the engine abandoned sends no event: the wait then ends at its bound.
"""
from __future__ import annotations

import time

import docker

from conformance import engine as engines
from conformance.judges import engine_time
from conformance.outcomes import TargetError, one_line

WAIT_S = 10  # at most (and at most the call timeout): an engine that goes on past the client's leaving is at the end
# of the pull (its layers in, the image being registered); one that cancelled it (what 20.10 did in the lab, the
# client's connection closed) sends nothing, and this is what the run's end then costs
SLACK_S = 2  # before the pull was asked for: the engine's event times have whole-second resolution in `since`


def engine_now(client: docker.DockerClient) -> float:
    """The engine's clock (GET /info SystemTime), as a POSIX time: /events' since and until are read by that clock,
    not the runner's, which may be minutes apart from a remote target's."""
    now = engine_time(client.api.info().get("SystemTime"))
    if now is None:
        return time.time()  # an engine without SystemTime: the runner's clock, with SLACK_S of margin
    return float(int(now))  # whole seconds, as `since` reads them


def _present(client: docker.DockerClient, ref: str) -> bool:
    try:
        client.images.get(ref)
    except docker.errors.ImageNotFound:
        return False
    return True


def _names(ref: str) -> set[str]:
    """The forms an engine may name ref by in its pull event ('hello-world:latest', 'docker.io/library/...')."""
    short = ref.removeprefix("docker.io/").removeprefix("library/")
    return {ref, short, f"docker.io/{short}", f"docker.io/library/{short}"}


def wait(client: docker.DockerClient, unfinished: dict[str, float], bound: float) -> list[str]:
    """Wait at most bound seconds for the engine to end the pulls in unfinished (ref -> time.monotonic() when asked
    for); return what could not be seen to end, as problems naming the image. unfinished is emptied."""
    pending = {ref: asked for ref, asked in unfinished.items() if not _present(client, ref)}
    unfinished.clear()
    if not pending:
        return []
    now = engine_now(client)
    since = int(now - (time.monotonic() - min(pending.values()))) - SLACK_S
    until = int(now + bound) + 1
    names = {name: ref for ref in pending for name in _names(ref)}
    operation = f"wait for the end of the pull of {', '.join(sorted(pending))} (GET /events)"

    def read() -> None:
        events = client.api.events(since=since, until=until, filters={"type": "image", "event": "pull"}, decode=True)
        try:
            for event in events:
                ref = names.get(event.get("id") or (event.get("Actor") or {}).get("ID") or "")
                pending.pop(ref, None)
                if not pending:
                    return
        finally:
            engines.close_stream(events)

    try:
        with engines.reading(operation):
            engines.bounded(read, bound + 5, operation)  # `until` ends the stream; this bounds a frozen engine
    except TargetError as e:
        if not engines.timed_out(e):  # a silent stream ends by the read timeout where that is shorter than `until`
            return [one_line(str(e))]
    return [f"pull of {ref}, left unfinished: no image and no end reported by the engine within {bound:g} s (it "
            f"cancelled the pull, or is still at it: if {ref} arrives later, remove it with `docker rmi {ref}`)"
            for ref in sorted(pending) if not _present(client, ref)]
