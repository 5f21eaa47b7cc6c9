"""The engine the login's docker CLI reaches (facts: engine route), read from its environment and files only."""
from conformance.targets import cli_route

META = '{"Name":"other","Metadata":{},"Endpoints":{"docker":{"Host":"unix:///run/other.sock","SkipTLSVerify":false}}}'


def test_the_cli_resolves_docker_host_then_docker_context_then_current_context():
    assert cli_route("DOCKER_HOST=tcp://127.0.0.1:2375\nDOCKER_CONTEXT=other\n" + META) == (
        "default (DOCKER_HOST)", "tcp://127.0.0.1:2375")
    assert cli_route('DOCKER_HOST=\nDOCKER_CONTEXT=other\n"currentContext":"x"\n' + META) == (
        "other", "unix:///run/other.sock")
    assert cli_route('DOCKER_HOST=\nDOCKER_CONTEXT=\n"currentContext": "other"\n' + META) == (
        "other", "unix:///run/other.sock")
    assert cli_route("DOCKER_HOST=\nDOCKER_CONTEXT=\n") == ("default", "unix:///var/run/docker.sock")
    assert cli_route('DOCKER_HOST=\nDOCKER_CONTEXT=gone\n' + META) == ("gone", "? (no meta.json names it)")
