"""The unsubscribe link: signed, works without a login, once; a forged one changes nothing.
Served by the real webhook app (a real HTTP server in the e-mail tests' end-to-end run)."""

from __future__ import annotations

from flask.testing import FlaskClient

from plugin.manifest import Manifest
from plugin.notify.unsubscribe import link, token
from plugin.store import Store
from tests.test_webhooks_support import make_app, manifest

__all__ = ["manifest"]  # fixture shared from the support module

SECRET = "unsubscribe-secret-0123456789abcdef"


def client(store: Store, manifest: Manifest, **config: str) -> FlaskClient:
    return make_app(store, manifest, UNSUBSCRIBE_SECRET=SECRET, **config).test_client()


def test_the_link_asks_then_unsubscribes_once(store: Store, manifest: Manifest) -> None:
    web = client(store, manifest)
    url = link("https://relay.example", SECRET.encode(), "ben.carter", "stalled_reminder")
    path = url.removeprefix("https://relay.example")
    page = web.get(path)
    assert page.status_code == 200 and b"stalled reminder" in page.data
    assert store.optouts.all() == {}  # looking at the page changes nothing
    done = web.post(path, data="List-Unsubscribe=One-Click")
    assert done.status_code == 200 and b"Done: no more" in done.data
    assert store.optouts.all() == {"ben.carter": frozenset({"stalled_reminder"})}
    again = web.post(path)
    assert again.status_code == 200 and b"already unsubscribed" in again.data


def test_a_forged_or_altered_link_is_refused(store: Store, manifest: Manifest) -> None:
    web = client(store, manifest)
    forged = token(b"another-secret-entirely-000000", "ben.carter", "awarded")
    genuine = token(SECRET.encode(), "ben.carter", "awarded")
    other = token(SECRET.encode(), "chloe.nguyen", "awarded")
    spliced = genuine.split(".")[0][:-2] + "x." + other.split(".")[1]
    for bad in (forged, spliced, "nonsense", genuine + "x"):
        answer = web.post(f"/unsubscribe/{bad}")
        assert answer.status_code == 400, bad
        assert answer.json == {
            "error": "bad_link",
            "message": "this unsubscribe link is not one skillrelay made",
        }
    assert store.optouts.all() == {}


def test_links_are_off_without_a_secret(store: Store, manifest: Manifest) -> None:
    web = make_app(store, manifest).test_client()
    answer = web.get("/unsubscribe/" + token(SECRET.encode(), "ben.carter", "awarded"))
    assert answer.status_code == 404 and answer.json is not None
    assert answer.json["error"] == "not_found"
