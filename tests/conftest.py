"""Shared fixtures. Real peers (PostgreSQL, Ralph) are started once per session by plugins."""

pytest_plugins = ["tests.peers.postgres", "tests.peers.ralph"]
