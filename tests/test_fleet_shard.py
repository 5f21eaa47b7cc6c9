"""--shard K/N: a stable share of the targets by display name; bad input and an empty shard."""
import pytest

from conformance import shard
from conformance.selftest import results
import report_project

NAMES = [f"edge-{i}" for i in range(1, 13)]


def test_a_name_lands_in_the_same_shard_whatever_the_other_names():
    alone = {name: shard.number(name, 4) for name in NAMES}
    together = shard.select({n: n for n in NAMES}, 1, 4)
    assert together == [n for n in NAMES if alone[n] == 1]
    assert shard.select({n: n for n in reversed(NAMES[:5])}, 1, 4) == [n for n in reversed(NAMES[:5]) if alone[n] == 1]
    shares = [shard.select({n: n for n in NAMES}, k, 4) for k in range(1, 5)]
    assert sorted(n for share in shares for n in share) == sorted(NAMES)  # every name once, in one shard
    assert all(1 <= shard.number(n, 1) == 1 for n in NAMES)


@pytest.mark.parametrize("text", ["0/4", "5/4", "1/0", "2", "a/b", "-1/3", "1/2/3", ""])
def test_bad_shard_is_a_usage_error(text):
    with pytest.raises(pytest.UsageError, match=r"expected K/N with whole numbers 1 <= K <= N"):
        shard.parse(text)


def test_parse():
    assert shard.parse("2/4") == (2, 4) and shard.parse(" 1 / 1 ") == (1, 1)


HOSTS = [f"ssh://root@h{i}.invalid" for i in range(1, 6)] + ["local://"]
NAMES_OF = {spec: spec.removeprefix("ssh://").removesuffix("://") for spec in HOSTS}


def test_shards_split_the_targets_of_a_run(pytester):
    """The shards of one --hosts list check each target once, under the name a whole run gives it."""
    root = report_project.project(pytester)
    seen = {}
    for k in (1, 2, 3):
        wanted = [s for s in HOSTS if shard.number(NAMES_OF[s], 3) == k]
        if not wanted:
            continue
        report_project.run(pytester, f"--hosts={','.join(HOSTS)}", f"--shard={k}/3")
        hosts = results(root)["hosts"]
        assert list(hosts) == wanted
        seen.update({spec: host["name"] for spec, host in hosts.items()})
    assert seen == NAMES_OF


def test_shard_from_environment_and_bad_value(pytester):
    report_project.project(pytester)
    pytester._monkeypatch.setenv("CONFORMANCE_SHARD", "3/2")
    result = report_project.run(pytester)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--shard '3/2': expected K/N with whole numbers 1 <= K <= N*"])


def test_an_empty_shard_says_so_and_exits_0(pytester):
    root = report_project.project(pytester)
    empty = next(k for k in (1, 2) if shard.number("local", 2) != k)
    result = report_project.run(pytester, f"--shard={empty}/2")
    assert result.ret == pytest.ExitCode.OK
    result.stderr.fnmatch_lines([f"*conformance: shard {empty}/2 has no target (1 target(s) in all: local -> "
                                 f"{3 - empty}); nothing to check, no run folder written, exit status 0*"])
    assert not (root / "reports").exists()
