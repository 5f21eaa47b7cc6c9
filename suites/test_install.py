"""Seed 1.2 docker安装: installing Docker CE on the host, starting it, docker info / version."""
import pytest

from conformance import ahead, probes
from conformance.judges import install as judge
from conformance.outcomes import ObserverError, TargetError, not_applicable
from conformance.profiles import NAMES, OS_RELEASE, profiles

PROFILES = profiles()
PREREQUISITES = [(p, e) for p in NAMES for e in PROFILES[p]["prerequisite"]]
LEGACY = [(p, name) for p in NAMES for name in PROFILES[p]["packages"]["legacy"]]
UNIT = "docker.service"  # full unit name: testinfra's service.exists is a prefix match (pytest-testinfra #768)


def only_profile(target, profile):
    if target.profile != profile:
        not_applicable(f"a {profile} expectation; {target.name} is {target.profile} ({target.profile_reason})")


def package_db(host, evidence, profile):
    """The installed packages as the profile's package database (rpm or dpkg) records them."""
    return probes.Packages(host, evidence, PROFILES[profile]["packages"]["database"])


def profile_data(target):
    if target.profile not in PROFILES:
        not_applicable(f"conformance/profiles.toml has no expectations for profile {target.profile}; set --profile")
    return PROFILES[target.profile]


@pytest.mark.req("install.os-supported")
def test_os_supported(host, evidence):
    """The OS family and version and the kernel are in the supported table."""
    os_release = probes.read_file(host, evidence, OS_RELEASE[0])
    if os_release is None:  # os-release(5): the vendor's copy where /etc has none
        os_release = probes.read_file(host, evidence, OS_RELEASE[1])
    redhat_release = None if os_release else probes.read_file(host, evidence, "/etc/redhat-release")
    kernel = evidence.cmd(host, "uname -r").stdout
    # An EL7 derivative states its base release in no os-release field, only in its rpm macros (%rhel): asked of it only
    wanted = judge.rpm_macros_read(os_release, redhat_release, PROFILES["supported"])
    macros = {name: probes.rpm_macro(host, evidence, name) for name in wanted}
    judge.os_supported(os_release, redhat_release, kernel, PROFILES["supported"], macros).check(evidence)


@pytest.mark.req("install.prerequisites")
@pytest.mark.parametrize("profile,entry", PREREQUISITES, ids=[f"{p}:{'|'.join(e['any_of'])}" for p, e in PREREQUISITES])
def test_prerequisite_installed(host, target, evidence, profile, entry):
    """A package the engine installation depends on is installed."""
    only_profile(target, profile)
    packages = package_db(host, evidence, profile)
    judge.prerequisite(entry["any_of"], {n: packages.installed(n) for n in entry["any_of"]}, entry["why"]).check(evidence)


@pytest.mark.req("install.repo")
def test_docker_repo(host, target, evidence):
    """Docker's own package source is configured and enabled."""
    repo = profile_data(target)["repo"]
    if repo["needed_for"]:
        packages = package_db(host, evidence, target.profile)
        if not any(packages.installed(name) for name in repo["needed_for"]):
            not_applicable(f"the engine is not {' or '.join(repo['needed_for'])} but the distribution's own package; "
                           f"no {repo['site']} source is needed")
    if repo["kind"] == "yum":  # yum reads every *.repo file of its repos directory, whatever its name
        listing = evidence.cmd(host, "find -L %s -maxdepth 1 -type f -name %s", *repo["paths"], "*.repo").stdout.split()
        files = {f: probes.read_file(host, evidence, f) for f in sorted(listing)}
        judge.yum_repos(repo["paths"][0], files, repo["site"], repo["mirror_path"]).check(evidence)
    else:  # apt reads sources.list and every *.list / *.sources in sources.list.d, links to files included
        listing = evidence.cmd(host, "find -L %s %s -maxdepth 1 -type f", *repo["paths"]).stdout.split()
        files = [f for f in listing if f.endswith((".list", ".sources")) or f in repo["paths"]]
        sources = {f: probes.read_file(host, evidence, f) or "" for f in files}
        judge.apt_source(sources, repo["site"], repo["mirror_path"]).check(evidence)


@pytest.mark.req("install.package")
def test_engine_package_installed(host, target, evidence):
    """An allowed engine package is installed."""
    allowed = profile_data(target)["packages"]["engines"]
    packages = package_db(host, evidence, target.profile)
    judge.engine_package(allowed, {n: packages.installed(n) for n in allowed}).check(evidence)


@pytest.mark.req("install.package")
@pytest.mark.parametrize("profile,name", LEGACY, ids=[f"{p}:{n}" for p, n in LEGACY])
def test_legacy_package_absent(host, target, evidence, profile, name):
    """A legacy docker package is not installed."""
    only_profile(target, profile)
    judge.legacy_absent(name, package_db(host, evidence, profile).installed(name)).check(evidence)


def units_read(target, evidence):
    """The docker units as systemd told this login (Target.units, recorded); an ObserverError where systemd, PID 1,
    told it nothing: their state was not read, which is no finding that they are missing."""
    snapshot = target.units()
    evidence.note(snapshot.note())
    if snapshot.unanswered:
        why = (f"this login's PID 1 is {snapshot.pid1_elsewhere!r}, not systemd: it runs in a PID namespace of its own, "
               "from which systemctl cannot reach systemd; observe the host from its own PID namespace"
               if snapshot.pid1_elsewhere else "a login other than root asks systemd over the system bus (dbus), which "
               "must be running, else observe as root or with ?sudo=true")
        raise ObserverError(f"{target.name}: cannot read the docker units: systemd is PID 1 but `systemctl show` failed "
                            f"for this login ({snapshot.unanswered}); {why}")
    return snapshot


