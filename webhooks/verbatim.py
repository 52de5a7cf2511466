"""The parts of a body the inbox keeps as `raw`, as the bytes received: sliced out of the body
the sender signed, never decoded and encoded again (JsonText).

msgspec.Raw is a value's bytes, left undecoded. Only bodies that passed the door
(webhooks.door.decode) come here, so each slice is valid, storable JSON; a body the slicer
cannot read (one that starts with a byte-order mark) gives None, and the caller keeps the
decoded value instead.
"""

from __future__ import annotations

import codecs

import msgspec

from plugin.store.models import JsonText


class _Issue(msgspec.Struct):
    issue: msgspec.Raw = msgspec.Raw()


_ISSUE = msgspec.json.Decoder(_Issue)
_ITEMS = msgspec.json.Decoder(list[msgspec.Raw])


def issue(body: bytes) -> JsonText | None:
    """The text of the body's `issue` member (a Jira webhook's issue)."""
    try:
        found = _ISSUE.decode(body).issue
    except msgspec.DecodeError:
        return None
    return _text(found) if len(found) else None


def items(body: bytes) -> list[JsonText] | None:
    """The text of each item of a body that is an array (statements an LRS forwards)."""
    try:
        return [_text(item) for item in _ITEMS.decode(body)]
    except msgspec.DecodeError:
        return None


def whole(body: bytes) -> JsonText:
    """The body's text, less a leading byte-order mark (which JSON text may not start with)."""
    return JsonText(body.removeprefix(codecs.BOM_UTF8).decode("utf-8"))


def _text(raw: msgspec.Raw) -> JsonText:
    return JsonText(bytes(raw).decode("utf-8"))
