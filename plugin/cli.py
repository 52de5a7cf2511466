"""The `skillrelay` command: a thin argparse shell over the subcommand modules."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from plugin import __version__, logs
from plugin.errors import ConfigError, SkillrelayError
from plugin.printable import printable

# Each module in plugin.commands exposes register(subparsers) and sets `func` on its parser.
COMMAND_MODULES = [
    "manifest",
    "db",
    "sync",
    "import_",
    "events",
    "explain",
    "identities",
    "awards",
    "sprint",
    "report",
    "review",
    "notifications",
    "users",
    "outbox",
    "serve",
    "worker",
    "demo",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="skillrelay",
        description="Learn a skill, apply it in a Jira ticket, earn a reward that counts at work.",
    )
    parser.add_argument("--version", action="version", version=f"skillrelay {__version__}")
    parser.add_argument("--log-level", default="WARNING", help="DEBUG, INFO, WARNING (default)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(f"plugin.commands.{name}").register(sub)
    return parser


PIPE_CLOSED = 141  # what a shell reports for a program stopped by SIGPIPE (128 + 13)


def _safe(message: str) -> str:
    # Messages may quote outside text (a reason phrase, a key): escape it, keep our own lines.
    return "\n".join(printable(line) for line in message.split("\n"))


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logs.configure(args.log_level)
    try:
        code: int = args.func(args)
        sys.stdout.flush()  # here, where a closed reader is caught, not at exit
    except BrokenPipeError:
        # The reader went away (`skillrelay events | head`): stop quietly, as Unix tools
        # do; stdout points at /dev/null so the flush at exit has nothing to complain of.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return PIPE_CLOSED
    except ConfigError as exc:
        # One `file:line: field: message` line per problem, so editors can jump to each.
        print(_safe(str(exc)), file=sys.stderr)
        return exc.exit_code
    except SkillrelayError as exc:
        print(f"skillrelay: {_safe(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
