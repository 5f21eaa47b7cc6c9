"""Proof lint: every catalogue id is turned red somewhere, and the expected verdicts are consistent data."""
import re
import tomllib

import pytest

from conformance.profiles import profiles
from conformance.lab import proof, variants

TESTS = proof.REPO / "tests"
# A unit test proves it can turn an id red with a decorator line @pytest.mark.red("<id>") (several ids:
# red("a", "b")); `grep -rn '@pytest.mark.red(' tests/` lists them all.
RED_MARKER = re.compile(r"(?m)^[ \t]*@pytest\.mark\.red\(([^)]*)\)")
STRING = re.compile(r"""["']([^"']+)["']""")
PROFILE_TABLE, CASES = proof.load()
CATALOGUE = proof.catalogue()


def red_markers():
    """{id: ["tests/file.py:line", ...]} from every @pytest.mark.red in tests/."""
    found = {}
    for path in sorted(TESTS.rglob("*.py")):
        text = path.read_text()
        for match in RED_MARKER.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            for req_id in STRING.findall(match.group(1)):
                found.setdefault(req_id, []).append(f"{path.relative_to(proof.REPO)}:{line}")
    return found


def test_every_requirement_turns_red_on_a_variant_or_in_a_unit_test():
    """32/32: an id no broken lab host fails needs a unit test marked @pytest.mark.red("<id>")."""
    by_variant = {i for case in CASES for i in case.fail}
    by_unit = set(red_markers())
    uncovered = [i for i in CATALOGUE.ids() if i not in by_variant | by_unit]
    assert not uncovered, (f"{len(uncovered)} of {len(CATALOGUE)} requirement(s) never turn red: no variant in "
                           f"fixtures/verdicts.toml fails them and no test in tests/ is marked "
                           f"@pytest.mark.red(<id>) for them:\n  " + "\n  ".join(uncovered))


def test_red_markers_name_catalogue_ids():
    unknown = {i: where for i, where in red_markers().items() if i not in CATALOGUE}
    assert not unknown, "@pytest.mark.red with an id not in suites/requirements.toml: " + "; ".join(
        f"{i!r} at {', '.join(w)}" for i, w in unknown.items())


def test_red_marker_is_registered():
    markers = tomllib.loads((proof.REPO / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]["markers"]
    assert any(m.startswith("red(") for m in markers)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_blocked_is_exactly_the_dependents_of_fail(case):
    """A broken host blocks only the true dependents of what it fails, errs on or cannot observe (catalogue
    `depends`), all of them."""
    red = (*case.red, *case.blocked_by_state)
    want = [i for i in proof.dependents(CATALOGUE, red) if i not in case.blocked_by_state]
    assert sorted(case.blocked) == sorted(want), (
        f"{case.name}: blocked {sorted(case.blocked)}; the catalogue's dependents of {list(red)} are {want}")


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_fail_and_blocked_ids_apply_to_the_profile(case):
    """An error may be expected on an id the profile makes not applicable: what makes it so is read on the target
    too (install.repo's engine package), and a login that cannot observe the host cannot tell that either."""
    engine_package = PROFILE_TABLE[case.profile]["engine_package"]
    profile_data = profiles()
    inapplicable = [i for i in (*case.fail, *case.blocked, *case.blocked_by_state)
                    if not proof.applicable(CATALOGUE.get(i), case.profile, engine_package, profile_data)]
    assert not inapplicable, f"{case.name} ({case.profile}) expects verdicts on not-applicable ids {inapplicable}"


def test_every_variant_has_expected_verdicts():
    missing = [name for name in variants.load() if name not in {c.name for c in CASES if c.is_variant}]
    assert not missing, f"variants in fixtures/lab/variants.toml without an entry in fixtures/verdicts.toml: {missing}"


def test_good_targets_are_in_the_matrix():
    good = {c.name for c in CASES if not c.fail}
    assert {"debian", "centos7-sim", "local://"} <= good


def test_expected_statuses_cover_every_id_once():
    case = next(c for c in CASES if c.name == "no-bridge")
    want = proof.expected(case, PROFILE_TABLE)
    assert list(want) == CATALOGUE.ids()
    assert want["nginx.bridge-ip"] == "failed" and want["nginx.http"] == "blocked"
    assert want["install.repo"] == "not-applicable"  # docker.io: profiles.toml debian.repo.needed_for = docker-ce
    assert proof.expected(next(c for c in CASES if c.name == "centos7-sim"), PROFILE_TABLE)["install.repo"] == "passed"


def test_explain_names_variant_requirement_expected_and_got():
    case = next(c for c in CASES if c.name == "no-bridge")
    want = proof.expected(case, PROFILE_TABLE)
    got = {**want, "nginx.http": "failed", "image.rootfs": "failed"}
    outcome = proof.Outcome(case, "ssh://root@10.0.0.9", got=got, messages={"nginx.http": "HTTP no answer"})
    text = proof.explain(outcome, want)
    assert text.startswith("variant no-bridge (ssh://root@10.0.0.9): 2 verdict(s) differ")
    assert re.search(r"nginx\.http +expected blocked +got failed +HTTP no answer", text)
    assert re.search(r"image\.rootfs +expected passed +got failed", text)


def test_policy_becomes_suite_options():
    values = {"{gateway}": "172.17.0.1", "{mirror}": "http://172.17.0.1:5000"}
    assert variants.get("old-engine").suite_options(values) == ["--mirror=http://172.17.0.1:5000",
                                                                 "--min-engine-version=99.0"]
    assert variants.get("mirror-down").suite_options(values) == ["--mirror=http://172.17.0.1:5009"]
    assert proof.suite_options(next(c for c in CASES if c.name == "local://"), values) == [
        "--mirror=http://127.0.0.1:5000"]


def test_matrix_html_escapes(tmp_path):
    case = proof.Case("<b>x</b>", "debian")
    want = {i: "passed" for i in CATALOGUE.ids()}
    outcome = proof.Outcome(case, "ssh://a&b", got={**want, "engine.info": "failed"},
                            messages={"engine.info": "<script>alert(1)</script>"})
    _, html_path = proof.write_matrix([outcome], {case.name: want}, tmp_path, 1.0, 1)
    text = html_path.read_text()
    assert "<script>" not in text and "&lt;script&gt;" in text and "&lt;b&gt;x&lt;/b&gt;" in text
    assert "pass≠FAIL" in text


def test_blocked_by_state_is_told_apart_from_blocked_by_a_dependency():
    assert proof.observed("blocked", "blocked by state: hello-world:latest was on ...") == proof.BLOCKED_BY_STATE
    assert proof.observed("blocked", "blocked by engine.hello-world: ...") == "blocked"
    case = next(c for c in CASES if c.blocked_by_state)
    assert set(proof.expected(case, PROFILE_TABLE).values()) >= {proof.BLOCKED_BY_STATE}
    assert set(proof.state_images()) == {"registry.mirror-serves-pulls"}
