"""The requirement catalogue loader and its validation."""

import pytest

from conformance import catalogue
from conformance.selftest import catalogue_toml, requirement


def write(tmp_path, entries):
    path = tmp_path / "requirements.toml"
    path.write_text(catalogue_toml(entries))
    return path


def test_loads_in_file_order(tmp_path):
    path = write(tmp_path, [requirement("install.package"),
                            requirement("service.running", depends=["install.package"], profile="any"),
                            requirement("install.repo", level="SHOULD", profile="rhel")])
    cat = catalogue.load(path)
    assert cat.ids() == ["install.package", "service.running", "install.repo"]
    assert cat.get("service.running").depends == ("install.package",)
    assert cat.get("install.repo").profile == "rhel" and cat.index("install.repo") == 2
    assert cat.matching("install.") == ["install.package", "install.repo"]


@pytest.mark.parametrize("entries, words", [
    ([requirement("a.b", colour="red")], "'a.b': unknown key"),
    ([requirement("a.b", level="MAY")], "'a.b': level 'MAY'"),
    ([requirement("a.b", profile="suse")], "'a.b': profile 'suse'"),
    ([requirement("a.b", depends=["x.y"])], "'a.b': depends on 'x.y'"),
    ([requirement("a.b", depends=["c.d"]), requirement("c.d")], "'a.b': depends on 'c.d'"),
    ([requirement("a.b"), requirement("a.b")], "'a.b': duplicate id"),
    ([{"id": "a.b"}], "'a.b': missing key"),
    ([requirement("A B")], "'A B': id must be"),
])
def test_validation_errors_name_file_and_id(tmp_path, entries, words):
    path = write(tmp_path, entries)
    with pytest.raises(pytest.UsageError, match=str(path) + ".*" + words):
        catalogue.load(path)

