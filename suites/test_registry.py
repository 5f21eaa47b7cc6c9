"""Seed 1.3 docker镜像从哪里来: Docker Hub by default, a registry mirror in /etc/docker/daemon.json."""
import pytest

from conformance import probes
from conformance.judges import registry as judge
from conformance.profiles import DAEMON_JSON, profiles

ENGINE = profiles()["engine"]
MANIFEST_TYPES = ("application/vnd.docker.distribution.manifest.list.v2+json",  # the Accept of a manifest GET
                  "application/vnd.oci.image.index.v1+json",
                  "application/vnd.docker.distribution.manifest.v2+json",
                  "application/vnd.oci.image.manifest.v1+json")


def file_mirrors(host, evidence):
    """registry-mirrors of daemon.json; [] when it is missing or unreadable (mirror-configured judges that)."""
    content = probes.read_file(host, evidence, DAEMON_JSON)
    try:
        return judge.daemon_json_mirrors(content) if content else []
    except ValueError:  # json.JSONDecodeError is a ValueError
        return []


def daemon_mirrors(engine, evidence):
    registry = engine.info().get("RegistryConfig") or {}
    evidence.api("GET /info", RegistryConfig_Mirrors=registry.get("Mirrors"))
    return registry.get("Mirrors") or []


def http(host, target, evidence):
    return probes.Http(host, evidence, timeout=min(10, target.settings.call_timeout))


@pytest.mark.req("registry.default-hub")
def test_default_hub(engine, evidence):
    """The engine's default index is Docker Hub."""
    info = engine.info()
    evidence.api("GET /info", IndexServerAddress=info.get("IndexServerAddress"),
                 IndexConfigs=(info.get("RegistryConfig") or {}).get("IndexConfigs"))
    judge.default_hub(info, ENGINE["hub_index"]).check(evidence)


@pytest.mark.req("registry.mirror-configured")
def test_mirror_configured(host, target, evidence):
    """daemon.json is valid JSON and lists the expected registry mirror(s)."""
    content = probes.read_file(host, evidence, DAEMON_JSON)
    evidence.note(f"expected mirrors: {list(target.settings.mirrors) or 'any, at least one'}")
    judge.mirror_configured(DAEMON_JSON, content, target.settings.mirrors).check(evidence)


@pytest.mark.req("registry.mirror-applied")
def test_mirror_applied(host, engine, evidence):
    """The running daemon uses exactly the mirrors daemon.json lists."""
    judge.mirror_applied(file_mirrors(host, evidence), daemon_mirrors(engine, evidence)).check(evidence)


@pytest.mark.req("registry.mirror-reachable")
def test_mirror_reachable(host, target, engine, evidence):
    """Every mirror the daemon uses answers the registry API from the target."""
    mirrors = judge.mirrors_in_use(daemon_mirrors(engine, evidence), file_mirrors(host, evidence))
    get = http(host, target, evidence).get
    judge.mirror_reachable({m: get(f"{m}/v2/")[0] for m in mirrors}).check(evidence)


@pytest.mark.req("registry.mirror-serves-pulls")
def test_mirror_serves_pulls(host, target, engine, make, evidence):
    """The hello-world image the engine pulled is the one a mirror serves."""
    repo_digests = make.pull(probes.HELLO_WORLD).attrs.get("RepoDigests") or []
    evidence.api(f"GET /images/{probes.HELLO_WORLD}/json", RepoDigests=repo_digests)
    mirrors = judge.mirrors_in_use(daemon_mirrors(engine, evidence), file_mirrors(host, evidence))
    get = http(host, target, evidence).get
    answers = {}
    for mirror in mirrors:
        status, headers, _ = get(f"{mirror}/v2/library/hello-world/manifests/latest", MANIFEST_TYPES)
        answers[mirror] = (status, headers.get("docker-content-digest"))
    judge.serves_pulls(answers, repo_digests).check(evidence)
