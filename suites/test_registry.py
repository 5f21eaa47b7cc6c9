"""Seed 1.3 docker镜像从哪里来: Docker Hub by default, a registry mirror in /etc/docker/daemon.json."""
from urllib.parse import urlsplit

import pytest

from conformance import outcomes, probes
from conformance.judges import registry as judge
from conformance.profiles import DAEMON_JSON, profiles

ENGINE = profiles()["engine"]
MANIFEST_TYPES = ("application/vnd.docker.distribution.manifest.list.v2+json",  # the Accept of a manifest GET
                  "application/vnd.oci.image.index.v1+json",
                  "application/vnd.docker.distribution.manifest.v2+json",
                  "application/vnd.oci.image.manifest.v1+json")


def dockerd_config(target, evidence):
    """The configuration file the running dockerd reads (its --config-file, else daemon.json), as bytes."""
    return probes.daemon_config(target, evidence, DAEMON_JSON)


def configured_mirrors(target, evidence) -> tuple[str, list[str]]:
    """(the file dockerd reads, the mirrors it configures); [] when dockerd would refuse it (mirror-configured
    judges that)."""
    config = dockerd_config(target, evidence)
    version = judge.dockerd_version(config.version_text)
    try:
        return config.path, judge.read_mirrors(config.path, config.raw, version, list(config.flag_mirrors))
    except ValueError:
        return config.path, []


def daemon_mirrors(info, evidence):
    """The mirrors the running daemon uses, from its GET /info answer."""
    registry = info.get("RegistryConfig") or {}
    evidence.api("GET /info", RegistryConfig_Mirrors=registry.get("Mirrors"))
    return registry.get("Mirrors") or []


def engine_proxies(info, evidence):
    """url -> the proxy dockerd sends its request for url through (None: direct), from GET /info. A proxy whose
    credentials /info masks cannot be used by the suite: error, never a verdict from another path than dockerd's."""
    evidence.api("GET /info", HttpProxy=info.get("HttpProxy"), HttpsProxy=info.get("HttpsProxy"),
                 NoProxy=info.get("NoProxy"))

    def proxy_for(url):
        proxy = judge.engine_proxy(info, url)
        if proxy and judge.MASKED in proxy:
            raise outcomes.ObserverError(f"{evidence.target_id}: dockerd reaches {url} through a proxy with credentials, "
                                "which GET /info masks: the suite cannot take the same path")
        return proxy
    return proxy_for


def engine_tls(host, info, evidence):
    """url -> how dockerd trusts the certificate of an https url (None: plain http), from GET /info's registry
    configuration and the target's certs.d directory for that host[:port]."""
    config = info.get("RegistryConfig") or {}
    evidence.api("GET /info", IndexConfigs=config.get("IndexConfigs"),
                 InsecureRegistryCIDRs=config.get("InsecureRegistryCIDRs"))

    def trust_for(url):
        if not url.startswith("https://"):
            return None
        files = probes.list_dir(host, evidence, f"{judge.CERTS_DIR}/{judge.host_port(url)}")
        resolved = probes.addresses(host, evidence, urlsplit(url).hostname) if judge.needs_addresses(info, url) else []
        return judge.tls_trust(info, url, files, resolved)
    return trust_for


def http(host, target, evidence):
    return probes.Http(host, evidence, timeout=min(10, target.settings.call_timeout))


def certificate_refused(http, evidence, url, proxy, tls) -> str | None:
    """Why dockerd's TLS client refuses the certificate of a verified https url for its host name (Go's error), None
    when it does not or when the certificate cannot be read (then the client's answer stands, and evidence says so)."""
    if tls is None or not tls.verify:
        return None
    pem = http.leaf_certificate(url, proxy)
    if pem is None:
        evidence.note(f"{url}: its certificate's subjectAltName not judged (read on the target with openssl or python3)")
        return None
    refused = judge.go_hostname_error(pem, urlsplit(url).hostname or "")
    if refused:
        evidence.note(f"dockerd refuses {judge.host_port(url)}'s certificate: {refused}")
    return refused


@pytest.mark.req("registry.default-hub")
def test_default_hub(engine, evidence):
    """The engine's default index is Docker Hub."""
    info = engine.info()
    evidence.api("GET /info", IndexServerAddress=info.get("IndexServerAddress"),
                 IndexConfigs=(info.get("RegistryConfig") or {}).get("IndexConfigs"),
                 RegistryConfig_Mirrors=(info.get("RegistryConfig") or {}).get("Mirrors"))
    judge.default_hub(info, ENGINE["hub_index"]).check(evidence)


