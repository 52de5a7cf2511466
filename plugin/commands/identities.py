"""`skillrelay identities`: how each system's people map to manifest people.

`skillrelay identities [--unmatched] [--json]` lists every learner and assignee the inbox
names, and the identities the store holds: which manifest person each one is and how that
was decided (a manifest id, an admin's mapping, the e-mail), or, for an unmatched one, how
many completions and tickets wait for it and the line an admin would add to the manifest.
`skillrelay identities map SYSTEM EXTERNAL_ID PERSON` records an admin's mapping in the
store. Either way the held events are evaluated again: nothing waiting is lost.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any, get_args

from plugin.domain import Completion, PersonRef, System, TicketTransition
from plugin.engine import Engine, IdentityResolver
from plugin.manifest import Manifest, load_manifest
from plugin.manifest.people import Person
from plugin.printable import printable
from plugin.replay import events_from_inbox
from plugin.settings import database_url, manifest_path
from plugin.store import Store

SYSTEMS: tuple[str, ...] = get_args(System)
REEVALUATED = (
    "Once a mapping is in the manifest (or recorded with `skillrelay identities map`), the "
    "events held for that id are evaluated again: nothing waiting is lost."
)


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "identities", help="how Jira, Moodle and xAPI people map to manifest people"
    )
    parser.add_argument("--unmatched", action="store_true", help="only ids no person claims")
    parser.add_argument("--json", action="store_true", help="JSON lines instead of text")
    _store_options(parser)
    parser.set_defaults(func=run)
    actions = parser.add_subparsers(dest="identities_action", metavar="ACTION")
    mapping = actions.add_parser("map", help="record which manifest person an external id is")
    mapping.add_argument("system", choices=SYSTEMS, metavar="SYSTEM", help="jira, moodle or xapi")
    mapping.add_argument("external_id", metavar="EXTERNAL_ID", help="as `identities` lists it")
    mapping.add_argument("person", metavar="PERSON", help="a person id from the manifest")
    _store_options(mapping, suppress=True)
    mapping.set_defaults(func=run_map)


def _store_options(parser: argparse.ArgumentParser, *, suppress: bool = False) -> None:
    # On `map` too; SUPPRESS keeps a value given before `map` from being reset.
    default: Any = argparse.SUPPRESS if suppress else None
    parser.add_argument(
        "--manifest", default=default, help="manifest file (default $SKILLRELAY_MANIFEST)"
    )
    parser.add_argument(
        "--database", default=default, help="database URL (default $SKILLRELAY_DATABASE_URL)"
    )


@dataclass
class Row:
    system: str
    external_id: str
    person: str | None  # manifest person id; None while unmatched
    matched_by: str | None  # manifest id | admin mapping | e-mail
    emails: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    events: int = 0  # stored completions and ticket changes naming this id
    waiting_completions: int = 0  # held until the id is mapped
    waiting_tickets: int = 0
    suggestion: dict[str, str] | None = None  # for an unmatched id: person, why, manifest line

    @property
    def ref(self) -> str:
        return f"{self.system}:{self.external_id}"


class Seen:
    """Every learner and assignee the events name, tallied while the engine reads them."""

    def __init__(self) -> None:
        self.refs: dict[tuple[str, str], Row] = {}

    def watch(
        self, events: Iterable[Completion | TicketTransition]
    ) -> Iterator[Completion | TicketTransition]:
        for event in events:
            ref = event.person if isinstance(event, Completion) else event.ticket.assignee
            if ref is not None:
                self._note(ref)
            yield event

    def _note(self, ref: PersonRef) -> None:
        row = self.refs.get((ref.system, ref.id))
        if row is None:
            row = self.refs[ref.system, ref.id] = Row(ref.system, ref.id, None, None)
        row.events += 1
        if ref.email and ref.email not in row.emails:
            row.emails.append(ref.email)
        if ref.display_name and ref.display_name not in row.names:
            row.names.append(ref.display_name)


def run(args: argparse.Namespace) -> int:
    manifest = load_manifest(manifest_path(args.manifest))
    with Store.open(database_url(args.database)) as store:
        rows = identity_rows(manifest, store)
    if args.unmatched:
        rows = [r for r in rows if r.person is None]
    if args.json:
        for row in rows:
            print(json.dumps(asdict(row), sort_keys=True))
        return 0
    if not rows:
        print("no unmatched ids" if args.unmatched else "no identities seen yet")
        return 0
    if not args.unmatched:
        print(render(rows))
    unmatched = [r for r in rows if r.person is None]
    for row in unmatched:
        print()
        print(describe_unmatched(row))
    if unmatched:
        print()
        print(REEVALUATED)
    return 0


def identity_rows(manifest: Manifest, store: Store) -> list[Row]:
    """One row per external id the events or the store's identities table name."""
    learned = store.identities.learned()
    seen = Seen()
    # plugin.replay.engine_from_inbox, with names and e-mails tallied in the same pass.
    last = store.inbox.last_id()
    engine = Engine(manifest, learned)
    engine.load(seen.watch(events_from_inbox(store, up_to_id=last)))
    rows = seen.refs
    for identity in store.identities.unmatched():
        row = rows.setdefault(
            (identity.system, identity.external_id),
            Row(identity.system, identity.external_id, None, None),
        )
        for value, found in ((identity.email, row.emails), (identity.display_name, row.names)):
            if value and value not in found:
                found.append(value)
    for system, ident in learned:
        rows.setdefault((system, ident), Row(system, ident, None, None))
    for waiting in engine.unresolved():
        row = rows.setdefault(
            (waiting.system, waiting.id), Row(waiting.system, waiting.id, None, None)
        )
        row.waiting_completions, row.waiting_tickets = waiting.completions, waiting.tickets
        row.emails += [e for e in waiting.emails if e not in row.emails]
    manifest_only = IdentityResolver(manifest)
    resolver = IdentityResolver(manifest, learned)
    for row in rows.values():
        row.person = resolver.lookup(row.system, row.external_id, row.emails)
        row.matched_by = _how(manifest_only, learned, row)
        if row.person is None:
            row.suggestion = suggest(manifest, row)
    return sorted(rows.values(), key=lambda r: (r.person is not None, r.system, r.external_id))


