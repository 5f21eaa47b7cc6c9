"""Judges of seed 1.3 docker镜像从哪里来: Docker Hub by default, a registry mirror in daemon.json, used and reachable.

The configuration is read as dockerd reads it (moby daemon/config/config.go getConflictFreeConfiguration, and
daemon/pkg/registry/config.go ValidateMirror and loadMirrors); the mirrors are probed at the endpoint dockerd
derives from each configured string (daemon/pkg/registry/service_v2.go lookupV2Endpoints), trusting its TLS
certificate as dockerd does (registry.go newTLSConfig, config.go isSecureIndex).
"""
from __future__ import annotations

import codecs
import dataclasses
import hashlib
import ipaddress
import json
import re
from typing import NamedTuple
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import requests.utils
from cryptography import x509
from cryptography.x509.oid import NameOID

from conformance.judges import Verdict, version_tuple

BOM_ACCEPTED_FROM = (23,)  # moby bb19265ba8 (v23.0.0): UTF-8/UTF-16 BOM decoded, invalid UTF-8 refused, blank = {}
VALIDATE_FROM = (23,)  # dockerd --validate (moby #42393, v23.0.0): merges its flags and file, checks them, exits
# What dockerd --validate says when the login that runs it may not read a file dockerd reads as root (Go's os.PathError:
# "open /etc/docker/tls/server-key.pem: permission denied"; the TLS key of a daemon that listens with --tlsverify).
VALIDATE_DENIED = re.compile(r"(?:open|stat|read) (\S+?):? (?:permission denied|operation not permitted)|"
                             r"permission denied|operation not permitted", re.I)


def validate_denied(refused: str | None) -> str | None:
    """The file (else the words) a `dockerd --validate` refusal says the login may not read; None for any other
    answer. dockerd runs as root and reads that file: the refusal is the observer's limit, not the file's."""
    found = VALIDATE_DENIED.search(refused or "")
    return (found.group(1) or found.group(0)) if found else None
# A mirror's path: refused from moby #29650 (17.12) until #46594 (25.0) and its 24.0 backport #46944 (24.0.8).
MIRROR_PATH_REFUSED = ((17, 12), (24, 0, 8))
URL_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")  # what Go's url.Parse takes as a scheme
# The ASCII characters Go's url.Parse takes in a host name (net/url shouldEscape for encodeHost, and %-escapes)
URL_HOST_ASCII = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:[]<>\"%")
MIRRORS_KEY = "registry-mirrors"
REGISTRY_ERROR_CODES = {"NAME_UNKNOWN", "MANIFEST_UNKNOWN", "NAME_INVALID", "UNAUTHORIZED", "DENIED"}


def default_hub(info: dict, hub_index: str) -> Verdict:
    """Judge registry.default-hub: Hub is the official default index and the daemon's mirrors are Hub's."""
    index = info.get("IndexServerAddress")
    registry = info.get("RegistryConfig") or {}
    hub = (registry.get("IndexConfigs") or {}).get("docker.io") or {}
    official, hub_mirrors, mirrors = hub.get("Official"), hub.get("Mirrors") or [], registry.get("Mirrors") or []
    ok = index == hub_index and official is True and hub_mirrors == mirrors
    return Verdict(ok, f"IndexServerAddress {hub_index}, docker.io official, its mirrors the daemon's",
                   f"IndexServerAddress {index or '(empty)'}, docker.io official: {official}, "
                   f"IndexConfigs[docker.io].Mirrors {hub_mirrors}, RegistryConfig.Mirrors {mirrors}")


def dockerd_version(text: str) -> tuple[int, ...]:
    """'Docker version 20.10.24+dfsg1, build 297e128' -> (20, 10, 24); () when it is not that line."""
    match = re.search(r"version\s+v?(\d[\w.+~-]*)", text or "")
    return version_tuple(match.group(1)) if match else ()


