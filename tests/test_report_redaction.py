"""Planted credentials never reach a report file (HTML, JSON, JUnit, evidence/) or the terminal."""
import json

import pytest

from conformance.evidence import Evidence, redact, trim
from conformance.masking import SECRET_NAME, SECRET_NAME_IN
from conformance.outcomes import one_line
from report_project import CHECKS, bundle, readable, run_in

# Crafted text -> what is shown of it. Each hides "hunter2" (or the token) and keeps what says what it was.
MASKED = [
    ("paramiko://bob:hunter2@web1", "paramiko://bob:***@web1"),
    ("ssh://bob:hunter2@web1:2222?sudo=true", "ssh://bob:***@web1:2222?sudo=true"),
    ("https://bob:hun/ter2@mirror.example/v2/", "https://bob:***@mirror.example/v2/"),
    ("https://bob:p@ss@hunter2@mirror.example/v2/", "https://bob:***@mirror.example/v2/"),
    ("deb https://hunter2TOKEN:@apt.example/debian bookworm main", "deb https://***:@apt.example/debian bookworm main"),
    ("deb https://ghp_hunter2aaaaaaaaaaaaaaaaaaaaaa@apt.example/ stable main", "deb https://***@apt.example/ stable main"),
    ("git clone https://x.example/r ghp_hunter2aaaaaaaaaaaaaaaaaaaaaa", "git clone https://x.example/r ***"),
    ("curl -fsS -u bob:hunter2 https://reg.example/v2/", "curl -fsS -u bob:*** https://reg.example/v2/"),
    ("curl --user=bob:hunter2 https://x", "curl --user=bob:*** https://x"),
    ("curl -u 'bob:two hunter2 words' https://x", "curl -u 'bob:***' https://x"),
    ("docker login -u bob -p hunter2 reg.example", "docker login -u bob -p *** reg.example"),
    ("sshpass -p hunter2 ssh -p 22 web1", "sshpass -p *** ssh -p 22 web1"),
    ("mysql -uroot -phunter2 db", "mysql -uroot -p*** db"),
    ("DB_PASS=hunter2", "DB_PASS=***"),
    ("MYSQL_PWD=hunter2", "MYSQL_PWD=***"),
    ("SMTP_PASS=hunter2 ./send", "SMTP_PASS=***"),  # at a line's start the value is the rest of the line
    ("run with passphrase=hunter2 now", "run with passphrase=*** now"),
    ('PASSWORD="two hunter2 words" next', 'PASSWORD="***" next'),
    ("password: two hunter2 words", "password: ***"),
    ("export API_TOKEN=abc/hunter2/def", "export API_TOKEN=***"),
    ("docker login --password hunter2 -u bob", "docker login --password *** -u bob"),
    ("--registry-token 'two hunter2' --x", "--registry-token '***' --x"),
    ("Authorization: hunter2", "Authorization: ***"),
    ("authorization: Bearer hunter2.abc", "authorization: Bearer ***"),
    ("Set-Cookie: session=hunter2; Path=/; HttpOnly", "Set-Cookie: ***"),
    ("Cookie: a=1; b=hunter2", "Cookie: ***"),
    ('{"auths": {"reg": {"auth": "aHVudGVyMg=="}}, "identitytoken": "hunter2"}',
     '{"auths": {"reg": {"auth": "***"}}, "identitytoken": "***"}'),
    ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3Blbhunter2\nAAAA\n-----END OPENSSH PRIVATE KEY-----\nnext line",
     "-----BEGIN OPENSSH PRIVATE KEY-----\n***\n***\n-----END OPENSSH PRIVATE KEY-----\nnext line"),
    ("-----BEGIN RSA PRIVATE KEY-----\nMIIEhunter2",  # cut inside the block: masked to the end
     "-----BEGIN RSA PRIVATE KEY-----\n***"),
    ("ssh://bob:hunter2@web1\x1b[2K", "ssh://bob:***@web1\\x1b[2K"),
]
# Text without a credential is shown as it is.
KEPT = [
    "ssh://root@10.0.0.11:2222?ssh_identity_file=/root/.ssh/id_ed25519",
    "docker run -u 1000:1000 -p 8080:80 nginx",
    "mkdir -p /tmp/x && ssh -p 22 web1",
    "PWD=/root\nOLDPWD=/",
    "status: passed, bypass: on, compass=north",
    "docker pull 127.0.0.1:5000/library/nginx@sha256:0123abcd",
    "http://127.0.0.1:5000/v2/library/nginx/manifests/latest",
    "Welcome to nginx!\tport 80",
]
# Control characters a target may print -> what is shown: visible escapes, newline and tab kept.
CONTROL = [
    ("\x1b]0;host conforms\x07", "\\x1b]0;host conforms\\x07"),  # retitles the terminal
    ("\x1b[2K\rPASSED all checks", "\\x1b[2K\\rPASSED all checks"),  # clears the line, prints a fake verdict
    ("\x1b[32mconforms\x1b[0m", "\\x1b[32mconforms\\x1b[0m"),
    ("fail\x08\x08\x08\x08pass", "fail\\x08\\x08\\x08\\x08pass"),
    ("\u202efails\u202c", "\\u202efails\\u202c"),  # right-to-left override
    ("\x9b31m", "\\x9b31m"),  # 8-bit CSI
    ("line\r\nnext\tcol", "line\nnext\tcol"),
]