def _how(
    manifest_only: IdentityResolver, learned: dict[tuple[str, str], str], row: Row
) -> str | None:
    if row.person is None:
        return None
    if manifest_only.lookup(row.system, row.external_id) == row.person:
        return "manifest id"
    if learned.get((row.system, row.external_id)) == row.person:
        return "admin mapping"
    return "e-mail"


def suggest(manifest: Manifest, row: Row) -> dict[str, str]:
    """Who an unmatched id probably is (from its e-mails and names), and the manifest line."""
    person, why = _likely_person(manifest, row)
    found = {"line": manifest_line(manifest, row.system, row.external_id) or ""}
    if person is not None:
        found |= {"person": person.id, "why": why}
    return found


def _likely_person(manifest: Manifest, row: Row) -> tuple[Person | None, str]:
    people = manifest.identities.people
    emails = {e.casefold() for e in row.emails}
    if row.system == "xapi" and row.external_id.casefold().startswith("mbox:mailto:"):
        emails.add(row.external_id[len("mbox:mailto:") :].casefold())
    for person in people:
        if person.email.casefold() in emails:
            return person, f"same e-mail {person.email}"
    local = {e.partition("@")[0] for e in emails}
    for person in people:
        if person.email.casefold().partition("@")[0] in local:
            return person, f"e-mail name like {person.email}"
    names = {n.casefold(): n for n in row.names}
    by_name = {p.name.casefold(): p for p in people}
    for name in names:
        if name in by_name:
            return by_name[name], f"same name {by_name[name].name}"
    for name in names:
        close = difflib.get_close_matches(name, list(by_name), n=1, cutoff=0.8)
        if close:
            return by_name[close[0]], f"name {names[name]} is close to {by_name[close[0]].name}"
    return None, ""


def manifest_line(manifest: Manifest, system: str, ident: str) -> str | None:
    """The `identities.people[]` field that claims this id, or None if none can."""
    if system == "jira":
        return f"jira_account_id: {json.dumps(ident)}"
    if system == "moodle":
        return f"moodle_user_id: {ident}" if ident.isdigit() else None
    if ident.startswith("mbox:"):
        return f"xapi_mbox: {json.dumps(ident[len('mbox:') :])}"
    if ident.startswith("account:"):
        home, _, name = ident[len("account:") :].rpartition("|")
        moodle = manifest.moodle
        if moodle and home.rstrip("/").lower() == moodle.url.rstrip("/").lower() and name.isdigit():
            return f"moodle_user_id: {name}"
        return f"xapi_account: {{home_page: {json.dumps(home)}, name: {json.dumps(name)}}}"
    return None  # mbox_sha1sum, openid: no manifest field; `identities map` records them