def parse_daemon_json(raw: bytes, version: tuple[int, ...]) -> dict:
    """The configuration dockerd of `version` reads from these bytes; ValueError saying why it refuses them.

    >= 23.0: a UTF-8 or UTF-16 BOM is decoded, invalid UTF-8 refused, a blank file is an empty configuration,
    and json.Unmarshal refuses anything after the object. 20.10: json.Decoder takes the first value only (what
    follows is ignored), a BOM is an invalid character and a blank file is 'EOF'. Both: encoding/json, so no
    comments, trailing commas or NaN/Infinity; the last duplicate key wins; `null` is an empty configuration.
    """
    if not version:  # both readings; they differ only on a BOM, invalid UTF-8, a blank file or trailing text
        readings = []
        for assumed in ((20, 10), BOM_ACCEPTED_FROM):
            try:
                readings.append(parse_daemon_json(raw, assumed))
            except ValueError as e:
                readings.append(e)
        if all(isinstance(r, ValueError) for r in readings):
            raise readings[1]
        if isinstance(readings[0], ValueError) or isinstance(readings[1], ValueError) or readings[0] != readings[1]:
            raise ValueError("the version of dockerd is unknown, and dockerd 20.10 and >= 23.0 read this file "
                             f"differently: {readings[0]} / {readings[1]}")
        return readings[1]
    modern = version >= BOM_ACCEPTED_FROM
    if modern:
        for bom, codec in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
                           (codecs.BOM_UTF16_BE, "utf-16-be")):
            if raw.startswith(bom):
                raw = raw[len(bom):].decode(codec, errors="strict").encode()
                break
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ValueError(f"failed to decode configuration JSON at offset {e.start}: invalid UTF-8") from e
        text = text.strip(" \t\r\n\v\f")
        if not text:
            return {}
    else:
        text = raw.decode("utf-8", errors="replace")  # encoding/json replaces invalid UTF-8 with U+FFFD

    def refuse_constant(name):
        raise ValueError(f"{name} is not JSON (dockerd's encoding/json refuses it)")

    decoder = json.JSONDecoder(parse_constant=refuse_constant)
    start = len(text) - len(text.lstrip(" \t\r\n"))
    if start == len(text):
        raise ValueError("EOF (dockerd 20.10 refuses a blank file)")
    try:
        data, end = decoder.raw_decode(text, start)
        rest = text[end:]
        if modern and rest.strip(" \t\r\n"):
            extra = end + len(rest) - len(rest.lstrip(" \t\r\n"))
            raise json.JSONDecodeError("invalid character after top-level value", text, extra)
    except json.JSONDecodeError as e:
        bom = " (a UTF-8 BOM: dockerd before 23.0 reads it as the invalid character 'ï')" if text[:1] == "\ufeff" else ""
        raise ValueError(f"not valid JSON: line {e.lineno} column {e.colno}: {e.msg}{bom}") from e
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ValueError(f"the top level is a JSON {type(data).__name__}, not an object")
    return data


def validate_mirror(mirror: object, version: tuple[int, ...] = ()) -> str | None:
    """Why dockerd of `version` refuses this registry-mirrors entry (moby ValidateMirror, Go's url.Parse), or None
    when it accepts it. Python's urlsplit is laxer than url.Parse: it strips leading blanks and control characters
    and takes any character in a host name, which dockerd refuses at its start."""
    if not isinstance(mirror, str):
        return f"{mirror!r} is not a string"
    scheme, sep, _ = mirror.partition("://")
    if not sep or not scheme:
        return f"no scheme specified for {mirror!r}: must use either 'https://' or 'http://'"
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in mirror):
        return f"{mirror!r} is not a valid URI: net/url: invalid control character in URL"
    if not URL_SCHEME.fullmatch(scheme):
        return f"{mirror!r} is not a valid URI: {scheme!r} is no URL scheme (url.Parse finds none, then a colon)"
    try:
        parts = urlsplit(mirror)
        parts.port  # noqa: B018 - Go's url.Parse refuses a bad port; urlsplit only on access
    except ValueError as e:
        return f"{mirror!r} is not a valid URI: {e}"
    host = parts.netloc.rpartition("@")[2]
    host = host if host.startswith("[") else host.partition(":")[0]
    bad = next((c for c in host if c < "\x80" and c not in URL_HOST_ASCII), None)
    if bad is not None:
        return f"{mirror!r} is not a valid URI: invalid character {bad!r} in host name"
    if parts.scheme not in ("http", "https"):  # url.Parse lower-cases the scheme for this test only
        return f"unsupported scheme {parts.scheme!r} in {mirror!r}: must use either 'https://' or 'http://'"
    if MIRROR_PATH_REFUSED[0] <= version < MIRROR_PATH_REFUSED[1] and parts.path not in ("", "/"):
        return (f"path, query, or fragment at end of the URI {mirror!r} (dockerd {'.'.join(map(str, version))} "
                "takes no path; 24.0.8 and 25.0 on do)")
    if parts.query or parts.fragment:
        return f"query or fragment at end of the URI {mirror!r}"
    if "@" in parts.netloc:
        return f"username/password not allowed in URI {parts._replace(netloc=parts.netloc.rpartition('@')[2]).geturl()!r}"
    return None


def dockerd_mirrors(mirrors: list[str]) -> list[str]:
    """The mirror list dockerd keeps (RegistryConfig.Mirrors): one trailing '/' trimmed, then '/' added, duplicates
    dropped after that, order kept; case and a second '/' stay (moby loadMirrors)."""
    return list(dict.fromkeys(m.removesuffix("/") + "/" for m in mirrors))


def endpoint(mirror: str) -> str:
    """The base URL dockerd pulls from for a mirror: its http:// and https:// prefix test is case-sensitive, so
    'HTTP://h:5000/' becomes 'https://HTTP//h:5000/' (moby service_v2.go lookupV2Endpoints)."""
    base = mirror if mirror.startswith(("http://", "https://")) else "https://" + mirror
    return base.removesuffix("/") + "/"


