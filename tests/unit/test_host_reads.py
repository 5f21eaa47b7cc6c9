"""The host's own reads (os-release for the profile, the facts), asked with one command: each read's answer apart."""
import subprocess

import pytest

from conformance import targets
from conformance.outcomes import TargetError

READS = {"ok": "printf 'a\\nb\\n'", "silent": "true", "fails": "echo partial; exit 3", "noisy": "echo x >&2; echo y",
         "no newline": "printf last", "marker-like": "echo '@@conformance-read-rc 9'; echo z"}


def answers(reads):
    out = subprocess.run(["sh", "-c", targets.host_reads_script(reads)], capture_output=True, text=True, check=True)
    return targets.host_reads_answers(out.stdout, reads)


def test_each_read_gets_its_own_exit_status_and_output():
    found = answers(READS)
    assert found["ok"] == (0, "a\nb\n")
    assert found["silent"] == (0, "")
    assert found["fails"] == (3, "partial\n")
    assert found["noisy"] == (0, "y\n")  # stderr dropped, as the facts never showed it
    assert found["no newline"] == (0, "last")
    assert found["marker-like"] == (0, "@@conformance-read-rc 9\nz\n")


def test_the_host_reads_run_in_a_posix_shell():
    found = answers({k: v for k, v in targets.HOST_READS.items() if k != "os-release"})
    assert found["kernel"].rc == 0 and found["kernel"].stdout.strip()
    assert found["observer"].stdout.startswith("uid=")


def test_an_answer_cut_short_names_the_reads_it_lacks():
    out = subprocess.run(["sh", "-c", targets.host_reads_script(READS)], capture_output=True, text=True).stdout
    with pytest.raises(TargetError, match="no answer for noisy, no newline, marker-like"):
        targets.host_reads_answers(out[: out.index("@@conformance-read noisy")], READS)
