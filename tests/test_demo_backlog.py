"""The demo's offline "apply it now": the same conditions as the Jira search it stands for."""

from __future__ import annotations

from plugin.demo.backlog import BACKLOG, Open, offline_suggest
from plugin.manifest import load_manifest
from plugin.notify.suggest import MAX_TICKETS
from plugin.settings import EXAMPLE_MANIFEST

MANIFEST = load_manifest(EXAMPLE_MANIFEST)


def keys(skill: str, person: str, backlog: tuple[Open, ...] = BACKLOG) -> list[str]:
    return [t["key"] for t in offline_suggest(MANIFEST, backlog)(skill, person)]


def test_open_tickets_showing_the_skill_are_suggested_with_links() -> None:
    found = offline_suggest(MANIFEST)("sql-indexing", "ben.carter")
    assert [t["key"] for t in found] == ["PAY-431", "PAY-436"]  # by label, by component
    assert found[0]["url"] == "https://northwind.atlassian.net/browse/PAY-431"
    assert found[0]["summary"] == "Speed up the refund search by merchant"


def test_the_skills_own_jql_narrows_the_mapping() -> None:
    assert keys("incident-postmortems", "elena.petrova") == ["RISK-52"]
    story = Open("RISK-60", "A story, not a review", labels=("skill-postmortem",))
    assert keys("incident-postmortems", "elena.petrova", (story,)) == []


def test_done_tickets_and_other_peoples_tickets_are_never_suggested() -> None:
    assert keys("accessible-ui", "hana.sato") == ["WEB-220"]  # WEB-199 is done
    assert keys("secrets-handling", "george.lin") == ["RISK-48"]  # RISK-49 is Kofi's
    assert keys("secrets-handling", "ben.carter") == []  # both are someone else's


def test_tickets_outside_the_manifests_projects_are_left_out_and_at_most_three_come() -> None:
    outside = Open("OPS-1", "Index the audit log", labels=("skill-sql-indexing",))
    many = tuple(Open(f"PAY-{n}", "x", labels=("skill-sql-indexing",)) for n in range(5))
    assert keys("sql-indexing", "ben.carter", (outside,)) == []
    assert len(keys("sql-indexing", "ben.carter", many)) == MAX_TICKETS