MASKED = "xxxxx:xxxxx"  # moby's /info masks a proxy's user and password so (daemon/info.go maskCredentials)


def engine_proxy(info: dict, url: str) -> str | None:
    """The proxy dockerd sends a request for url through, from GET /info's HttpProxy, HttpsProxy and NoProxy, chosen
    as Go's net/http does (golang.org/x/net/http/httpproxy): by the URL's scheme; never for localhost or a loopback
    IP; not when NoProxy is '*' or names the host (a domain matches it and its subdomains, '.d' and '*.d' only
    subdomains, an IP or CIDR the address, an entry with a port only that port). None: dockerd goes direct."""
    parts = urlsplit(url)
    proxy = info.get("HttpsProxy" if parts.scheme == "https" else "HttpProxy") or ""
    host = (parts.hostname or "").lower()
    if not proxy or host == "localhost" or _loopback(host):
        return None
    port = parts.port or (443 if parts.scheme == "https" else 80)
    for entry in (e.strip().lower() for e in (info.get("NoProxy") or "").split(",")):
        if entry and _no_proxy_matches(entry, host, port):
            return None
    return proxy if "://" in proxy else "http://" + proxy


CERTS_DIR = "/etc/docker/certs.d"  # dockerd's (rootful) per-registry TLS files: <dir>/<host[:port]>/


@dataclasses.dataclass(frozen=True)
class TlsTrust:
    """How dockerd's TLS client treats an https registry endpoint: verified against the system's roots plus the
    *.crt files of its certs.d directory, presenting the first *.cert/*.key pair there; or not verified at all
    (an insecure registry). why: said in evidence."""
    verify: bool
    why: str
    ca_files: tuple[str, ...] = ()
    client_pair: tuple[str, str] | None = None


def host_port(url: str) -> str:
    """The URL's host[:port] as dockerd keys IndexConfigs and certs.d directories by it (url.URL.Host)."""
    return urlsplit(url).netloc.rpartition("@")[2]


def needs_addresses(info: dict, url: str) -> bool:
    """Whether tls_trust must know the addresses the URL's host name resolves to on the target: an https URL whose
    host is neither an IP nor named in IndexConfigs, while dockerd has insecure CIDRs to match them against."""
    parts = urlsplit(url)
    config = info.get("RegistryConfig") or {}
    return (parts.scheme == "https" and host_port(url) not in (config.get("IndexConfigs") or {})
            and _ip(parts.hostname or "") is None and bool(config.get("InsecureRegistryCIDRs")))


def tls_trust(info: dict, url: str, certs_files: list[str], addresses: list[str] = ()) -> TlsTrust | None:
    """dockerd's TLS trust for url (None: plain http). Insecure when IndexConfigs names its host[:port] not secure,
    or, not named there, when its IP (or an address its name resolves to) is in InsecureRegistryCIDRs (127.0.0.0/8
    by default); else verified, with the certs.d files certs_files (names in CERTS_DIR/<host[:port]>/)."""
    parts = urlsplit(url)
    if parts.scheme != "https":
        return None
    name = host_port(url)
    config = info.get("RegistryConfig") or {}
    index = (config.get("IndexConfigs") or {}).get(name)
    if index is not None and not index.get("Secure", True):
        return TlsTrust(False, f"dockerd does not verify {name}'s certificate: an insecure registry (GET /info "
                               "RegistryConfig.IndexConfigs)")
    if index is None:
        literal = _ip(parts.hostname or "")
        ips = [literal] if literal else [ip for ip in map(_ip, addresses) if ip]
        for cidr in config.get("InsecureRegistryCIDRs") or []:
            try:
                network = ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                continue
            hit = next((ip for ip in ips if ip in network), None)
            if hit is not None:
                return TlsTrust(False, f"dockerd does not verify {name}'s certificate: {hit} is in its insecure "
                                       f"registry range {cidr} (GET /info RegistryConfig.InsecureRegistryCIDRs)")
    directory = f"{CERTS_DIR}/{name}"
    cas = tuple(f"{directory}/{f}" for f in sorted(certs_files) if f.endswith(".crt"))
    cert = next((f for f in sorted(certs_files) if f.endswith(".cert")), None)
    pair = (f"{directory}/{cert}", f"{directory}/{cert.removesuffix('.cert')}.key") if cert else None
    extra = (f" plus {', '.join(cas)}" if cas else "") + (f", presenting {pair[0]}" if pair else "")
    return TlsTrust(True, f"dockerd verifies {name}'s certificate against the system's roots{extra}", cas, pair)


LEGACY_CN = "x509: certificate relies on legacy Common Name field, use SANs instead"


