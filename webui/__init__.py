"""The web UI: managers approve awards and record check-ins; learners see their own awards.

Server-rendered pages under /ui/, mounted by `webhooks.create_app` only when UI_SECRET_KEY
(SKILLRELAY_UI_SECRET_KEY) is set. Local accounts (`skillrelay users add`), Argon2 hashes,
signed session cookies, CSRF tokens on every form, roles worked out from the manifest on
every request, and an audit row for every sign-in and action.
"""

from webui.app import UI_EXTENSION, init_app

__all__ = ["UI_EXTENSION", "init_app"]