@pytest.mark.parametrize("text, shown", MASKED)
def test_crafted_credentials_are_masked(text, shown):
    assert redact(text) == shown
    assert redact(shown) == shown  # masking twice changes nothing


@pytest.mark.parametrize("text", KEPT)
def test_text_without_credentials_is_kept(text):
    assert redact(text) == text


@pytest.mark.parametrize("text, shown", CONTROL)
def test_control_characters_are_shown_as_escapes(text, shown):
    assert redact(text) == shown
    assert redact({"k": [text]}) == {"k": [shown]}


def test_masked_before_it_is_cut():
    """A cut must not separate a secret from the name that marks it."""
    tail = " DOCKER_PASSWORD=hunter2 " + "b" * 1988  # the tail of a 4000-character trim starts inside the name
    assert "hunter2" not in trim("a" * 5000 + tail)
    line = "e" * 280 + " https://bob:hunter2@mirror.example/v2/"  # one_line cuts at 300, inside the URL
    assert "hunter" not in redact(one_line(line)) and "https://bob:***@m" in one_line(line)


# Names of secrets in each spelling SECRET_NAME takes: the patterns that mask a value by its name run only where
# SECRET_NAME_IN finds such a name, which a text holding no other marker (no "key" nor "auth") must not hide.
SECRET_NAMES = ["DB_PASS", "pass", "MYSQL_PWD", "x.pwd", "PASSWORD", "ldap-passwd", "ssh_passphrase", "GITLAB_TOKEN",
                "my.secret.value", "ApiKey", "api-key", "AWS_ACCESS_KEY", "accesskey", "PRIVATE_KEY", "private-key",
                "registry_auth", "npm_credentials", "Credential"]


@pytest.mark.parametrize("name", SECRET_NAMES)
def test_a_secret_named_value_is_masked_in_every_form(name):
    assert SECRET_NAME.fullmatch(name) and SECRET_NAME_IN.search(name.lower())
    for text in (f"{name}=hunter2", f"  {name}: hunter2", f"run {name}=hunter2 now", f"x {name}: hunter2",
                 f'"{name}" = "hunter2"', f"cmd --{name} hunter2"):
        assert "hunter2" not in redact(text), text


@pytest.mark.parametrize("text", ["ſecret=hunter2", "DB_PAſS=hunter2", "credentİal: hunter2", "--regıstry-auth hunter2",
                                  "Authorızation: hunter2", "api_\u212aey=hunter2"])
def test_a_name_spelt_with_letters_ignorecase_folds_is_masked(text):
    """ſ, ı, İ and the Kelvin sign K read as s, i, i and k in the patterns (?i): the marker tests read them so too."""
    assert "hunter2" not in redact(text)


@pytest.mark.parametrize("name", ["passed", "bypass", "PWD", "keys", "authorized_keys", "passenger", "tokens.d/x"])
def test_names_that_only_contain_a_marker_are_not_secret_names(name):
    assert not SECRET_NAME.fullmatch(name) and redact(f"{name}=kept") == f"{name}=kept"


def test_command_output_is_masked_before_it_is_cut(host):
    evidence = Evidence("local://", 5)
    evidence.cmd(host, "printf %s", "a" * 5000 + " DOCKER_PASSWORD=hunter2 " + "b" * 1988)
    assert "hunter2" not in json.dumps(evidence.items) and "cut" in evidence.items[0]["stdout"]


SECRETS = ["hunter2-url", "hunter2-env", "c2VjcmV0LWF1dGg=", "tok-12345-secret", "hunter2-facts", "hunter2-flag"]
PLANTED = CHECKS.replace('''        evidence.cmd(host, "echo active")''', '''        evidence.cmd(host, "echo active; echo DOCKER_PASSWORD=hunter2-env; env | grep REGISTRY_TOKEN")
        evidence.cmd(host, "cat %s", os.environ["DOCKER_CONFIG_FILE"])
        evidence.cmd(host, "echo docker login --password hunter2-flag -u bob")
        evidence.note("pulled through https://bob:hunter2-url@mirror.example/v2/")
        evidence.api("GET /info", RegistryConfig={"Mirrors": ["https://bob:hunter2-url@mirror.example/"]},
                     auths={"mirror.example": {"auth": "c2VjcmV0LWF1dGg="}})
        print("login with token=tok-12345-secret")
        mirror = "https://bob:hunter2-url@mirror.example"
        assert mirror == "https://mirror.example", "expected the mirror without credentials"''')