def go_hostname_error(pem: str, host: str) -> str | None:
    """What dockerd's TLS client says of a verified endpoint's leaf certificate (PEM) for host, None when it matches:
    Go's crypto/x509 Certificate.VerifyHostname and HostnameError.Error (verify.go). Only the subjectAltName counts,
    an IP only against its IP addresses, a name against its DNS names (a '*' only as the whole first label); the
    Common Name fallback is gone since Go 1.15 and cannot be turned back on since 1.17, which every dockerd >= 20.10
    is built with. curl, wget and OpenSSL still take a Common Name, so a client's answer does not prove this."""
    cert = x509.load_pem_x509_certificate(pem.encode())
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        san = None
    names = san.get_values_for_type(x509.DNSName) if san is not None else []
    ips = san.get_values_for_type(x509.IPAddress) if san is not None else []
    ip = _ip(host)
    if ip is not None and ip in ips or ip is None and any(_go_name_matches(n, host) for n in names):
        return None
    common = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    if san is None and common and _go_name_matches(str(common[-1]), host):  # Go keeps the last CN
        return LEGACY_CN
    if ip is not None and not ips:
        return f"x509: cannot validate certificate for {host} because it doesn't contain any IP SANs"
    valid = ", ".join(map(str, ips)) if ip is not None else ", ".join(names)
    if not valid:
        return f"x509: certificate is not valid for any names, but wanted to match {host}"
    return f"x509: certificate is valid for {valid}, not {host}"


def _go_name_matches(pattern: str, host: str) -> bool:
    """Go's matchHostnames: same number of labels, equal ignoring ASCII case, '*' matching any one first label."""
    pattern, host = pattern.lower(), host.lower().removesuffix(".")
    if not pattern or not host:
        return False
    want, have = pattern.split("."), host.split(".")
    return len(want) == len(have) and all(w == h or (i == 0 and w == "*") for i, (w, h) in enumerate(zip(want, have)))


def _ip(text: str):
    try:
        return ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None


def _loopback(host: str) -> bool:
    ip = _ip(host)
    return ip is not None and ip.is_loopback


def _no_proxy_matches(entry: str, host: str, port: int) -> bool:
    if entry == "*":
        return True
    try:
        network = ipaddress.ip_network(entry, strict=False) if "/" in entry else None
    except ValueError:
        network = None
    if network is not None:
        try:
            return ipaddress.ip_address(host) in network
        except ValueError:
            return False
    name, _, entry_port = entry.rpartition(":") if entry.count(":") == 1 else (entry, "", "")
    if entry_port and entry_port != str(port):
        return False
    try:
        return ipaddress.ip_address(name) == ipaddress.ip_address(host)
    except ValueError:
        pass
    if name.startswith("*."):
        name = name[1:]
    if name.startswith("."):
        return host.endswith(name)
    return host == name or host.endswith("." + name)


def url_equal(a: str, b: str) -> bool:
    """Whether two mirror URLs name the same place: scheme and host case, one trailing '/' and default ports aside."""
    def key(url):
        parts = urlsplit(url.removesuffix("/"))
        host = (parts.hostname or "").lower()
        try:
            port = parts.port
        except ValueError:
            port = None
        port = None if (parts.scheme.lower(), port) in (("http", 80), ("https", 443)) else port
        return parts.scheme.lower(), host, port, parts.path
    return key(a) == key(b)


def configured_mirrors(data: dict, flag_mirrors: list[str], version: tuple[int, ...] = ()) -> list[str]:
    """The registry-mirrors dockerd takes from its file and its --registry-mirror flags; ValueError when it refuses
    them at its next start (a key set both ways, a wrongly cased key, not a list of strings, an invalid mirror)."""
    near = [k for k in data if k.lower() == MIRRORS_KEY and k != MIRRORS_KEY]
    if near:
        raise ValueError(f"the following directives don't match any configuration option: {', '.join(near)}")
    mirrors = data.get(MIRRORS_KEY)
    if mirrors is not None and flag_mirrors:
        raise ValueError(f"the following directives are specified both as a flag and in the configuration file: "
                         f"{MIRRORS_KEY}: (from flag: {flag_mirrors}, from file: {mirrors})")
    mirrors = flag_mirrors if mirrors is None else mirrors
    if not isinstance(mirrors, list) or not all(isinstance(m, str) for m in mirrors):
        raise ValueError(f"{MIRRORS_KEY} is not a list of strings: {mirrors!r}")
    refused = [why for why in (validate_mirror(m, version) for m in mirrors) if why]
    if refused:
        raise ValueError("invalid mirror: " + "; ".join(refused))
    return mirrors


def read_mirrors(path: str, raw: bytes | None, version: tuple[int, ...], flag_mirrors: list[str]) -> list[str]:
    """The mirrors dockerd would take from this configuration; ValueError (naming the file) when it refuses it."""
    if raw is None:
        data = {}
    else:
        try:
            data = parse_daemon_json(raw, version)
        except ValueError as e:
            raise ValueError(f"{path}: {e}") from e
    try:
        return configured_mirrors(data, flag_mirrors, version)
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from e


