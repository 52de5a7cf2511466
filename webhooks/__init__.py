"""The Flask app that receives Jira and LRS webhooks into the inbox: `create_app()`."""

from webhooks.app import create_app

__all__ = ["create_app"]
