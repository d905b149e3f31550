"""Settings: SCOREMATE_* variables read into one typed object, and refused at start when they make no sense."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import pytest

from application.ports import RateRule
from entrypoints.cli import main
from entrypoints.settings import Settings, SettingsError, numeric_bounds, parse_env_file, parse_rate

README = Path(__file__).resolve().parents[2] / "README.md"
NUMERIC = numeric_bounds()


def from_env(**variables: str) -> Settings:
    return Settings.from_env({f"SCOREMATE_{name.upper()}": value for name, value in variables.items()}, env_file=None)


def test_nothing_set_is_the_embedded_default() -> None:
    settings = from_env()
    assert settings.storage == "local"
    assert settings.redis_url is None
    assert settings.effective_database_url.startswith("sqlite+aiosqlite:///")
    assert settings.render_timeout_seconds == 10.0


def test_the_rendering_limits_have_their_documented_defaults() -> None:
    settings = from_env()
    assert settings.max_page_thumbnails == 2000
    assert settings.render_timeout_seconds == 10.0
    assert settings.render_processes == 2


def test_values_take_the_type_of_their_setting() -> None:
    settings = from_env(
        render_max_page_points="1000",
        render_max_output_pixels="120000",
        s3_secure="yes",
        trusted_proxies="10.0.0.1, 10.0.0.2,",
        data_dir="/srv/scoremate",
        redis_url="",
    )
    assert settings.render_max_page_points == 1000.0
    assert settings.render_max_output_pixels == 120_000
    assert settings.s3_secure is True
    assert settings.trusted_proxies == ("10.0.0.1", "10.0.0.2")
    assert settings.data_dir == Path("/srv/scoremate")
    assert settings.redis_url is None


def test_time_limits_may_be_fractions_and_the_memory_limit_may_be_off() -> None:
    settings = from_env(render_timeout_seconds="0.5", render_memory_limit_bytes="0")
    assert settings.render_timeout_seconds == 0.5
    assert settings.render_memory_limit_bytes == 0


def test_overrides_win_over_the_environment() -> None:
    settings = Settings.from_env({"SCOREMATE_RENDER_PROCESSES": "4"}, env_file=None, render_processes=1)
    assert settings.render_processes == 1


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"render_processes": "0"}, "SCOREMATE_RENDER_PROCESSES"),
        ({"render_timeout_seconds": "-1"}, "SCOREMATE_RENDER_TIMEOUT_SECONDS"),
        ({"render_max_page_points": "0"}, "SCOREMATE_RENDER_MAX_PAGE_POINTS"),
        ({"inspect_timeout_seconds": "nan"}, "SCOREMATE_INSPECT_TIMEOUT_SECONDS"),
        ({"render_memory_limit_bytes": "-1"}, "SCOREMATE_RENDER_MEMORY_LIMIT_BYTES"),
        ({"page_thumbnails_seconds": "0"}, "SCOREMATE_PAGE_THUMBNAILS_SECONDS"),
        ({"page_thumbnails_seconds": "900", "task_idle_timeout_seconds": "900"}, "SCOREMATE_PAGE_THUMBNAILS_SECONDS"),
        ({"default_quota_bytes": "0"}, "SCOREMATE_DEFAULT_QUOTA_BYTES"),
        ({"max_upload_bytes": "many"}, "SCOREMATE_MAX_UPLOAD_BYTES"),
        ({"storage": "ftp"}, "SCOREMATE_STORAGE"),
        ({"jwt_secret": "short"}, "SCOREMATE_JWT_SECRET"),
        ({"s3_secure": "ture"}, "SCOREMATE_S3_SECURE"),
        ({"log_format": "yaml"}, "SCOREMATE_LOG_FORMAT"),
        ({"log_level": "verbose"}, "SCOREMATE_LOG_LEVEL"),
        ({"port": "99999"}, "SCOREMATE_PORT"),
        ({"port": "-1"}, "SCOREMATE_PORT"),
        ({"metrics_port": "70000"}, "SCOREMATE_METRICS_PORT"),
        ({"database_url": "mysql://scores"}, "SCOREMATE_DATABASE_URL"),
        ({"public_base_url": "notaurl"}, "SCOREMATE_PUBLIC_BASE_URL"),
        ({"trusted_proxies": "10.0.0.1,not-an-ip"}, "SCOREMATE_TRUSTED_PROXIES"),
        ({"shutdown_grace_seconds": "0"}, "SCOREMATE_SHUTDOWN_GRACE_SECONDS"),
        ({"database_max_connections": "0"}, "SCOREMATE_DATABASE_MAX_CONNECTIONS"),
    ],
)
def test_a_value_that_makes_no_sense_is_refused_by_name(variables: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=named):
        from_env(**variables)


def test_a_rate_that_cannot_be_read_is_refused_at_start() -> None:
    with pytest.raises(SettingsError, match="10/15min"):
        from_env(login_failure_limit="ten a minute")


def test_the_login_limits_have_their_documented_defaults_and_may_be_set_apart() -> None:
    settings = from_env()
    assert (settings.login_failure_rule, settings.login_address_failure_rule, settings.login_email_failure_rule) == (
        RateRule(10, 900),
        RateRule(50, 900),
        RateRule(100, 86400),
    )
    both = from_env(login_failure_limit="4/h", login_address_failure_limit="100/15min")
    assert (both.login_failure_rule, both.login_address_failure_rule) == (RateRule(4, 3600), RateRule(100, 900))
    with pytest.raises(SettingsError, match=r"SCOREMATE_LOGIN_EMAIL_FAILURE_LIMIT: .*10/15min"):
        from_env(login_email_failure_limit="lots")


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("10/15min", RateRule(10, 900)),
        ("60/minute", RateRule(60, 60)),
        ("5/h", RateRule(5, 3600)),
        ("20 / hours", RateRule(20, 3600)),
        ("3/2d", RateRule(3, 172_800)),
    ],
)
def test_rates_read_as_count_per_window(text: str, rule: RateRule) -> None:
    assert parse_rate(text) == rule


def test_an_empty_value_is_unset_and_keeps_the_default() -> None:
    settings = from_env(metrics_port="", render_processes=" ", s3_bucket="", s3_secure="")
    assert settings.metrics_port == 0
    assert settings.render_processes == 2
    assert settings.s3_bucket == "scoremate"
    assert settings.s3_secure is False


def test_choices_are_read_whatever_their_case() -> None:
    settings = from_env(log_format="JSON", storage="S3", s3_secure="False", log_level="debug")
    assert (settings.log_format, settings.storage, settings.s3_secure) == ("json", "s3", False)


def test_an_env_file_reads_as_docker_compose_reads_it() -> None:
    text = """
