"""Shared fixtures. Real peers (PostgreSQL, Ralph) are started once per session by plugins;
tests/skip_policy.py turns a skip (a missing peer or file) into a failure."""

pytest_plugins = ["tests.peers.postgres", "tests.peers.ralph", "tests.skip_policy"]
