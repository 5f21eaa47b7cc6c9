"""Evidence recording, redaction and the expect() failure message."""
import pytest

from conformance import outcomes
from conformance.evidence import Evidence, redact, render, trim


@pytest.mark.parametrize("text, secret", [
    ("pull from https://bob:hunter2@mirror.example/v2/", "hunter2"),
    ("curl -H 'Authorization: Bearer abc.def' http://x", "abc.def"),
    ("login token=s3cr3t&x=1", "s3cr3t"),
    ("password: letmein", "letmein"),
    ('{"auths": {"reg": {"auth": "Ym9iOmh1bnRlcjI="}}}', "Ym9iOmh1bnRlcjI="),
])
def test_redacts_secrets_in_text(text, secret):
    assert secret not in redact(text)


def test_redacts_secret_keys_in_fields():
    fields = redact({"RegistryConfig": {"Mirrors": ["http://u:p@m/"]}, "auths": {"r": {"auth": "x"}}})
    assert fields == {"RegistryConfig": {"Mirrors": ["http://u:***@m/"]}, "auths": "***"}


def test_trim_keeps_head_and_tail():
    text = "a" * 5000 + "b" * 5000
    cut = trim(text, 100)
    assert cut.startswith("a" * 50) and cut.endswith("b" * 50) and "cut" in cut


def test_records_and_renders_every_kind():
    e = Evidence("local://", 5)
    e.api("GET /info", Driver="overlay2")
    e.http("http://172.17.0.2/", 200, "Welcome to nginx!")
    e.note("seen")
    text = render(e.items)
    assert "API GET /info" in text and '"Driver": "overlay2"' in text
    assert "HTTP http://172.17.0.2/ -> 200 Welcome to nginx!" in text and "note: seen" in text


def test_cmd_runs_under_timeout_and_records(host):
    e = Evidence("local://", 5)
    result = e.cmd(host, "echo %s; echo err >&2; exit 3", "a b")
    assert (result.rc, result.stdout) == (3, "a b\n")
    assert e.items[0] == {"kind": "cmd", "command": "echo 'a b'; echo err >&2; exit 3", "rc": 3,
                          "stdout": "a b\n", "stderr": "err\n"}


def test_cmd_timeout_is_an_error(host):
    e = Evidence("local://", 5)
    with pytest.raises(outcomes.TargetError, match="timed out after 1 s"):
        e.cmd(host, "sleep 5", timeout=1)


def test_expect_formats_requirement_expected_found():
    outcomes.set_current_requirement("image.copy-on-write")
    try:
        with pytest.raises(AssertionError, match=r"^requirement image.copy-on-write: expected C or A; found nothing$"):
            outcomes.expect(False, "C or A", "nothing")
        with pytest.raises(AssertionError) as info:
            outcomes.expect(False, "a\nb", "c")
        assert str(info.value) == "requirement image.copy-on-write:\n  expected:\n    a\n    b\n  found:\n    c"
        outcomes.expect(True, "x", "y")
    finally:
        outcomes.set_current_requirement(None)
