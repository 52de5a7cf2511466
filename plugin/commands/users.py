"""`skillrelay users`: local accounts for the web UI (add one, change a password)."""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from plugin.errors import ConfigError
from plugin.manifest import load_manifest
from plugin.settings import database_url, manifest_path
from plugin.store import Store
from plugin.store.users import NO_PASSWORD
from webui.passwords import hash_password, weak


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "users", help="web UI accounts: add one, change a password"
    )
    actions = parser.add_subparsers(dest="users_command", metavar="ACTION", required=True)
    add = actions.add_parser("add", help="an account for a manifest person")
    add.add_argument("--admin", action="store_true", help="may see everything and the audit")
    passwd = actions.add_parser("passwd", help="change a person's password")
    for action, func in ((add, run_add), (passwd, run_passwd)):
        action.add_argument("person", metavar="PERSON", help="manifest person id")
        password = action.add_mutually_exclusive_group()
        password.add_argument(
            "--password-stdin", action="store_true", help="read the password from standard input"
        )
        if action is add:
            password.add_argument(
                "--sso-only",
                action="store_true",
                help="no password: the person signs in by single sign-on only (with --admin, "
                "an admin who never has a skillrelay password)",
            )
        action.add_argument("--manifest", help="manifest file (default $SKILLRELAY_MANIFEST)")
        action.add_argument("--database", help="database URL (default $SKILLRELAY_DATABASE_URL)")
        action.set_defaults(func=func)


def read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    problem = weak(first)
    if problem:
        raise ConfigError(problem)
    if getpass.getpass("Password again: ") != first:
        raise ConfigError("the passwords differ; nothing was changed")
    return first


def _person(args: argparse.Namespace) -> str:
    manifest = load_manifest(manifest_path(args.manifest))
    if args.person not in manifest.people_by_id:
        raise ConfigError(f"{args.person} is not a person in the manifest")
    return str(args.person)


def run_add(args: argparse.Namespace) -> int:
    person = _person(args)
    sso_only = bool(args.sso_only)
    hashed = NO_PASSWORD if sso_only else hash_password(read_password(args.password_stdin))
    detail = {"admin": args.admin, "sso_only": True} if sso_only else {"admin": args.admin}
    with Store.open(database_url(args.database)) as store, store.transaction() as conn:
        store.users.add(person, hashed, is_admin=args.admin, conn=conn)
        store.audit.add(None, "user.add", person, detail, "cli", conn=conn)
    role = " as an admin" if args.admin else ""
    how = " by single sign-on only" if sso_only else ""
    print(f"{person} may now sign in to the web UI{role}{how}")
    return 0


def run_passwd(args: argparse.Namespace) -> int:
    person = _person(args)
    hashed = hash_password(read_password(args.password_stdin))
    with Store.open(database_url(args.database)) as store, store.transaction() as conn:
        store.users.set_password(person, hashed, conn=conn)
        store.audit.add(None, "user.passwd", person, None, "cli", conn=conn)
    print(f"{person}'s password changed; their open sessions end")
    return 0