class Flag(NamedTuple):
    """One dockerd (pflag) flag of an argv: its long name without '--' (a shorthand as its long name), the value
    attached to it (after '=', a shorthand's rest; None without one) and the word after it (None at the end)."""
    name: str
    attached: str | None
    following: str | None

    @property
    def value(self) -> str | None:
        """The flag's value as pflag takes it for a flag that needs one: attached, else the next word."""
        return self.attached if self.attached is not None else self.following


def dockerd_flags(argv) -> list[Flag]:
    """The flags of a dockerd argv (argv[0] the program), in order: `--name value`, `--name=value` and the
    shorthands units use (SHORT_FLAGS), `-H value`, `-Hvalue`, `-H=value`; every other word is skipped."""
    flags: list[Flag] = []
    words = list(argv[1:])
    for i, arg in enumerate(words):
        if arg.startswith("--"):
            name, eq, value = arg[2:].partition("=")
        elif arg[:2] in SHORT_FLAGS:
            name, value = SHORT_FLAGS[arg[:2]], arg[2:].removeprefix("=")
            eq = "=" if value else ""
        else:
            continue
        flags.append(Flag(name, value if eq else None, words[i + 1] if i + 1 < len(words) else None))
    return flags


def flag_values(argv, name: str) -> list[str]:
    """Every value of a dockerd flag that takes one (`--name`) in argv, in order, in any of dockerd_flags' forms."""
    return [f.value for f in dockerd_flags(argv) if f.name == name.removeprefix("--") and f.value is not None]


def _bool_flag(argv, name: str) -> bool | None:
    """The last value of a pflag bool flag (`--icc`, `--icc=false`; strconv.ParseBool's words), None when not given."""
    value = None
    for flag in dockerd_flags(argv):
        if flag.name == name.removeprefix("--"):
            word = flag.attached if flag.attached is not None else "true"  # a bool flag never takes the next word
            value = True if word in ("1", "t", "T", "true", "TRUE", "True") else \
                False if word in ("0", "f", "F", "false", "FALSE", "False") else value
    return value


# The configuration-file key of a dockerd flag whose key is not its own name (the NamedOption names of moby
# cmd/dockerd/config*.go and registry flags, 20.10 to 28.5), and the shorthands dockerd units use; `runtimes` is
# merged, not refused (daemon/config skipDuplicates).
FLAG_KEYS = {"host": "hosts", "registry-mirror": "registry-mirrors", "insecure-registry": "insecure-registries",
             "storage-opt": "storage-opts", "authorization-plugin": "authorization-plugins", "exec-opt": "exec-opts",
             "dns-opt": "dns-opts", "label": "labels", "log-opt": "log-opts", "default-ulimit": "default-ulimits",
             "add-runtime": "runtimes", "default-address-pool": "default-address-pools",
             "node-generic-resource": "node-generic-resources", "cluster-store-opt": "cluster-store-opts",
             "feature": "features", "default-network-opt": "default-network-opts"}
SHORT_FLAGS = {"-H": "host", "-D": "debug", "-G": "group", "-l": "log-level", "-p": "pidfile", "-g": "graph",
               "-s": "storage-driver", "-b": "bridge"}
MERGED_KEYS = ("runtimes",)


# dockerd before 23.0 (no --validate) refuses a key of the file that names none of its flags, except these
# (daemon/config skipValidateOptions); an object's members are checked as keys in its place, except the objects
# kept whole (flatOptions; configValuesSet): "proxies" {"http-proxy": ...} is refused as http-proxy by 20.10.
SKIP_VALIDATE = ("features", "builder", "deprecated-key-path")
FLAT_KEYS = ("cluster-store-opts", "log-opts", "runtimes", "default-ulimits", "features", "builder")
UNKNOWN_KEYS = "the following directives don't match any configuration option: "


def keys_to_ask(raw: bytes | None, version: tuple[int, ...]) -> list[str]:
    """The keys of the file dockerd checks against its flags' names at its start (findConfigurationConflicts), less
    the named options' keys (FLAG_KEYS) and the keys it skips: the ones to ask the binary about. [] when the file is
    absent or dockerd refuses it anyway (mirror_configured says why)."""
    try:
        data = parse_daemon_json(raw, version) if raw is not None else {}
    except ValueError:
        return []
    keys = []
    for key, value in data.items():
        keys.extend(value if isinstance(value, dict) and key not in FLAT_KEYS else [key])
    named = set(FLAG_KEYS.values())
    return [k for k in dict.fromkeys(keys) if k not in named and k not in SKIP_VALIDATE]


