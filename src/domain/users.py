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


def check_quota_limit(limit_bytes: int) -> None:
    """A quota limit is a number of bytes, 0 or more (0: no new uploads)."""
    if limit_bytes < 0:
        raise ValidationError("The quota limit must be at least 0 bytes.")


@dataclass(frozen=True)
class AccountChanges:
    """What an administrator changes of an account; None leaves a field as it is."""

    quota_limit_bytes: int | None = None
    is_active: bool | None = None
    is_admin: bool | None = None


def apply_account_changes(user: User, changes: AccountChanges, acting_admin: UUID | None) -> None:
    """Apply `changes` to `user`. An administrator (`acting_admin`, None for the server's operator at the command
    line) may neither take their own administrator role away nor deactivate themselves: the server would be left
    without the administrator who could undo it. Quotas may be lowered below a user's usage: nothing is deleted,
    new uploads are refused until usage falls under the limit."""
    if changes.quota_limit_bytes is not None:
        check_quota_limit(changes.quota_limit_bytes)
    if acting_admin == user.id and (changes.is_admin is False or changes.is_active is False):
        raise ValidationError("Administrators may not remove their own administrator role or deactivate themselves.")
    if changes.quota_limit_bytes is not None:
        user.quota_limit_bytes = changes.quota_limit_bytes
    if changes.is_active is not None:
        user.is_active = changes.is_active
    if changes.is_admin is not None:
        user.is_admin = changes.is_admin
