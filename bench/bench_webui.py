"""The web UI at 100,000 people and 1,000,000 awards: server time per page, p50 and p95.

The store (SQLite, one file) is filled once by bench/webui_org.py: teams of 50 managed by
their first member, awards over a year in every state (about 1 in 100 waiting for a
manager), one history row each, 300 dead effects. The pages are asked in-process through
Flask's test client, so the time is the server's own (routing, session, the queries,
rendering), without a network or a load generator to share the two cores with. Each round
asks every page `REQUESTS` times, interleaved page by page; the reference is the sign-in
page (the same application, session and template work, no query), so each page's p95 is
also given as a ratio to it, min/median/max over the rounds.

    python -m bench webui [--scale 0.01]
"""

from __future__ import annotations

import gc
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from flask.testing import FlaskClient

from bench.webui_org import fill, manifest
from plugin.manifest import Manifest
from plugin.store import Store
from plugin.store.migrate import upgrade
from webhooks import create_app
from webui.passwords import hash_password

ROUNDS = 3
REQUESTS = 40
PEOPLE, AWARDS = 100_000, 1_000_000
PASSWORD = "a bench password"  # a local throwaway account
KEY = "b" * 40
MANAGER, ADMIN = "p0", "p99"  # p0 manages team-0; p99 is an admin and manages nobody


NOTE = (
    "The dashboard keeps its sprint funnel (one grouped query over the sprint's learning "
    "events) for up to a minute, or until a new event arrives or an identity is mapped; "
    "the other figures are grouped counts and pages of at most 100 rows, every view. "
    "Awards carry their explanation (evidence.why), so the approvals page replays nothing."
)


@dataclass(frozen=True)
class Page:
    label: str
    who: str | None  # None: signed out
    path: str


PAGES = (
    Page("reference: sign-in page (signed out)", None, "/ui/login"),
    Page("approvals, a manager (team of 50)", MANAGER, "/ui/approvals"),
    Page("approvals, an admin (every waiting award)", ADMIN, "/ui/approvals"),
    Page("dashboard, a manager", MANAGER, "/ui/dashboard"),
    Page("dashboard, an admin", ADMIN, "/ui/dashboard"),
    Page("ledger, an admin (first page, no filter)", ADMIN, "/ui/ledger"),
    Page("ledger, a manager, filtered by state", MANAGER, "/ui/ledger?state=approved"),
)


def _client(app: object, who: str | None) -> FlaskClient:
    from flask import Flask

    assert isinstance(app, Flask)
    client = app.test_client()
    if who is not None:
        page = client.get("/ui/login").get_data(as_text=True)
        token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        form = {"person": who, "password": PASSWORD, "csrf_token": token}
        answer = client.post("/ui/login", data=form)
        if answer.status_code != 303:
            raise RuntimeError(f"signing in as {who} answered {answer.status_code}")
    return client


def _timed(get: Callable[[], int]) -> float:
    started = time.perf_counter()
    status = get()
    took = time.perf_counter() - started
    if status != 200:
        raise RuntimeError(f"the page answered {status}")
    return took


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _spread(values: list[float], fmt: str) -> str:
    return (
        f"{fmt.format(statistics.median(values))} (min {fmt.format(min(values))}, "
        f"max {fmt.format(max(values))})"
    )


def measure(scale: float, rounds: int = ROUNDS, requests: int = REQUESTS) -> str:
    people, count = max(200, int(PEOPLE * scale)), max(2_000, int(AWARDS * scale))
    with tempfile.TemporaryDirectory(prefix="skillrelay-bench-webui-") as folder:
        url = f"sqlite:///{Path(folder) / 'store.db'}"
        upgrade(url)
        org = Manifest.model_validate(manifest(people))
        with Store.open(url) as store:
            started = time.perf_counter()
            waiting = fill(store, people, count)
            filled = time.perf_counter() - started
            hashed = hash_password(PASSWORD)
            store.users.add(MANAGER, hashed)
            store.users.add(ADMIN, hashed, is_admin=True)
            settings = {"ALLOW_UNSIGNED": True, "UI_SECRET_KEY": KEY, "UI_INSECURE_HTTP": True}
            app = create_app(settings, store=store, manifest=org, env={})
            clients = {who: _client(app, who) for who in {p.who for p in PAGES}}
            times: dict[str, list[list[float]]] = {p.label: [] for p in PAGES}
            for r in range(rounds):
                per_round: dict[str, list[float]] = {p.label: [] for p in PAGES}
                order = PAGES[r % len(PAGES) :] + PAGES[: r % len(PAGES)]
                gc.collect()
                for _ in range(requests):
                    for page in order:
                        client = clients[page.who]
                        per_round[page.label].append(
                            _timed(lambda c=client, p=page.path: c.get(p).status_code)
                        )
                for label, values in per_round.items():
                    times[label].append(values)
    return _section(times, people, count, waiting, filled, rounds, requests)


def _section(
    times: dict[str, list[list[float]]],
    people: int,
    count: int,
    waiting: int,
    filled: float,
    rounds: int,
    requests: int,
) -> str:
    reference = PAGES[0].label
    ref_p95 = [_p(v, 0.95) for v in times[reference]]
    lines = [
        f"{rounds} interleaved rounds of {requests} requests a page, in-process (Flask test "
        f"client), SQLite. {people:,} people in teams of 50, {count:,} awards "
        f"({waiting:,} waiting for approval), one history row each, 300 dead effects; "
        f"stored in {filled:.0f} s.",
        "",
        "| page | p50 ms | p95 ms | p95 / reference |",
        "|---|---:|---:|---:|",
    ]
    for page in PAGES:
        rounds_of = times[page.label]
        p50 = [_p(v, 0.5) * 1000 for v in rounds_of]
        p95 = [_p(v, 0.95) * 1000 for v in rounds_of]
        ratio = [_p(v, 0.95) / ref for v, ref in zip(rounds_of, ref_p95, strict=True)]
        shown = "—" if page.label == reference else _spread(ratio, "{:.1f}×")
        lines.append(
            f"| {page.label} | {_spread(p50, '{:.1f}')} | {_spread(p95, '{:.1f}')} | {shown} |"
        )
    lines += ["", NOTE]
    return "\n".join(lines)


def run(scale: float) -> str:
    return measure(scale)