def describe_unmatched(row: Row) -> str:
    seen = ", ".join([*row.names, *row.emails]) or "no name or e-mail seen"
    lines = [f"{row.ref} ({seen}): {_waiting(row)}"]
    hint = row.suggestion or {}
    person, line = hint.get("person"), hint.get("line")
    target = person or "PERSON"
    if line:
        under = f"under `- id: {person}` ({hint['why']})" if person else "under the person's entry"
        lines.append(f"  add to the manifest, in identities.people, {under}:")
        lines.append(f"      {line}")
        lines.append(
            f"  or record it: skillrelay identities map {row.system} {row.external_id} {target}"
        )
    else:
        lines.append(
            f"  record it: skillrelay identities map {row.system} {row.external_id} {target}"
        )
    # Names, e-mails and ids come from Jira and the LRS: shown escaped, one line each.
    return "\n".join(printable(line) for line in lines)


def _waiting(row: Row) -> str:
    parts = []
    for n, what in ((row.waiting_completions, "completion"), (row.waiting_tickets, "done ticket")):
        if n:
            parts.append(f"{n} {what}{'s' if n != 1 else ''}")
    if not parts:
        return f"{row.events} events name it, none waiting"
    verb = "waits" if row.waiting_completions + row.waiting_tickets == 1 else "wait"
    return f"{' and '.join(parts)} {verb} for a mapping ({row.events} events name it)"


def render(rows: list[Row]) -> str:
    header = ("system", "external id", "person", "matched by", "seen as", "events")
    table = [header] + [
        (
            r.system,
            printable(r.external_id),
            r.person or "? unmatched",
            r.matched_by or "-",
            printable(", ".join([*r.names, *r.emails])) or "-",
            str(r.events),
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in table
    )


def run_map(args: argparse.Namespace) -> int:
    manifest = load_manifest(manifest_path(args.manifest))
    system, ident, person = args.system, args.external_id.strip(), args.person.strip()
    if not ident:
        print("skillrelay: EXTERNAL_ID is empty", file=sys.stderr)
        return 2
    shown = printable(ident)  # pasted from a listing: may carry what the source sent
    if person not in manifest.people_by_id:
        print(
            f"skillrelay: unknown person {person!r}: {_close_people(manifest, person)}",
            file=sys.stderr,
        )
        return 2
    claimed = IdentityResolver(manifest).lookup(system, ident)
    if claimed == person:
        print(f"{system}:{shown} is already {person} in the manifest; nothing to record")
        return 0
    if claimed is not None:
        print(
            f"skillrelay: the manifest says {system}:{shown} is {claimed}, and the manifest's "
            "ids win over a recorded mapping: change the manifest instead",
            file=sys.stderr,
        )
        return 2
    with Store.open(database_url(args.database)) as store:
        before = store.identities.get(system, ident)
        store.identities.map(system, ident, person)
    was = before.person_id if before and before.person_id else "unmatched"
    print(f"recorded: {system}:{shown} is {person} (was {was})")
    print(REEVALUATED)
    return 0


def _close_people(manifest: Manifest, given: str) -> str:
    people = manifest.identities.people
    keys = {}
    for p in people:
        for key in (p.id, p.name, p.email, p.email.partition("@")[0]):
            keys[key.casefold()] = p
    wanted = given.casefold()
    close = [keys[k] for k in difflib.get_close_matches(wanted, list(keys), n=5, cutoff=0.6)]
    close += [p for k, p in keys.items() if wanted in k]
    found = list(dict.fromkeys(close))
    if found:
        return "close matches: " + ", ".join(f"{p.id} ({p.name})" for p in found[:5])
    some = ", ".join(p.id for p in people[:10])
    more = ", ..." if len(people) > 10 else ""
    return f"no close match; manifest people: {some or '(none)'}{more}"
