"""Facts that name the engine behind a target's Docker API, from recorded GET /version and GET /info answers."""
from conformance import engine_kind, targets

# Debian's docker.io 26 (Platform has no name), Docker CE, Podman 4.3 with podman-docker (its compat /version),
# and rootless Docker (GET /info SecurityOptions).
DOCKER_IO = {"Version": "26.1.5+dfsg1", "ApiVersion": "1.45", "Components": [{"Name": "Engine", "Version": "26.1.5+dfsg1"}]}
DOCKER_CE = {"Platform": {"Name": "Docker Engine - Community"}, "Version": "28.5.2", "ApiVersion": "1.51",
             "Components": [{"Name": "Engine"}, {"Name": "containerd"}, {"Name": "runc"}]}
PODMAN = {"Platform": {"Name": "linux/amd64/debian-12"}, "Version": "4.3.1", "ApiVersion": "1.41",
          "Components": [{"Name": "Podman Engine", "Version": "4.3.1", "Details": {"APIVersion": "4.3.1"}},
                         {"Name": "Conmon"}, {"Name": "OCI Runtime (crun)"}]}
ROOTFUL = {"SecurityOptions": ["name=seccomp,profile=builtin"]}
ROOTLESS = {"SecurityOptions": ["name=seccomp,profile=builtin", "name=rootless", "name=cgroupns"]}


def test_docker_engines_are_named_with_their_api_and_mode():
    assert engine_kind.describe(DOCKER_IO, ROOTFUL) == "Docker Engine 26.1.5+dfsg1, API 1.45, rootful"
    assert engine_kind.describe(DOCKER_CE, ROOTLESS) == "Docker Engine - Community 28.5.2, API 1.51, rootless"


def test_podman_is_named_and_said_not_to_be_docker():
    assert engine_kind.describe(PODMAN, ROOTFUL) == ("Podman 4.3.1 (Docker-compatible API 1.41), not Docker Engine, "
                                                     "rootful")
    assert engine_kind.describe(PODMAN, ROOTLESS).endswith("rootless")
    assert not engine_kind.is_podman(DOCKER_CE) and not engine_kind.is_rootless(ROOTFUL)


def test_pid_1_says_whether_systemd_runs_the_host():
    assert targets.init_fact("systemd") == "systemd"
    assert targets.init_fact("init") == "init: not systemd (no systemd unit runs the engine)"


def test_the_docker_socket_names_podman_before_any_connection():
    assert engine_kind.socket_fact("/run/podman/podman.sock") == (
        "/var/run/docker.sock -> /run/podman/podman.sock: Podman's Docker-compatible socket, not Docker Engine's")
    assert engine_kind.socket_fact("/run/docker.sock") == "/var/run/docker.sock -> /run/docker.sock"
    assert engine_kind.socket_fact("") == "/var/run/docker.sock does not exist"