# dockerd before 23.0 then decodes the whole file into its configuration (encoding/json), whose field for a key has
# the type of the key's flag. Per type `dockerd --help` names after a flag (pflag's Value.Type(); a bool flag names
# none): the JSON its field takes (as Python reads it) and Go's name for it. `null` decodes into any of them; other
# types (bytes, ulimit, pool-options, runtime) are not judged. NO_FIELD: flags with no field of their name (json tags
# in the 20.10 binary), whose key dockerd ignores whatever its value.
FLAG_JSON = {"": (bool, "bool"), "string": (str, "string"), "ip": (str, "net.IP"), "int": (int, "int"),
             "list": (list, "[]string"), "map": (dict, "map[string]string")}
NO_FIELD = ("help", "version", "config-file", "containerd-plugins-namespace")
HELP_FLAG = re.compile(r"^  (?:-\w, |    )--([\w-]+)(?: ([\w-]+))?(?: {2,}|$)", re.M)  # "  -H, --host list   Daemon..."


def flag_types(help_text: str) -> dict[str, str]:
    """The file's key -> the type `dockerd --help` names for its flag ('' for a bool flag), for the keys dockerd
    decodes into a field of that flag's type."""
    return {FLAG_KEYS.get(name, name): kind for name, kind in HELP_FLAG.findall(help_text)
            if name not in NO_FIELD and kind in FLAG_JSON}


def mistyped(raw: bytes | None, version: tuple[int, ...], types: dict[str, str]) -> list[str]:
    """The file's values dockerd before 23.0 cannot decode into its configuration (types: flag_types), each as
    encoding/json says it (Debian 12's 20.10.24, for "log-opts": {"max-file": 3}: "json: cannot unmarshal number
    into Go struct field Config.log-opts of type string"; here "... into log-opts['max-file'] of type string")."""
    try:
        data = parse_daemon_json(raw, version) if raw is not None else {}
    except ValueError:
        return []

    def kind(value):  # encoding/json's word for a JSON value
        return ("bool" if isinstance(value, bool) else "number" if isinstance(value, (int, float)) else "string"
                if isinstance(value, str) else "array" if isinstance(value, list) else "object")

    found = []
    for key, value in data.items():
        if key not in types or value is None:
            continue
        python, go = FLAG_JSON[types[key]]
        if not isinstance(value, python) or (python is int and isinstance(value, bool)):
            found.append((key, value, go))
        elif python in (list, dict):  # of strings
            members = value.items() if python is dict else enumerate(value)
            found += [(f"{key}[{name!r}]", m, "string") for name, m in members if m is not None and not isinstance(m, str)]
    return [f"json: cannot unmarshal {kind(value)} into {where} of type {go}" for where, value, go in found]


def set_both_ways(data: dict, argv) -> list[str]:
    """The keys of the file's top level that argv's flags set too, each as dockerd says it: `key: (from flag: [...],
    from file: ...)` (daemon/config findConfigurationConflicts: any flag given, whatever its value)."""
    given: dict[str, list[str]] = {}
    for flag in dockerd_flags(argv):
        key = FLAG_KEYS.get(flag.name, flag.name)
        if key in data and key not in MERGED_KEYS:  # shown with the next word only where that is no flag (bool flags)
            shown = flag.value if flag.attached is not None or not (flag.following or "-").startswith("-") else ""
            given.setdefault(key, []).append(shown)
    return [f"{key}: (from flag: {values}, from file: {data[key]})" for key, values in given.items()]


def start_conflicts(data: dict, argv) -> str | None:
    """Why dockerd, started with argv and this configuration, refuses to start where --validate does not say so
    (20.10 has no --validate; 23.0 on its --validate stops before verifyDaemonSettings), else None: a key of the
    file that a flag sets too (`hosts` with -H fd://, `exec-opts` with --exec-opt, as registry-mirrors with
    --registry-mirror), and icc false with iptables false from the file or the flags (moby daemon/daemon_unix.go
    verifyDaemonSettings, 20.10 to 28.5)."""
    both = set_both_ways(data, argv)
    if both:
        return "the following directives are specified both as a flag and in the configuration file: " + ", ".join(both)

    def effective(key):
        flag = _bool_flag(argv, f"--{key}")
        return flag if flag is not None else data.get(key, True) is not False
    if not effective("icc") and not effective("iptables"):
        return ("You specified --iptables=false with --icc=false. ICC=false uses iptables to function. Please set "
                f"--icc or --iptables to true (icc {_said(data, argv, 'icc')}, iptables {_said(data, argv, 'iptables')})")
    return None


def _said(data: dict, argv, key: str) -> str:
    return "false by flag" if _bool_flag(argv, f"--{key}") is False else "false in the file"