@pytest.mark.req("service.running")
def test_service_running(host, target, evidence):
    """The docker service is active."""
    snapshot = units_read(target, evidence)  # read before anything connected to the engine: a connection may start it
    if snapshot.systemd_pid1 and snapshot.service.active == "activating" and \
            snapshot.service.get("SubState") in judge.STARTING:
        snapshot = probes.units_settled(host, evidence, target.settings.call_timeout)
    pid = comm = None
    pidfile = judge.PIDFILE
    if not snapshot.systemd_pid1 or snapshot.service.unwatched:  # systemd watches no dockerd: its pid file
        pidfile = probes.dockerd_pidfile(target, evidence, judge.PIDFILE)
        pid = (probes.read_file(host, evidence, pidfile) or "").strip() or None
        if pid and pid.isdigit():
            written = (probes.mtime(host, evidence, pidfile), f"dockerd wrote {pidfile}")
            comm = (probes.read_proc(host, evidence, int(pid), "comm", born=written) or "").strip()
    verdict = judge.service_running(snapshot, pid, comm, pidfile)
    if not verdict.ok:
        not_a_rootless_engine(target, evidence)
    verdict.check(evidence)


@pytest.mark.req("service.enabled")
def test_service_enabled(host, target, evidence):
    """The docker service is enabled at boot."""
    snapshot = units_read(target, evidence)
    word = snapshot.service.enabled_word
    closure = links = sysv = alias = None
    dependencies = []
    if not snapshot.systemctl or snapshot.boots_without_systemd:
        sysv = probes.sysv_start_links(host, evidence, "docker")
    elif not snapshot.booted_otherwise:  # else the judge ends it as error: systemd is /sbin/init, did not boot the host
        if word == "alias":
            alias = probes.unit_state(host, evidence, snapshot.service.get("Id"))
            word = alias.enabled_word
        # a masked Requires= keeps it from starting
        unread = list(dict.fromkeys(name for _, name in (alias or snapshot.service).hard_dependencies()
                                    if name not in snapshot.units))
        dependencies = probes.unit_states(host, evidence, unread) if unread else []
        if word in judge.BOOT_WORDS_CLOSURE:
            closure = probes.in_boot_transaction(host, evidence, UNIT) if snapshot.systemd_pid1 else None
            links = probes.persistent_wants_links(host, evidence, UNIT)
    not_a_rootless_engine(target, evidence)  # a system unit left enabled would pass for a rootless engine
    try:
        verdict = judge.service_enabled(snapshot, closure, links or "", sysv, alias, dependencies)
    except ObserverError as e:
        raise ObserverError(f"{evidence.target_id}: {e}") from None
    verdict.check(evidence)


def not_a_rootless_engine(target, evidence) -> None:
    """The system's docker.service says nothing about the engine when the dockerd that runs is rootless: its service
    is a user unit (`systemctl --user`), which the suite does not read; then the check ends as error."""
    process = probes.dockerd(target, evidence)  # the process, read without a connection to the engine
    if process is not None and process.rootless:
        raise TargetError(f"{evidence.target_id}: {process.unit_reason(UNIT)}")


@pytest.mark.req("engine.info")
def test_engine_info(engine, evidence):
    """The daemon answers info with its drivers and registry config."""
    info = engine.info()
    evidence.api("GET /info", **{k: info.get(k) for k in ("ServerVersion", "Driver", "CgroupDriver", "CgroupVersion",
                                                          "OperatingSystem", "RegistryConfig", "IndexServerAddress")})
    judge.engine_info(info).check(evidence)


@pytest.mark.req("engine.version")
def test_engine_version(host, engine, evidence):
    """The docker client and the server answer and speak a common API version."""
    # The host's client as installed: DOCKER_API_VERSION in the login's environment (left from another engine, a
    # fix for "client version 1.xx is too new/old") pins the CLI's API and skips its negotiation; DOCKER_HOST and the
    # login's context stay, the route docker-py takes too.
    cli = probes.docker_cli(host, evidence, "unset DOCKER_API_VERSION; docker version --format %s", "{{json .}}")
    api = engine.version()
    evidence.api("GET /version", **{k: api.get(k) for k in ("Version", "ApiVersion", "MinAPIVersion", "Platform")})
    judge.engine_version(cli.rc, cli.stdout, api).check(evidence)


@ahead.work("engine.hello-world")
def run_hello_world(target, make, evidence):
    """Run hello-world to its exit, reading its output as `docker run` does (attached); (exit code, output, the
    RepoDigests of the hello-world:latest that was on the target before the run, or None when the run pulled it)."""
    code, output = probes.output_to_exit(make, probes.HELLO_WORLD, None, evidence, target.settings.call_timeout)
    if target.pulled_images.pulled_by_run(probes.HELLO_WORLD):
        return code, output, None
    image = target.engine.images.get(probes.HELLO_WORLD)
    evidence.api(f"GET /images/{probes.HELLO_WORLD}/json", why="on the target before the run", Id=image.id,
                 RepoDigests=image.attrs.get("RepoDigests"))
    return code, output, image.attrs.get("RepoDigests") or []


@pytest.mark.req("engine.hello-world")
def test_hello_world(target, evidence):
    """The hello-world image runs to exit 0 and prints Hello from Docker!."""
    judge.hello_world(*ahead.done(target, "engine.hello-world", evidence)).check(evidence)