# the API's settings
export SCOREMATE_RENDER_PROCESSES=4   # one per core
SCOREMATE_S3_BUCKET = 'scores # not a comment'
SCOREMATE_JWT_SECRET="a#b"  # quoted: the hash stays
SCOREMATE_PUBLIC_BASE_URL=https://scores.example.org/#top
not a setting
"""
    assert parse_env_file(text) == {
        "SCOREMATE_RENDER_PROCESSES": "4",
        "SCOREMATE_S3_BUCKET": "scores # not a comment",
        "SCOREMATE_JWT_SECRET": "a#b",
        "SCOREMATE_PUBLIC_BASE_URL": "https://scores.example.org/#top",
    }


def test_the_command_line_names_a_bad_setting_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SCOREMATE_STORAGE", "ftp")
    assert main(["migrate"]) == 2
    error = capsys.readouterr().err
    assert error == "scoremate: configuration error: SCOREMATE_STORAGE must be 'local' or 's3'\n"


def test_proxies_may_be_addresses_networks_or_any() -> None:
    assert from_env(trusted_proxies="10.0.0.7, 172.16.0.0/12, ::1, *").trusted_proxies == (
        "10.0.0.7",
        "172.16.0.0/12",
        "::1",
        "*",
    )


def documented_settings() -> set[str]:
    """The variables named in the first column of the README's configuration table."""
    section = README.read_text().split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    rows = [line.split("|")[1] for line in section.splitlines() if line.startswith("| `SCOREMATE_")]
    return {name for row in rows for name in re.findall(r"`(SCOREMATE_[A-Z0-9_]+)`", row)}


def test_the_readme_documents_every_setting_and_no_other() -> None:
    assert documented_settings() == {f"SCOREMATE_{spec.name.upper()}" for spec in fields(Settings)}


def test_every_number_among_the_settings_declares_its_bounds() -> None:
    numeric = {spec.name for spec in fields(Settings) if getattr(Settings(), spec.name).__class__ in (int, float)}
    assert set(NUMERIC) == numeric
    assert len(NUMERIC) >= 30


def values_out_of_bounds(name: str) -> list[str]:
    bounds = NUMERIC[name]
    bad = ["inf", "-inf", "nan", "many"]
    if bounds.gt is not None:
        bad += [str(bounds.gt), str(bounds.gt - 1)]
    if bounds.ge is not None:
        bad += [str(bounds.ge - 1)]
    if bounds.le is not None:
        bad += [str(bounds.le + 1)]
    return bad


@pytest.mark.parametrize("name", sorted(NUMERIC))
def test_every_numeric_setting_refuses_values_outside_its_bounds(name: str) -> None:
    variable = f"SCOREMATE_{name.upper()}"
    assert variable in documented_settings(), f"{variable} is missing from the README's configuration table"
    default = getattr(Settings(), name)
    assert getattr(from_env(**{name: str(default)}), name) == default
    if NUMERIC[name].ge == 0:  # 0 means off, or none
        assert getattr(from_env(**{name: "0"}), name) == 0
    for bad in values_out_of_bounds(name):
        with pytest.raises(SettingsError, match=variable):
            from_env(**{name: bad})


@pytest.mark.parametrize("command", ["serve", "worker", "migrate"])
@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SCOREMATE_MAINTENANCE_INTERVAL_SECONDS", "0"),
        ("SCOREMATE_MAINTENANCE_INTERVAL_SECONDS", "-1"),
        ("SCOREMATE_WORKER_CONCURRENCY", "0"),
        ("SCOREMATE_UPLOAD_RATE_LIMIT", "0/minute"),
    ],
)
def test_every_command_stops_at_start_on_a_bad_number(
    command: str, variable: str, value: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SCOREMATE_REDIS_URL", "redis://127.0.0.1:1/0")  # the worker would need it
    monkeypatch.setenv(variable, value)
    assert main([command]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"scoremate: configuration error: {variable}")
    assert error.count("\n") == 1
