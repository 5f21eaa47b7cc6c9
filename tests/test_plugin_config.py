"""The settings loader: precedence, per-target rules and bad values."""
import pytest

from conformance import config


class FakeConfig:
    """Just enough of pytest.Config for config.load(): the parsed command-line options."""

    def __init__(self, **options):
        self.options = options

    def getoption(self, name):
        return self.options.get(name)


def load(env=None, **cli):
    return config.load(FakeConfig(**cli), environ=env or {})


def test_defaults():
    s = load().for_target("local://")
    assert (s.profile, s.mirrors, s.min_engine_version, s.edition) == ("auto", (), None, "any")
    assert (s.start_budget_ms, s.call_timeout, s.engine_url) == (5000, 30.0, None)
    assert s.check_timeout == 300.0
    assert s.ssh_work_ahead is True  # over ssh the engine work runs ahead, as on local://, where the sshd allows it
    assert load(conformance_ssh_work_ahead=["ssh://*slow*=false"]).for_target("ssh://root@slow").ssh_work_ahead is False
    assert load().strict is False and load().report_dir == "reports" and load().keep_pulled_images is False


def test_precedence_default_file_env_cli(tmp_path):
    conf = tmp_path / "c.toml"
    conf.write_text('call-timeout = 11\nedition = "ce"\nreport_dir = "out"\nprofile = "rhel"\n')
    env = {"CONFORMANCE_CALL_TIMEOUT": "12", "CONFORMANCE_EDITION": "ee"}
    s = load(env, conformance_config=str(conf), conformance_call_timeout=["13"])
    t = s.for_target("local://")
    assert t.call_timeout == 13.0          # cli beats env and file
    assert t.edition == "ee"               # env beats file
    assert s.report_dir == "out"           # file beats default
    assert t.profile == "rhel" and t.profile_source == f"config file {conf}"
    assert t.start_budget_ms == 5000       # default


def test_config_file_from_environment(tmp_path):
    conf = tmp_path / "c.toml"
    conf.write_text("strict = true\n")
    assert load({"CONFORMANCE_CONFIG": str(conf)}).strict is True


def test_per_target_rules():
    s = load(conformance_mirror=["local://=http://127.0.0.1:5000", "ssh://*=http://172.17.0.1:5000",
                                 "https://all.example"],
             conformance_profile=["rhel", "ssh://*centos*=rhel", "local://=debian"])
    local = s.for_target("local://")
    lab = s.for_target("ssh://root@172.17.0.3?ssh_identity_file=/k=ey")
    assert local.mirrors == ("http://127.0.0.1:5000", "https://all.example")
    assert lab.mirrors == ("http://172.17.0.1:5000", "https://all.example")
    assert local.profile == "debian" and lab.profile == "rhel"


def test_pattern_may_contain_equals_signs():
    rule = config.parse_rule(config.BY_NAME["engine-url"], "ssh://root@h?ssh_identity_file=/k=tcp://127.0.0.1:2375")
    assert rule == ("ssh://root@h?ssh_identity_file=/k", "tcp://127.0.0.1:2375")


def test_env_lists_and_flags():
    s = load({"CONFORMANCE_MIRROR": "http://a:5000, http://b:5000", "CONFORMANCE_STRICT": "yes"})
    assert s.for_target("x").mirrors == ("http://a:5000", "http://b:5000") and s.strict is True


@pytest.mark.parametrize("option, value, words", [
    ("conformance_profile", ["centos"], "expected one of auto, rhel, debian"),
    ("conformance_mirror", ["mirror.example:5000"], "malformed mirror URL"),
    ("conformance_mirror", ["http://mirror:port"], "bad port"),
    ("conformance_call_timeout", ["soon"], "expected a number"),
    ("conformance_start_budget_ms", ["-5"], "above 0"),
    ("conformance_min_engine_version", ["twenty"], "expected a version"),
    ("conformance_edition", ["pro"], "expected one of ce, ee, any"),
])
def test_bad_cli_values(option, value, words):
    with pytest.raises(pytest.UsageError, match=words):
        load(**{option: value})


def test_bad_env_value_names_the_variable():
    with pytest.raises(pytest.UsageError, match="CONFORMANCE_CALL_TIMEOUT"):
        load({"CONFORMANCE_CALL_TIMEOUT": "x"})


def test_unknown_key_in_file(tmp_path):
    conf = tmp_path / "c.toml"
    conf.write_text("colour = 1\n")
    with pytest.raises(pytest.UsageError, match="unknown setting 'colour'"):
        load(conformance_config=str(conf))


def test_help_strings_are_capitalised_without_period():
    for option in config.OPTIONS:
        assert option.help[0].isupper() and not option.help.endswith("."), option.name


def test_bad_option_exits_4_with_a_clear_message(pytester):
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest_subprocess("--profile=centos")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*bad --profile value*centos*expected one of auto, rhel, debian*"])
