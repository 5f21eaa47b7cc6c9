"""A pull the run left unfinished (interrupted while its progress was read) is waited for, bounded, before the run
removes what it pulled: the engine finishes it after the client left, and its image must not stay behind.

On a fake engine whose pull goes on after the client's interrupt and ends when the engine says so (its `pull` event,
which the fake sends when the client reads its events); the live case is in tests/test_safety_lab.py.
"""
import docker
import pytest
import requests

from conformance import cleanup, unfinished_pulls

REF = "nginx:latest"


class Images:
    def __init__(self, engine):
        self.engine = engine

    def get(self, ref):
        if ref not in self.engine.present:
            raise docker.errors.ImageNotFound(f"No such image: {ref}")
        return ref

    def pull(self, repository, tag=None):
        self.engine.pulling.add(f"{repository}:{tag}")
        raise KeyboardInterrupt  # Ctrl-C while the progress is read: the engine's pull goes on

    def remove(self, ref):
        if ref not in self.engine.present:
            raise docker.errors.ImageNotFound(f"No such image: {ref}")
        self.engine.present.discard(ref)


class Volumes:
    def __init__(self, engine):
        self.engine = engine

    def create(self, name, labels):
        self.engine.volumes[name] = labels


class Stream:
    def __init__(self, events):
        self.events, self.closed = iter(events), False

    def __iter__(self):
        return self.events

    def close(self):
        self.closed = True


class Api:
    timeout = 5

    def __init__(self, engine):
        self.engine = engine

    def info(self):
        return {"SystemTime": "2026-11-29T14:10:00.123456789Z"}

    def volumes(self, filters):
        wanted = [f.split("=", 1) for f in filters["label"]]
        found = [{"Name": n, "Labels": labels} for n, labels in self.engine.volumes.items()
                 if all(k in labels and (not v or labels[k] == v[0]) for k, *v in wanted)]
        return {"Volumes": found}

    def remove_volume(self, name):
        del self.engine.volumes[name]

    def events(self, since, until, filters, decode):
        self.engine.asked.append((since, until, filters))
        events = [{"Type": "image", "Action": "pull", "id": "hello-world:latest"}]
        if self.engine.finishes:  # the engine ends the pull it went on with: the image is there, then its event
            events += [{"Type": "image", "Action": "pull", "id": ref} for ref in sorted(self.engine.pulling)]
            self.engine.finish()
        if self.engine.silence == "read timeout":
            events = silent_until_timeout(events)
        self.engine.stream = Stream(events)
        return self.engine.stream


def silent_until_timeout(events):
    yield from events
    raise requests.exceptions.ConnectionError("UnixHTTPConnectionPool(host='localhost', port=None): Read timed out.")


class Engine:
    def __init__(self, finishes=True, silence="until"):
        self.present, self.pulling, self.volumes, self.asked = set(), set(), {}, []
        self.finishes, self.silence = finishes, silence
        self.images, self.volumes_model, self.api = Images(self), Volumes(self), Api(self)

    def finish(self):
        """The engine ends the pulls the client left: their images are there."""
        self.present |= self.pulling
        self.pulling = set()


class Client:
    def __init__(self, engine):
        self.images, self.volumes, self.api = engine.images, engine.volumes_model, engine.api


def interrupted_pull(engine):
    pulled = cleanup.PulledImages(Client(engine), "run1", "t")
    with pytest.raises(KeyboardInterrupt):
        pulled.ensure("nginx")
    return pulled


def test_an_interrupted_pull_is_waited_for_and_its_image_removed():
    engine = Engine()
    pulled = interrupted_pull(engine)
    assert pulled.remove_pulled() == []
    engine.finish()  # the engine goes on after the client left: had the cleanup not waited, the image comes now
    assert engine.present == set() and engine.volumes == {}, "the image the run pulled, or its record, stayed"
    (since, until, filters), = engine.asked
    assert filters == {"type": "image", "event": "pull"} and engine.stream.closed
    assert until - since <= 5 + 1 + unfinished_pulls.SLACK_S + 1, (since, until)  # bounded by the call timeout
    assert pulled.released == {REF: "removed"}


@pytest.mark.parametrize("silence", ["until", "read timeout"])
def test_a_pull_the_engine_never_ends_is_named_after_the_bound(silence):
    """The engine sends no pull event (it cancelled the pull when the client left): the stream ends at `until`, or
    by the client's read timeout where that comes first; either way the wait ends there, naming the image."""
    engine = Engine(finishes=False, silence=silence)
    pulled = interrupted_pull(engine)
    problems = pulled.remove_pulled()
    assert problems == [f"pull of {REF}, left unfinished: no image and no end reported by the engine within 5 s (it "
                        f"cancelled the pull, or is still at it: if {REF} arrives later, remove it with "
                        f"`docker rmi {REF}`)"]
    assert engine.volumes == {}


def test_a_pull_that_ended_before_the_cleanup_is_not_waited_for():
    engine = Engine()
    pulled = interrupted_pull(engine)
    engine.present.add(REF)
    assert pulled.remove_pulled() == [] and engine.asked == [] and engine.present == set()


def test_the_engines_clock_is_read_from_its_system_time():
    class Info:
        def __init__(self, text):
            self.api = type("Api", (), {"info": lambda api: {"SystemTime": text}})()

    assert unfinished_pulls.engine_now(Info("2026-11-29T14:10:00.123456789Z")) == 1795961400
    assert unfinished_pulls.engine_now(Info("2026-11-29T15:10:00+01:00")) == 1795961400
