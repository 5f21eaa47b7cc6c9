"""Lab SSH keys and the lab's own entries in ~/.ssh/known_hosts and ~/.ssh/config, tagged to be removed exactly."""
import os
import subprocess
from pathlib import Path

from conformance.lab import paths
from conformance.lab.progress import run

TAG = "conformance-lab"
BEGIN = f"# >>> {TAG}: lab hosts (managed by conformance-lab; removed by `conformance-lab down`)"
END = f"# <<< {TAG}"
USER = "root"


def ssh_dir():
    return Path(os.environ.get("CONFORMANCE_LAB_SSH_DIR", Path.home() / ".ssh"))


def client_key():
    return paths.KEYS / "id_ed25519"


def host_key():
    return paths.KEYS / "ssh_host_ed25519_key"


def control_path(user="%r", host="%h", port="%p"):
    """The ControlPath written into ~/.ssh/config: per remote user (%r), so a second login on a lab host (a non-root
    observer) never rides root's master connection. With values given, the socket of that user's master."""
    return paths.HOME / "ssh" / f"cm-{user}@{host}:{port}"


def ensure_keys():
    """The lab's client key pair and the host key pair every lab host gets; generated once."""
    paths.KEYS.mkdir(parents=True, exist_ok=True, mode=0o700)
    for key, comment in ((client_key(), f"{TAG} client"), (host_key(), f"{TAG} host")):
        if not key.exists():
            run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(key)],
                title=f"ssh-keygen {key.name}", timeout=30)


def _rewrite(path, text):
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + f".{TAG}.tmp")
    tmp.write_text(text)
    tmp.chmod(0o600)
    tmp.replace(path)


def _read(path):
    return path.read_text() if path.exists() else ""


def known_hosts_lines(text, keep=lambda ip: False):
    """The file's lines without the lab's entries (except those whose IP `keep` accepts)."""
    out = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[-1] == TAG and not keep(fields[0]):
            continue
        out.append(line)
    return out


def _block_span(lines):
    if BEGIN + "\n" not in lines:
        return None
    start = lines.index(BEGIN + "\n")
    end = lines.index(END + "\n", start) if END + "\n" in lines[start:] else len(lines) - 1
    return start, end + 1


def config_without_block(text):
    """The config text with the lab's managed block cut out; the user's lines untouched."""
    lines = text.splitlines(keepends=True)
    span = _block_span(lines)
    return text if span is None else "".join(lines[:span[0]] + lines[span[1]:])


def config_block(ips):
    """The managed block: one Host section per lab IP, then `Host *` so the user's global lines stay global."""
    if not ips:
        return ""
    lines = [BEGIN]
    for ip in ips:
        lines += [f"Host {ip}", f"    User {USER}", f"    IdentityFile {client_key()}", "    IdentitiesOnly yes",
                  "    ControlMaster auto", f"    ControlPath {control_path()}", "    ControlPersist 60s"]
    lines += ["Host *", END]
    return "\n".join(lines) + "\n"


def lab_ips(text):
    """The IPs with a section in the managed block."""
    lines = text.splitlines(keepends=True)
    span = _block_span(lines)
    block = lines[span[0]:span[1]] if span else []
    return [line.split()[1] for line in block if line.startswith("Host ") and line.strip() != "Host *"]


def add(ip):
    """Trust the lab host key for `ip` and give it the lab's identity and connection sharing."""
    pub = host_key().with_suffix(".pub").read_text().split()
    entry = f"{ip} {pub[0]} {pub[1]} {TAG}"
    with paths.locked("ssh"):
        known = ssh_dir() / "known_hosts"
        lines = known_hosts_lines(_read(known), keep=lambda other: other != ip)
        _rewrite(known, "\n".join([*lines, entry]) + "\n")
        _set_config(lambda ips: [*[i for i in ips if i != ip], ip])
    (paths.HOME / "ssh").mkdir(parents=True, exist_ok=True, mode=0o700)


def remove(ip):
    """Drop the lab's entries for `ip` and end its shared connection."""
    close_master(ip)
    with paths.locked("ssh"):
        known = ssh_dir() / "known_hosts"
        if known.exists():
            _rewrite(known, "".join(line + "\n" for line in known_hosts_lines(_read(known), keep=lambda o: o != ip)))
        _set_config(lambda ips: [i for i in ips if i != ip])


def remove_all():
    """Drop every lab entry and the managed block; end every shared connection."""
    for ip in lab_ips(_read(ssh_dir() / "config")):
        close_master(ip)
    with paths.locked("ssh"):
        known = ssh_dir() / "known_hosts"
        if known.exists():
            _rewrite(known, "".join(line + "\n" for line in known_hosts_lines(_read(known))))
        _set_config(lambda ips: [])


def _set_config(change):
    config = ssh_dir() / "config"
    text = _read(config)
    rest = config_without_block(text)
    block = config_block(change(lab_ips(text)))
    if block or text != rest:
        _rewrite(config, block + rest)


def close_master(ip):
    """Stop every ControlMaster for `ip` (one per user): after the host is gone it would hang the next host on the
    same IP."""
    for socket in control_path("*", ip, "*").parent.glob(control_path("*", ip, "*").name):
        try:
            subprocess.run(["ssh", "-o", f"ControlPath={socket}", "-O", "exit", ip], capture_output=True, timeout=10)
        except subprocess.TimeoutExpired:
            pass  # a wedged master: removing its socket below still frees the path for the next host
        socket.unlink(missing_ok=True)
