"""domain.users: email normalisation and validation, password length, default username."""

from __future__ import annotations

import pytest

from domain.errors import ValidationError
from domain.users import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, check_password, default_username, normalize_email


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("ann@example.com", "ann@example.com"),
        ("  Ann@Example.COM \n", "ann@example.com"),
        ("first.last+tag@sub.example.org", "first.last+tag@sub.example.org"),
        ("a@b.c", "a@b.c"),
    ],
)
def test_emails_are_trimmed_and_lowercased(raw: str, normalized: str) -> None:
    assert normalize_email(raw) == normalized


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "ann",
        "ann@",
        "@example.com",
        "ann@example",
        "ann@@example.com",
        "ann@exa mple.com",
        "an n@example.com",
        "ann@example.com@x.org",
        "a" * 65 + "@example.com",
        "ann@" + "a" * 250 + ".com",
    ],
)
def test_invalid_emails_are_validation_errors(raw: str) -> None:
    with pytest.raises(ValidationError) as error:
        normalize_email(raw)
    assert error.value.code == "validation_error"


def test_the_local_part_may_have_64_characters() -> None:
    assert normalize_email("a" * 64 + "@example.com") == "a" * 64 + "@example.com"


def test_passwords_need_eight_characters() -> None:
    assert MIN_PASSWORD_LENGTH == 8
    check_password("x" * 8)
    with pytest.raises(ValidationError) as error:
        check_password("x" * 7)
    assert error.value.code == "validation_error"
    assert "8" in error.value.detail


def test_passwords_have_an_upper_bound() -> None:
    check_password("x" * MAX_PASSWORD_LENGTH)
    with pytest.raises(ValidationError):
        check_password("x" * (MAX_PASSWORD_LENGTH + 1))


def test_the_default_username_is_the_local_part() -> None:
    assert default_username("ann.smith@example.com") == "ann.smith"
