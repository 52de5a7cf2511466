"""Each award keeps the words of `skillrelay explain` for the decision that granted it, so the
approvals page can show why without rebuilding the engine from the whole inbox."""

from __future__ import annotations

from plugin.engine.explain import explain_one
from plugin.replay import engine_from_inbox
from plugin.store import Store
from tests.test_pipeline_support import MANIFEST, northwind


def test_an_award_keeps_the_explanation_of_its_decision(store: Store) -> None:
    awards = northwind(store)
    engine, _ = engine_from_inbox(store, MANIFEST)
    said = {(d.person, d.skill, d.ticket): explain_one(d) for d in engine.decisions() if d.awarded}
    assert awards
    for award_id in awards.values():
        award = store.awards.get(award_id)
        assert award is not None and award.evidence is not None
        why = award.evidence["why"]
        assert why == said[(award.person_id, award.skill_id, award.ticket_key)]
        assert award.ticket_key in why and "awarded" in why.lower()