@pytest.mark.req("registry.mirror-configured")
def test_mirror_configured(host, target, evidence):
    """The file dockerd reads is valid as dockerd parses it and lists the expected registry mirror(s)."""
    config = dockerd_config(target, evidence)
    version = judge.dockerd_version(config.version_text)
    evidence.note(f"expected mirrors: {list(target.settings.mirrors) or 'any, at least one'}")
    refused, unknown, wrong_types = None, [], []
    if config.raw is not None and version >= judge.VALIDATE_FROM:
        refused = probes.dockerd_refuses(host, evidence, config)
    elif config.raw is not None:
        evidence.note(f"{config.version_text or 'dockerd version unknown'}: no dockerd --validate (23.0 on), so the "
                      "file's JSON, registry-mirrors, its keys (asked of the binary's flags), its values' types (those "
                      "of the flags the binary's --help lists), a key set both ways and icc/iptables are judged")
        unknown = probes.dockerd_unknown_flags(host, evidence, config, judge.keys_to_ask(config.raw, version))
        wrong_types = judge.mistyped(config.raw, version, judge.flag_types(probes.dockerd_help(host, evidence, config)))
    denied = judge.validate_denied(refused)
    if denied:  # dockerd (root) reads it: whether it accepts the file is unknown, what the file says still counts
        evidence.note(f"dockerd --validate could not read {denied} as this login: not dockerd's refusal")
        refused = None
    verdict = judge.mirror_configured(config.path, config.raw, version, list(config.flag_mirrors),
                                      target.settings.mirrors, refused, config.argv, unknown, wrong_types)
    if denied and verdict.ok:
        raise probes.observer_error(host, evidence, ("permission", denied),
                                    f"ask dockerd --validate whether dockerd accepts {config.path}")
    verdict.check(evidence)


@pytest.mark.req("registry.mirror-applied")
def test_mirror_applied(target, engine, evidence):
    """The running daemon uses exactly the mirrors its configuration lists, in order."""
    path, configured = configured_mirrors(target, evidence)
    judge.mirror_applied(path, configured, daemon_mirrors(engine.info(), evidence)).check(evidence)


@pytest.mark.req("registry.mirror-reachable")
def test_mirror_reachable(host, target, engine, evidence):
    """The expected mirror (else every mirror the daemon uses) answers as a registry where dockerd pulls from it."""
    info = engine.info()  # one answer for the mirrors, dockerd's proxies and its TLS trust
    mirrors = judge.mirrors_in_use(daemon_mirrors(info, evidence), configured_mirrors(target, evidence)[1])
    client = http(host, target, evidence)
    get = client.get
    proxies, trust = engine_proxies(info, evidence), engine_tls(host, info, evidence)
    results = {}
    for mirror in mirrors:
        base = judge.endpoint(mirror)
        proxy, tls = proxies(base), trust(base)
        refused = certificate_refused(client, evidence, base, proxy, tls)
        if refused:  # curl, wget and OpenSSL take what dockerd refuses: their answer proves nothing
            results[mirror] = (base, False, f"dockerd refuses its certificate ({refused})")
            continue
        v2 = get(base + "v2/", proxy=proxy, tls=tls)
        probe = None
        if not judge.speaks_registry(v2)[0]:
            probe = get(f"{base}v2/conformance-probe-{target.run_id}/manifests/absent", MANIFEST_TYPES, proxy=proxy,
                        tls=tls)
        results[mirror] = (base, *judge.speaks_registry(v2, probe))
    judge.mirror_reachable(results, target.settings.mirrors).check(evidence)


@pytest.mark.req("registry.mirror-serves-pulls")
def test_mirror_serves_pulls(host, target, engine, make, evidence):
    """The hello-world image the engine pulled in this run is the one a mirror serves."""
    image = make.pull(probes.HELLO_WORLD)
    repo_digests = image.attrs.get("RepoDigests") or []
    evidence.api(f"GET /images/{probes.HELLO_WORLD}/json", Id=image.id, RepoDigests=repo_digests)
    if not target.pulled_images.pulled_by_run(probes.HELLO_WORLD):
        evidence.note(f"{probes.HELLO_WORLD} was on the target before the run: the run pulled nothing to observe")
        outcomes.blocked_by_state(f"{probes.HELLO_WORLD} was on {target.id} before the run ({image.short_id}): "
                                  "no pull to observe (the suite removes only images it pulled; remove it, "
                                  "or check a host without it)")
    info = engine.info()  # one answer for the mirrors, dockerd's proxies and its TLS trust
    mirrors = judge.mirrors_in_use(daemon_mirrors(info, evidence), configured_mirrors(target, evidence)[1])
    client = http(host, target, evidence)
    get = client.get_anonymously  # a token challenge answered as dockerd's anonymous pull does
    proxies, trust = engine_proxies(info, evidence), engine_tls(host, info, evidence)
    answers, unjudged = {}, []
    for mirror in mirrors:
        url = f"{judge.endpoint(mirror)}v2/library/hello-world/manifests/latest"
        tls = trust(url)
        refused = certificate_refused(client, evidence, url, proxies(url), tls)
        if refused:  # dockerd pulls nothing from it
            answers[url] = (None, None, f"dockerd refuses its certificate ({refused})")
            continue
        try:
            (status, headers, body), how = get(url, MANIFEST_TYPES, "library/hello-world", proxies, tls)
        except probes.CredentialsNeeded as needed:  # another mirror may still serve: an error only if none does
            evidence.note(str(needed))
            unjudged.append(needed)
            continue
        digest = headers.get("docker-content-digest")
        if not digest and status == 200:  # optional for a pull by tag: dockerd digests the manifest it receives
            digest = judge.manifest_digest(body)
            how = ", ".join(filter(None, (how, "no Docker-Content-Digest: the digest of the manifest received")))
        answers[url] = (status, digest, how)
    verdict = judge.serves_pulls(answers, repo_digests)
    if unjudged and not verdict.ok:
        raise probes.CredentialsNeeded("; ".join(map(str, unjudged)) + (f"; and {verdict.found}" if answers else ""))
    verdict.check(evidence)
