"""A login inside a container of the engine it judges (a CI job given the engine's socket): recorded answers."""
import docker.errors
import pytest

from conformance import targets
from conformance.outcomes import ObserverError
from suites.conftest import outside_engine_container

ID = "384bbe37badf7883404a4a52f501a98edc1dbbf7b4136778e98c22515c04d31b"
# grep of /proc/self/mountinfo in ci-runner on the lab host observer-in-engine-container (the engine's root is a volume)
CI_RUNNER = (f"332 179 254:0 /var/lib/docker/volumes/conformance-lab-h4-a-docker/_data/containers/{ID}/hostname "
             "/etc/hostname rw,relatime - ext4 /dev/vda rw,discard\n"
             "334 179 0:179 /docker.sock /run/docker.sock rw,nosuid,nodev,relatime - tmpfs tmpfs rw,mode=755\n")
# the lab host itself: a container of the machine's engine that runs its own dockerd (no socket bound in)
LAB_HOST = ("657 624 254:0 /var/lib/docker/containers/5195f158eb0b745eeb936848430fa73539f63fe9bec1156aab54055c6b822bd1"
            "/hostname /etc/hostname rw,relatime - ext4 /dev/vda rw,discard\n")
PODMAN = (f"1 2 0:5 /containers/storage/overlay-containers/{ID}/userdata/hostname /etc/hostname rw - tmpfs tmpfs rw\n"
          "3 2 0:6 /podman/podman.sock /var/run/docker.sock rw - tmpfs tmpfs rw\n")


@pytest.mark.parametrize("mountinfo,found", [(CI_RUNNER, ID), (PODMAN, ID), (LAB_HOST, ""), ("", ""),
                                             ("3 2 0:6 /docker.sock /run/docker.sock rw - tmpfs tmpfs rw\n", "")])
def test_the_login_container_is_its_hostname_source_where_the_socket_is_bound_in(mountinfo, found):
    assert targets.login_container(mountinfo) == found


class Api:
    def __init__(self, names):
        self.names = names

    def inspect_container(self, cid):
        if cid not in self.names:
            raise docker.errors.NotFound("No such container")
        return {"Id": cid, "Name": "/" + self.names[cid]}


def target_seeing(mountinfo, engine_names):
    target = targets.Target.__new__(targets.Target)
    target.name = "root@172.17.0.7"
    target.__dict__["_cached_host_answers"] = (True, {"container": targets.Answer(0, mountinfo)})
    target.__dict__["_cached__engine"] = (True, type("Client", (), {"api": Api(engine_names)})())
    return target


def test_a_login_inside_the_judged_engines_container_is_an_observer_error_naming_it():
    with pytest.raises(ObserverError, match=r"inside container ci-runner \(384bbe37badf\) of the engine it judges"):
        outside_engine_container(target_seeing(CI_RUNNER, {ID: "ci-runner"}))


def test_a_container_of_another_engine_or_no_container_observes_the_host():
    outside_engine_container(target_seeing(CI_RUNNER, {}))  # the socket leads to an engine without that container
    outside_engine_container(target_seeing(LAB_HOST, {}))


def test_no_engine_is_asked_where_the_login_shows_no_container_given_the_socket():
    target = target_seeing(LAB_HOST, {})
    target.__dict__["_cached__engine"] = (False, ObserverError("the engine may not be asked"))
    assert target.observer_container() == ""
