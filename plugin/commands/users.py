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
        action.add_argument(
            "--password-stdin", action="store_true", help="read the password from standard input"
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
    hashed = hash_password(read_password(args.password_stdin))
    with Store.open(database_url(args.database)) as store, store.transaction() as conn:
        store.users.add(person, hashed, is_admin=args.admin, conn=conn)
        store.audit.add(None, "user.add", person, {"admin": args.admin}, "cli", conn=conn)
    print(f"{person} may now sign in to the web UI{' as an admin' if args.admin else ''}")
    return 0


def run_passwd(args: argparse.Namespace) -> int:
    person = _person(args)
    hashed = hash_password(read_password(args.password_stdin))
    with Store.open(database_url(args.database)) as store, store.transaction() as conn:
        store.users.set_password(person, hashed, conn=conn)
        store.audit.add(None, "user.passwd", person, None, "cli", conn=conn)
    print(f"{person}'s password changed; their open sessions end")
    return 0