def mirror_configured(path: str, raw: bytes | None, version: tuple[int, ...], flag_mirrors: list[str],
                      expected: tuple[str, ...], refused: str | None = None, argv=(), unknown=(),
                      wrong_types=()) -> Verdict:
    """Judge registry.mirror-configured: the file dockerd reads, read as dockerd does, names the expected mirrors.
    refused: what `dockerd --validate` said of the file with the running dockerd's flags when it refused it (the
    other keys' types and values, a key also set as a flag); argv: those flags, for the conflicts it does not see;
    unknown: the file's keys the dockerd binary has no flag for, wrong_types: its values dockerd cannot decode
    (mistyped), both before 23.0, which has no --validate."""
    want = (f"{path} (the file dockerd reads) valid as dockerd parses it, with registry-mirrors "
            + (f"holding {', '.join(expected)}" if expected else "not empty"))
    if raw is None and not flag_mirrors:
        return Verdict(False, want, f"{path} does not exist")
    try:
        mirrors = read_mirrors(path, raw, version, flag_mirrors)
    except ValueError as e:
        return Verdict(False, want, f"dockerd refuses it at its next start: {e}")
    if refused:
        return Verdict(False, want, f"dockerd refuses it at its next start: dockerd --validate: {refused}")
    if unknown:
        return Verdict(False, want, f"dockerd refuses it at its next start: {path}: {UNKNOWN_KEYS}{', '.join(unknown)}")
    if wrong_types:
        return Verdict(False, want, f"dockerd refuses it at its next start: {path}: {'; '.join(wrong_types)}")
    conflict = start_conflicts(parse_daemon_json(raw, version) if raw is not None else {}, argv)
    if conflict:
        return Verdict(False, want, f"dockerd refuses it at its next start: {path}: {conflict}")
    missing = [m for m in expected if not any(url_equal(m, have) for have in mirrors)]
    source = " (from --registry-mirror flags)" if flag_mirrors else ""
    return Verdict(bool(mirrors) and not missing, want,
                   f"registry-mirrors {mirrors}{source}" + (f"; missing {missing}" if missing else ""))


def mirror_applied(path: str, configured: list[str], daemon_mirrors: list[str]) -> Verdict:
    """Judge registry.mirror-applied: the running daemon's mirrors are the configured ones as dockerd keeps them,
    exactly and in order (order decides which mirror is tried first); a difference means a pending restart."""
    want = dockerd_mirrors(configured)
    same = want == list(daemon_mirrors)
    return Verdict(same, f"RegistryConfig.Mirrors {want} (what dockerd makes of {path}'s {configured})",
                   f"running daemon uses {list(daemon_mirrors)}" + (
                       "" if same else " (drift: the configuration changed, restart or reload pending)"))


def mirrors_in_use(daemon_mirrors: list[str], configured: list[str]) -> list[str]:
    """The mirrors pulls go through, as dockerd keeps them: the running daemon's, else (not restarted yet) the file's."""
    return list(daemon_mirrors) or dockerd_mirrors(configured)


Answer = tuple[int | None, dict, str]  # (status or None when nothing answered, lower-cased headers, body)


def registry_error_code(body: str) -> str | None:
    """The first error code of a distribution-spec error body {"errors": [{"code": ...}]}, else None."""
    try:
        errors = json.loads(body).get("errors")
        code = errors[0].get("code")
    except (ValueError, AttributeError, TypeError, IndexError):
        return None
    return code if isinstance(code, str) else None


def speaks_registry(v2: Answer, probe: Answer | None = None) -> tuple[bool, str]:
    """Whether answers prove a registry API: GET v2/ 200 with Docker-Distribution-API-Version registry/2.0, or 401
    with a Basic/Bearer challenge; else GET v2/<absent repo>/manifests/<tag> 404 or 401 with a distribution-spec
    error code. (ok, what was seen)."""
    status, headers, _ = v2
    if status is None:
        return False, "v2/ -> no answer"
    api = headers.get("docker-distribution-api-version", "")
    challenge = headers.get("www-authenticate", "")
    if status == 200 and api.strip().lower() == "registry/2.0":
        return True, "v2/ -> 200, Docker-Distribution-API-Version registry/2.0"
    if status == 401 and re.match(r"\s*(bearer|basic)\s+realm=", challenge, re.I):
        return True, f"v2/ -> 401, WWW-Authenticate {challenge.split(',')[0]}"
    seen = f"v2/ -> {status}" + (f", Docker-Distribution-API-Version {api!r}" if api else
                                 ", no Docker-Distribution-API-Version header")
    if status == 401:
        seen += ", WWW-Authenticate " + (repr(challenge) if challenge else "missing")
    if probe is None:
        return False, seen
    p_status, p_headers, p_body = probe
    code = registry_error_code(p_body)
    kind = p_headers.get("content-type", "no content type").split(";")[0]
    if p_status in (404, 401) and code in REGISTRY_ERROR_CODES:
        return True, f"{seen}; absent manifest -> {p_status} {code}"
    return False, (f"{seen}; absent manifest -> {p_status if p_status is not None else 'no answer'} {kind}"
                   + (f" code {code}" if code else ", no registry error code"))


