"""What every text a run shows passes through: control characters made visible, then credentials masked."""
from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any

# C0 and C1 control characters except \n and \t, DEL, and the bidirectional marks and overrides that reorder
# what a terminal or a browser shows ("Trojan Source"): from a target they could move the cursor, clear a line,
# retitle the terminal or print a fake verdict.
CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")

# A name that mentions a secret (DOCKER_PASSWORD, registry-token, passphrase), or ends in _pass / _pwd
# (DB_PASS, MYSQL_PWD; not PWD, the working directory, nor bypass).
_NAMES = (r"(?:token|password|passwd|passphrase|secret|api[_-]?key|access[_-]?key|private[_-]?key"
          r"|registry[_-]auth|credentials?)")
SECRET_NAME = re.compile(rf"(?i)[\w.-]*{_NAMES}[\w.-]*|(?:[\w.-]*[_.-])?pass|[\w.-]*[_.-]pwd")
# One value: quoted (may hold spaces; an unclosed quote runs to the end of the line) or a bare word.
_VALUE = r"""(?:"[^"\n]*"?|'[^'\n]*'?|[^\s"'&,;]+)"""
_REST = r"""(?:"[^"\n]*"|'[^'\n]*'|\S[^\n]*)"""  # a quoted value, or the rest of the line
# A name SECRET_NAME matches whole, looked for in a text in lower case (the patterns that mask a value by its name
# take the name up to a character that is not [\w.-]). Those patterns run only where it finds one, not wherever "key",
# "auth" or "pass" appears (.../keys/id_ed25519, authorized_keys, "status: passed").
SECRET_NAME_IN = re.compile(rf"{_NAMES}|pass(?![\w.-])|[_.-]pwd(?![\w.-])")
_NAME_PARTS = ("token", "pass", "pwd", "secret", "key", "auth", "credential")  # one is in each such name: the search
# runs only where one is present
NAMED = "<a secret's name>"  # the marker of those patterns: present where SECRET_NAME_IN finds a name
# Schemes whose user part names an account; in any other URL a user part without a password is a token.
_ACCOUNT_SCHEMES = ("ssh", "paramiko", "safe-ssh", "ansible", "docker", "podman", "kubectl", "winrm", "lxc",
                    "openshift", "salt", "chroot", "local", "sftp", "rsync")


def _url(match: re.Match) -> str:
    scheme, user, password = match.group(1), match.group(2), match.group(3)
    if password is None:  # only a user part: https://TOKEN@host, https://ghp_...@host; ssh://root@host names a user
        return match.group(0) if scheme[:-3].lower() in _ACCOUNT_SCHEMES else f"{scheme}***@"
    return f"{scheme}{user}:***@" if password else f"{scheme}***:@"  # https://TOKEN:@host


def _user_password(match: re.Match) -> str:
    """curl -u user:password, --user=user:password; a uid:gid pair (docker -u 0:0) is not a credential."""
    flag, sep, value = match.groups()
    quote = value[0] if value[:1] in "\"'" else ""
    inner = value.strip("\"'")
    user, colon, _ = inner.partition(":")
    if not colon or re.fullmatch(r"\d+:\d+", inner):
        return match.group(0)
    return f"{flag}{sep}{quote}{user}:***{quote}"


def _masked_value(match: re.Match) -> str:
    """head, then the value masked: its opening quote kept (and a closing one), what is inside replaced."""
    head, value = match.group("head"), match.group("value")
    quote = value[0] if value[:1] in "\"'" else ""
    return f"{head}{quote}***{quote if quote and value.endswith(quote) and len(value) > 1 else ''}"


def _named(match: re.Match) -> str:
    """_masked_value when the name before the value is a secret's (the regex found a candidate: any name)."""
    return _masked_value(match) if SECRET_NAME.fullmatch(match.group("name")) else match.group(0)


