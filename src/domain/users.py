"""Accounts."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from domain.errors import ValidationError
from domain.text import clean_optional

MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024
MAX_USERNAME_LENGTH = 64
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")


@dataclass
class User:
    id: UUID
    email: str
    username: str
    password_hash: str
    quota_limit_bytes: int
    created_at: datetime
    is_admin: bool = False
    is_active: bool = True  # a deactivated user cannot sign in, and their tokens are refused


def normalize_email(email: str) -> str:
    """Emails compare case-insensitively and without surrounding blanks."""
    normalized = email.strip().lower()
    if len(normalized) > 254 or not _EMAIL.match(normalized):
        raise ValidationError("The email address is not valid.")
    return normalized


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(f"The password must have at least {MIN_PASSWORD_LENGTH} characters.")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValidationError(f"The password must have at most {MAX_PASSWORD_LENGTH} characters.")


def default_username(email: str) -> str:
    return email.split("@", 1)[0]


def clean_username(username: str | None, email: str) -> str:
    """The name given, trimmed; the local part of `email` (a normalized one, so at most 64 characters) if none is."""
    return clean_optional(username, "username", MAX_USERNAME_LENGTH) or default_username(email)