def mirror_reachable(results: dict[str, tuple[str, bool, str]], expected: tuple[str, ...] = ()) -> Verdict:
    """Judge registry.mirror-reachable: the expected mirrors in use speak the registry API at the endpoint dockerd
    uses (every mirror in use when the run expects none, or none of them is in use). dockerd tries its mirrors in
    order and falls back to the next, so a dead extra mirror is reported but does not fail.
    results: mirror -> (endpoint, ok, what was seen)."""
    matched = [m for m in results if any(url_equal(m, e) for e in expected)]
    judged = matched or list(results)

    def shown(m):
        url, ok, seen = results[m]
        extra = "" if m in judged else " (not expected; dockerd falls back past it)" if not ok else " (not expected)"
        return m + (f" (dockerd pulls from {url})" if url != m else "") + f": {seen}{extra}"
    want = f"the expected mirror ({', '.join(matched)}) speaks" if matched else "each mirror speaks"
    return Verdict(bool(results) and all(results[m][1] for m in judged),
                   f"{want} the registry API where dockerd pulls from it",
                   "; ".join(shown(m) for m in results) or "no mirror")


# An anonymous pull's token handshake, as dockerd's registry client makes it (distribution registry/client/auth:
# challenge.go parses the 401's WWW-Authenticate, session.go fetchToken asks the realm); the spec:
# https://distribution.github.io/distribution/spec/auth/token/
B64TOKEN = re.compile(r"[A-Za-z0-9._~+/-]+=*")  # RFC 6750 b64token: the only tokens the suite puts in a header
REALM_MAX = 2048


def auth_challenge(headers: dict[str, str]) -> tuple[str, dict[str, str]]:
    """The scheme of an answer's WWW-Authenticate in lower case ('bearer', 'basic'; '' for none) and its parameters
    (names in lower case, values unquoted), as distribution's challenge parser reads them."""
    scheme, _, rest = headers.get("www-authenticate", "").strip().partition(" ")
    params = requests.utils.parse_dict_header(rest)
    return scheme.lower(), {k.lower(): v or "" for k, v in params.items()}


def token_url(params: dict[str, str], repository: str) -> str:
    """The anonymous token request for a Bearer challenge: <realm>?service=<service>&scope=repository:<repository>:pull,
    the realm's own query kept (session.go fetchToken). The realm comes from the mirror: ValueError saying why for
    one the suite does not ask (not http(s), no host, credentials in it, spaces or control characters, too long)."""
    realm = params.get("realm", "")
    if not realm:
        raise ValueError("the Bearer challenge names no realm")
    if len(realm) > REALM_MAX or not re.fullmatch(r"[!-~]+", realm):
        raise ValueError(f"realm {realm[:200]!r} is not a printable ASCII URL of at most {REALM_MAX} characters")
    parts = urlsplit(realm)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError(f"realm {realm!r} is not an http(s) URL with a host")
    if "@" in parts.netloc:
        raise ValueError(f"realm {realm!r} carries credentials: the suite sends none")
    query = parse_qsl(parts.query, keep_blank_values=True)
    query += [("service", params["service"])] if params.get("service") else []
    query.append(("scope", f"repository:{repository}:pull"))
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


def anonymous_token(body: str) -> str | None:
    """The token of a token endpoint's JSON answer: access_token, else token (session.go: if both are given the
    choice is undefined, and distribution takes access_token); None when there is none, or one the suite would not
    put in a header (not an RFC 6750 b64token)."""
    try:
        answer = json.loads(body)
    except ValueError:
        return None
    if not isinstance(answer, dict):
        return None
    token = next((t for t in (answer.get("access_token"), answer.get("token")) if isinstance(t, str) and t), None)
    return token if token and B64TOKEN.fullmatch(token) else None


def manifest_digest(body: str) -> str | None:
    """The digest of a manifest as received, for an answer without Docker-Content-Digest: the header is optional for a
    pull by tag, dockerd digests the manifest bytes it gets (moby distribution/pull_v2.go, schema2ManifestDigest and
    pullManifestList; containerd's resolver the body of its GET). None for an empty body."""
    return "sha256:" + hashlib.sha256(body.encode()).hexdigest() if body else None


def serves_pulls(answers: dict[str, tuple], repo_digests: list[str]) -> Verdict:
    """Judge registry.mirror-serves-pulls: a mirror serves the manifest digest the engine pulled in this run.
    answers: endpoint -> (status, Docker-Content-Digest[, how the request was authorised])."""
    local = {d.partition("@")[2] for d in repo_digests}
    served = [m for m, (status, digest, *_) in answers.items() if status == 200 and digest in local]
    found = ("; ".join(f"{m}: HTTP {s if s is not None else 'no answer'} digest {d or '-'}"
                       + "".join(f" ({h})" for h in how if h) for m, (s, d, *how) in answers.items())
             + f"; local RepoDigests {repo_digests or 'none'}")
    return Verdict(bool(served), "a mirror serves hello-world:latest with the digest the engine pulled in this run",
                   found)