FACTS = '''
import conformance.targets

def fake_facts(target):
    return {"OS": "Debian", "mirrors": "https://bob:hunter2-facts@mirror.example/"}

conformance.targets.gather_host_facts = fake_facts
'''


def test_planted_secrets_are_masked_everywhere(tmp_path):
    (tmp_path / "conftest.py").write_text(FACTS)
    config = tmp_path / "config.json"
    config.write_text('{"auths": {"mirror.example": {"auth": "c2VjcmV0LWF1dGg="}}}\n')
    proc = run_in(tmp_path, "-rA", "--req", "service.running", checks=PLANTED,
                  env={"REGISTRY_TOKEN": "hunter2-env", "DOCKER_CONFIG_FILE": str(config)})
    assert proc.returncode == 1, proc.stdout[-3000:]
    run_dir = bundle(tmp_path)
    files = [p for p in run_dir.rglob("*") if p.is_file()]
    assert {"report.html", "results.json", "junit.xml"} <= {p.name for p in files}
    assert any(p.parent.name == "evidence" or p.parent.parent.name == "evidence" for p in files)
    for where, text in [("terminal", proc.stdout + proc.stderr), *((str(p), readable(p)) for p in files)]:
        leaked = [s for s in SECRETS if s in text]
        assert not leaked, f"{where} shows {leaked}"
    results = (run_dir / "results.json").read_text()
    assert "https://bob:***@mirror.example/" in results  # masked, not dropped: the auditor sees a credential was there
    assert '\\"auth\\": \\"***\\"' in results and "DOCKER_PASSWORD=***" in results and "REGISTRY_TOKEN=***" in results
    assert json.loads(results)["hosts"]["local://"]["facts"]["mirrors"] == "https://bob:***@mirror.example/"
    assert "--password *** -u bob" in results and "token=***" in readable(run_dir / "report.html")
    assert "https://bob:***@mirror.example" in proc.stdout  # the failure itself is still shown


SPEC = "paramiko://bob:hunter2@nohost.invalid"  # unreachable: every check on it ends as an error at once
# Every crafted text of the table, printed by the target (the unclosed key block last: it masks to the end).
CRAFTED = "\n".join([t for t, _ in MASKED if "MIIE" not in t] + [t for t, _ in MASKED if "MIIE" in t])
PRINTED = CHECKS.replace('''        evidence.cmd(host, "echo active")''', '''        evidence.cmd(host, 'printf "%s\\\\n" "$CRAFTED"')
        print(os.environ["CRAFTED"])
        evidence.note(os.environ["CRAFTED"])
        assert False, os.environ["CRAFTED"]''')


def _shown(proc, run_dir) -> list[tuple[str, str]]:
    """(where, text) of the terminal and of every file of the run folder, as a reader sees them."""
    return [("terminal", proc.stdout + proc.stderr), *((str(p), readable(p)) for p in run_dir.rglob("*") if p.is_file())]


@pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["one-process", "xdist"])
def test_a_password_in_a_target_spec_or_output_reaches_no_output(tmp_path, workers):
    proc = run_in(tmp_path, f"--hosts=local://,{SPEC}", "-rA", *workers, checks=PRINTED, env={"CRAFTED": CRAFTED})
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    run_dir = bundle(tmp_path)
    for where, text in _shown(proc, run_dir):
        assert "hunter2" not in text, f"{where} shows hunter2: ...{text[text.find('hunter2') - 200:][:300]!r}"
    hosts = json.loads((run_dir / "results.json").read_text())["hosts"]
    assert "paramiko://bob:***@nohost.invalid" in hosts  # the full spec, masked
    assert f"\n{hosts['paramiko://bob:***@nohost.invalid']['name']}  " in proc.stdout  # the summary table's row
    assert "curl -fsS -u bob:*** https://reg.example/v2/" in (run_dir / "results.json").read_text()


@pytest.mark.parametrize("option", [
    "--mirror=https://bob:hunter2@mirror.example:99999",  # bad port
    "--engine-url=local://=tcp://bob:hunter2@web1:bad",
    "--hosts=foo://bob:hunter2@web1",  # unknown scheme
])
def test_a_malformed_option_does_not_echo_its_password(tmp_path, option):
    proc = run_in(tmp_path, option)
    assert proc.returncode == 4, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert "hunter2" not in proc.stdout + proc.stderr and ":***@" in proc.stderr, proc.stderr
