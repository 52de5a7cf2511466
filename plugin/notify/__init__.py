"""Learner and manager support messages: when to send them, and their words."""
