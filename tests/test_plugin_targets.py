"""Targets against the real local engine: cleanup of labelled objects, unreachable targets and engines."""
import time

import docker
import pytest

from conformance.selftest import make_project, requirement, results, statuses
from conformance.targets import profile_from_os_release

IMAGE = "hello-world"  # present locally (seeded by the lab); tiny, exits at once
CATALOGUE = [requirement("engine.info"), requirement("engine.hello-world", depends=["engine.info"]),
             requirement("image.commit-persists", depends=["engine.info"])]
CHECKS = f"""
    import pytest

    @pytest.mark.req("engine.info")
    def test_info(engine, evidence):
        evidence.api("GET /info", Driver=engine.info()["Driver"])

    @pytest.mark.req("engine.hello-world")
    def test_hello(make, evidence):
        container = make.container("{IMAGE}")
        evidence.note(container.id)
        assert False, "fail on purpose: cleanup must still happen"

    @pytest.mark.req("image.commit-persists")
    def test_commit(make, target, evidence):
        container = make.container("{IMAGE}")
        image = make.commit(container, "conformance-selftest/commit", "t1")
        shared = target.share("one", lambda: target.make.container("{IMAGE}"))
        evidence.note(image.id + " " + shared.id)
"""


@pytest.fixture(scope="module")
def client():
    c = docker.DockerClient(base_url="unix:///var/run/docker.sock", timeout=30)
    if not c.images.list(name=IMAGE):
        pytest.skip(f"{IMAGE} image not present on the local engine")
    yield c
    c.close()


def labelled(client, run_id):
    selector = {"label": f"conformance.run={run_id}"}
    return client.containers.list(all=True, filters=selector) + client.images.list(filters=selector)


def test_everything_labelled_is_removed_also_when_the_check_fails(pytester, client):
    root = make_project(pytester, CATALOGUE, CHECKS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret == 1
    assert statuses(root) == {"engine.info": "passed", "engine.hello-world": "failed",
                              "image.commit-persists": "passed"}
    assert labelled(client, results(root)["run_id"]) == []
    assert not client.images.list(name="conformance-selftest/commit")
    assert client.images.list(name=IMAGE), "an image present before the run must stay"


def test_unreachable_target_is_error_for_that_target_only(pytester):
    root = make_project(pytester, CATALOGUE, CHECKS.replace('assert False, "fail on purpose: cleanup must still happen"',
                                                            "pass"))
    start = time.monotonic()
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--hosts=local://,ssh://root@127.0.0.1:1",
                                           "--call-timeout=5")
    assert time.monotonic() - start < 60
    assert set(statuses(root).values()) == {"passed"}
    broken = results(root)["hosts"]["ssh://root@127.0.0.1:1"]["requirements"]
    assert {e["status"] for e in broken.values()} == {"error"}
    assert broken["engine.info"]["message"].startswith("root@127.0.0.1:1: run a command: ")
    assert result.ret == 1


def test_every_target_in_error_exits_4(pytester):
    make_project(pytester, CATALOGUE, CHECKS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--hosts=ssh://root@127.0.0.1:1")
    assert result.ret == pytest.ExitCode.USAGE_ERROR


def test_unreachable_engine_errors_only_the_engine_checks(pytester):
    checks = CHECKS + """
    @pytest.mark.req("service.running")
    def test_service(host, evidence):
        evidence.cmd(host, "true")
    """
    root = make_project(pytester, [requirement("service.running"), *CATALOGUE], checks)
    start = time.monotonic()
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--engine-url=local://=tcp://127.0.0.1:1",
                                           "--call-timeout=3")
    assert time.monotonic() - start < 60
    assert statuses(root) == {"service.running": "passed", "engine.info": "error",
                              "engine.hello-world": "blocked", "image.commit-persists": "blocked"}
    message = results(root)["hosts"]["local://"]["requirements"]["engine.info"]["message"]
    assert message.startswith("local: connect to engine tcp://127.0.0.1:1:")
    assert result.ret == 1


@pytest.mark.parametrize("text, profile", [
    ('ID=centos\nID_LIKE="rhel fedora"\nVERSION_ID="7"\n', "rhel"),
    ("ID=debian\nVERSION_ID=12\n", "debian"),
    ("ID=ubuntu\nID_LIKE=debian\n", "debian"),
    ("ID=alpine\n", "unknown"),
])
def test_profile_from_os_release(text, profile):
    assert profile_from_os_release(text)[0] == profile


MIRRORED = "127.0.0.1:5000/library/hello-world:latest"  # served by the lab's registry mirror


def test_pulled_image_is_removed_at_the_end_preexisting_one_kept(pytester, client):
    if client.images.list(name=MIRRORED.rsplit(":", 1)[0]):
        pytest.skip(f"{MIRRORED} already present: this test only proves removal of what the run pulled")
    try:
        client.api.inspect_distribution(MIRRORED)
    except docker.errors.DockerException:
        pytest.skip("the lab registry at 127.0.0.1:5000 is not serving hello-world")
    checks = f"""
    import pytest

    @pytest.mark.req("engine.info")
    def test_pull(make, evidence):
        image = make.pull("{MIRRORED}")
        again = make.pull("{IMAGE}")
        evidence.note(image.id + " " + again.id)
    """
    make_project(pytester, [requirement("engine.info")], checks)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    assert result.ret == 0
    assert not client.images.list(name=MIRRORED.rsplit(":", 1)[0])
    assert client.images.list(name=IMAGE)