# (markers, pattern, replacement): a pattern runs only on a text that holds one of its markers (in lower case), or,
# for NAMED, a secret's name.
SECRET_PATTERNS: tuple[tuple[tuple[str, ...], re.Pattern, str | Callable[[re.Match], str]], ...] = (
    # PEM private keys (ssh, TLS, PGP): every line of the block, also when the text was cut inside it
    (("private key",), re.compile(r"(-----BEGIN ([A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?)-----)(.*?)(-----END \2-----|\Z)", re.S),
     lambda m: m.group(1) + re.sub(r"[^\n]+", "***", m.group(3)) + m.group(4)),
    # scheme://user:password@host (also with / or @ in the password), https://TOKEN:@host, https://TOKEN@host
    (("@",), re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)(?:([^\s/@:]*)(?::([^\s]*?))?)@(?=[^\s@/]*(?:[/\s?#\"'`]|$))"),
     _url),
    # Authorization: Bearer x, Authorization: x, Proxy-Authorization: ... (the rest of the header)
    (("authorization",), re.compile(r"""(?i)(?P<head>\b(?:proxy-)?authorization["']?\s*[:=]\s*["']?"""
                                    r"(?:(?:basic|bearer|digest|token|negotiate|ntlm|aws4-hmac-sha256)\s+)?)"
                                    r"""(?P<value>[^\s"',][^\n"']*)"""), _masked_value),
    # Cookie and Set-Cookie headers: every cookie is a credential
    (("cookie",), re.compile(r"(?i)(?P<head>\b(?:set-)?cookie\s*:\s*)(?P<value>\S[^\n]*)"), _masked_value),
    # JSON string values of secret-named keys (Docker config auths, identity tokens)
    ((*_NAME_PARTS, "private", "cookie"),
     re.compile(r"""(?i)((["'])[^"'\s]*(?:auth|pass|pwd|token|secret|private|cookie|credential|api[_-]?key)"""
                r"""[^"'\s]*\2\s*:\s*)(["'])(?:(?!\3)[^\\\n]|\\.)*\3"""), r"\1\3***\3"),
    # NAME=value / name: value at the start of a line (env output, config files): the value is the rest of the line
    ((NAMED,), re.compile(r"""(?im)^(?P<head>\s*(?:export\s+|-\s+)?["']?(?P<name>[\w.-]+)["']?[ \t]*[=:][ \t]*)"""
                          rf"(?P<value>{_REST})"), _named),
    # name: value elsewhere (headers, YAML, messages): the rest of the line
    ((NAMED,), re.compile(rf"(?i)(?P<head>(?<![\w.-])(?P<name>[\w.-]+)[ \t]*:[ \t]+)(?P<value>{_REST})"), _named),
    # NAME=value and name:value elsewhere (command lines, query strings): one value
    ((NAMED,), re.compile(rf"(?i)(?P<head>(?<![\w.-])(?P<name>[\w.-]+)\s*[=:]\s*)(?P<value>{_VALUE})"), _named),
    # --password VALUE, --registry-token "two words", --db.password VALUE, --cookie VALUE
    ((NAMED, "cookie"), re.compile(rf"(?i)(?P<head>(?<![\w-])--(?P<name>[\w.-]+)\s+)(?P<value>(?!-){_VALUE})"),
     lambda m: _named(m) if "cookie" not in m.group("name").lower() else _masked_value(m)),
    # curl -u user:password, --user user:password, --proxy-user ...
    (("-u", "--user", "--proxy-user"),
     re.compile(r"""(?<![\w-])(-u|--user|--proxy-user)(=|\s*)("[^"\n]*"|'[^'\n]*'|[^\s"']+)"""), _user_password),
    # -p PASSWORD of docker login, sshpass, mysql (not the -p of docker run, mkdir or ssh)
    (("login", "sshpass", "mysql", "mariadb"),
     re.compile(rf"(?i)(?P<head>\b(?:login|sshpass|mysql|mysqldump|mysqladmin|mariadb)\b[^\n;|&]*?(?<!\S)-p\s*)"
                rf"(?P<value>(?!-){_VALUE})"), _masked_value),
    (("bearer", "basic"), re.compile(r"(?i)\b(bearer|basic)(\s+)[\w.~+/-]{8,}=*"), r"\1\2***"),
    # Tokens recognisable by their shape (GitHub, GitLab, Slack, AWS access key ids)
    (("gh", "glpat-", "xox", "akia"),
     re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_\w{20,}|glpat-[\w-]{20,}|xox[abprs]-[\w-]{10,}"
                r"|AKIA[0-9A-Z]{16})\b"), "***"),
)
# Every marker, each looked for once a text
_MARKERS = frozenset({*(marker for markers, _, _ in SECRET_PATTERNS for marker in markers), *_NAME_PARTS} - {NAMED})
# Dict keys whose value is a secret as a whole.
SECRET_KEYS = re.compile(r"(?i)^auths?$|password|passwd|passphrase|secret|token|authorization|api[_-]?key"
                         r"|private[_-]?key|credential|cookie|(?:^|[_.-])(?:pass|pwd)$")


def neutralise(text: str) -> str:
    """Control characters (except newline and tab) as visible escapes: ESC becomes the four characters \\x1b."""
    if not CONTROL.search(text):
        return text
    text = text.replace("\r\n", "\n")  # a CR before a newline moves nothing that stays on screen
    return CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def as_ignorecase_reads(text: str) -> str:
    """text in lower case as the patterns' (?i) reads its letters, for the marker tests: str.lower() keeps the dotless
    ı and the long ſ, which (?i) takes for i and s, and turns İ into i and a combining dot (U+0307) that would split a
    marker (the Kelvin sign K it lowers to k)."""
    lower = text.lower()
    if lower.isascii():
        return lower
    return lower.replace("ı", "i").replace("ſ", "s").replace("\u0307", "")


def mask(text: str) -> str:
    """Credentials in text as ***."""
    lower = as_ignorecase_reads(text)
    present = {marker for marker in _MARKERS if marker in lower}  # substring tests: a regex scan costs far more
    if not present.isdisjoint(_NAME_PARTS) and SECRET_NAME_IN.search(lower):
        present.add(NAMED)
    for markers, pattern, replacement in SECRET_PATTERNS:
        if not present.isdisjoint(markers):
            text = pattern.sub(replacement, text)
    return text


@functools.lru_cache(maxsize=16384)
def shown(text: str) -> str:
    """What may be shown of a text: control characters made visible, then credentials masked. Cached: a run shows
    the same evidence when the check's result is recorded, in each phase's captured sections, and again when
    results.json and the evidence files are written (about 0.3 CPU-s of a worker's 3 before). A target brings about
    700 texts: room for 20 targets in one process (with 2048, 8 masked everything two or three times)."""
    return mask(neutralise(text))


@functools.lru_cache(maxsize=1024)
def secret_key(name: str) -> bool:
    """Whether a dict key names a secret as a whole (SECRET_KEYS). Cached: a run redacts the same few keys, again
    and again."""
    return SECRET_KEYS.search(name) is not None


def redact(value: Any) -> Any:
    """What may be shown of a value: control characters made visible, credentials masked (in dict keys too),
    and the values of secret-named keys replaced by ***."""
    if isinstance(value, str):
        return shown(value)
    if isinstance(value, dict):
        return {redact(k) if isinstance(k, str) else k: ("***" if secret_key(str(k)) else redact(v))
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    return value


def redact_lines(lines: list[str]) -> list[str]:
    """Lines pytest prefixed ('E       ', '>       ', indentation), redacted as one text with the prefixes set
    aside, so that a value or a key block that spans lines is masked whole; one line out for each line in."""
    split = [re.match(r"[E>]?\s*", line).end() for line in lines]
    masked = redact("\n".join(line[n:] for line, n in zip(lines, split))).split("\n")
    if len(masked) != len(lines):
        return [redact(line) for line in lines]
    return [line[:n] + text for line, n, text in zip(lines, split, masked)]


def clip(text: str, limit: int, end: bool = False) -> str:
    """At most limit characters of text, from its start (or its end), its credentials masked before it is cut."""
    text = mask(str(text))
    return text[-limit:] if end else text[:limit]
