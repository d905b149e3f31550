"""`scoremate users ...`: accounts from the command line, through the same use cases as the HTTP API.

Whoever runs these on the server is its operator: the use cases get no acting administrator (None).
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import TYPE_CHECKING

from application.admin import ChangeUser, CreateUser, GetUser, ListUsers
from application.maintenance import ReconcileQuota
from application.ports import Database
from domain.errors import DomainError, ValidationError
from domain.users import AccountChanges
from entrypoints.settings import Settings

if TYPE_CHECKING:
    from dishka import AsyncContainer

PAGE = 100
# What each flag command changes.
FLAG_CHANGES = {
    "disable": AccountChanges(is_active=False),
    "enable": AccountChanges(is_active=True),
    "promote": AccountChanges(is_admin=True),
    "demote": AccountChanges(is_admin=False),
}


def add_users_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    users = commands.add_parser(
        "users",
        help="manage accounts (create the first administrator, quotas, deactivation)",
        description="Manage accounts in the database at SCOREMATE_DATABASE_URL. Exit status: 0 done, 1 refused "
        "(unknown email, email taken, short password; the reason on stderr), 2 bad usage.",
    )
    actions = users.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="create an account", description="Create an account.")
    create.add_argument("email")
    create.add_argument("--admin", action="store_true", help="make it an administrator")
    create.add_argument("--quota", type=int, metavar="BYTES", help="its storage limit (default: the configured one)")
    create.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from the first line of standard input (else it is asked for on the terminal)",
    )
    actions.add_parser("list", help="list every account", description="List every account, oldest first.")
    set_quota = actions.add_parser("set-quota", help="set an account's storage limit")
    set_quota.add_argument("email")
    set_quota.add_argument("bytes", type=int, metavar="BYTES")
    for action, what in (
        ("disable", "deactivate an account: it cannot log in, and its tokens are refused"),
        ("enable", "activate an account again"),
        ("promote", "make an account an administrator"),
        ("demote", "take an account's administrator role away"),
    ):
        actions.add_parser(action, help=what, description=what[0].upper() + what[1:] + ".").add_argument("email")


async def run_users_command(settings: Settings, args: argparse.Namespace) -> int:
    from taskiq import InMemoryBroker

    from entrypoints.ioc import make_container  # the drivers, only for this command

    container = make_container(settings, InMemoryBroker())
    try:
        password = _password(args) if args.action == "create" else ""
        if settings.effective_database_url.startswith("sqlite"):
            await (await container.get(Database)).upgrade()  # as serve does, so the first step can be this one
        async with container() as request:
            if args.action == "create":
                await _create(request, args, password)
            elif args.action == "list":
                await _list(request, embedded=not settings.redis_url)
            elif args.action == "set-quota":
                await _change(request, args.email, AccountChanges(quota_limit_bytes=args.bytes))
            else:
                await _change(request, args.email, FLAG_CHANGES[args.action])
    except DomainError as error:
        print(f"scoremate users {args.action}: {error.detail}", file=sys.stderr)
        return 1
    finally:
        await container.close()
    return 0


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password = getpass.getpass("Password: ")
    if getpass.getpass("Password (again): ") != password:
        raise ValidationError("The passwords differ.")
    return password


async def _create(request: AsyncContainer, args: argparse.Namespace, password: str) -> None:
    create = await request.get(CreateUser)
    account = await create(args.email, password, is_admin=args.admin, quota_limit_bytes=args.quota)
    role = "administrator" if account.user.is_admin else "user"
    print(f"Created {role} {account.user.email} ({account.user.id}), quota {account.user.quota_limit_bytes} bytes.")


async def _change(request: AsyncContainer, email: str, changes: AccountChanges) -> None:
    user = await (await request.get(GetUser)).by_email(email, None)
    changed = (await (await request.get(ChangeUser))(user.user.id, changes, None)).user
    print(
        f"{changed.email}: {'active' if changed.is_active else 'deactivated'}, "
        f"{'administrator' if changed.is_admin else 'user'}, quota {changed.quota_limit_bytes} bytes."
    )


async def _list(request: AsyncContainer, *, embedded: bool) -> None:
    if embedded:  # this process's own ledger: counted from the database, as serve does at start
        await (await request.get(ReconcileQuota))()
    list_users = await request.get(ListUsers)
    print("email\tusername\tadmin\tactive\tquota_bytes\tused_bytes\tscores\tcreated_at")
    offset = 0
    while True:
        page = await list_users(None, PAGE, offset, None)
        for account in page.items:
            user = account.user
            print(
                f"{user.email}\t{user.username}\t{'yes' if user.is_admin else 'no'}\t"
                f"{'yes' if user.is_active else 'no'}\t{user.quota_limit_bytes}\t{account.quota.used_bytes}\t"
                f"{account.score_count}\t{user.created_at.isoformat()}"
            )
        offset += PAGE
        if offset >= page.total:
            return
