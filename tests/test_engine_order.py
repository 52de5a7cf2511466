"""Order independence: the decisions are a pure function of the SET of events.

Generated event logs (several people, skills and tickets; failed and withdrawn completions;
reopened tickets; duplicates and natural-key collisions) with tight caps, budgets and
cooldowns so they bind. Sorted vs shuffled, batch vs one by one, relearn vs learned from
the start, and the changes `add` reports must rebuild the same table.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from plugin.engine import CompletionFact, Decision, Engine, Fact, Ref, evaluate_all
from plugin.engine.facts import TicketFact, TransitionFact
from tests.test_engine_support import (
    ALICE_JIRA,
    ALICE_MOODLE,
    BOB_JIRA,
    BOB_MOODLE,
    MOODLE_URL,
    NOBODY,
    at,
    make_manifest,
)

LEARNERS = [
    ALICE_MOODLE,
    ALICE_MOODLE,
    BOB_MOODLE,
    BOB_MOODLE,
    Ref("xapi", f"account:{MOODLE_URL}|1"),
    Ref("xapi", "mbox:mailto:carol@coach.example"),
    Ref("xapi", "account:https://sso.example|d42"),
    Ref("xapi", "mbox_sha1sum:0123abcd"),
    Ref("moodle", "2", "bob@example.com"),
]
# acc-bob resolves by e-mail only once some event carries it; acc-stranger needs LEARNED.
ASSIGNEES = [ALICE_JIRA, ALICE_JIRA, BOB_JIRA, Ref("jira", "acc-bob"), NOBODY, None]
LEARNED = {("jira", "acc-stranger"): "carol", ("xapi", "mbox_sha1sum:0123abcd"): "alice"}
MODULES = [
    "moodle:cm:11",
    f"{MOODLE_URL}/mod/page/view.php?id=11",
    "moodle:cm:12",
    "moodle:cm:21",
    "moodle:cm:21",
    "moodle:cm:31",
    "moodle:cm:99",
]
MOVES = [
    ("new", "indeterminate"),
    ("new", "indeterminate"),
    ("indeterminate", "done"),
    ("indeterminate", "done"),
    ("indeterminate", "done"),
    ("done", "indeterminate"),
    ("new", "done"),
    ("indeterminate", "new"),
    (None, "done"),
    ("done", None),
]
MANIFESTS = [
    make_manifest(max_awards_per_person_per_sprint=1, apply_window_days=10),
    make_manifest(max_awards_per_person_per_sprint=2, min_in_progress_minutes=60),
    make_manifest(max_awards_per_person_per_sprint=3, cooldown_days=4, apply_window_days=3),
]
HOUR = 3_600_000_000
hours = st.integers(0, 40).map(lambda n: at(hours=12 * n))  # three sprints

completions = st.builds(
    CompletionFact,
    key=st.integers(0, 30).map(lambda n: f"c{n}"),
    source=st.sampled_from(["moodle", "xapi"]),
    person=st.sampled_from(LEARNERS),
    module=st.sampled_from(MODULES),
    state=st.sampled_from(["complete", "complete", "passed", "failed", "incomplete"]),
    at=hours,
)


@st.composite
def transitions(draw: Any) -> TransitionFact:
    number = draw(st.integers(1, 4))
    labels = draw(st.lists(st.sampled_from(["skill-sql", "skill-flags", "misc"]), max_size=3))
    snap = TicketFact(
        id=str(number),
        key=f"{'WEB' if number == 3 else 'PAY'}-{number}",
        status="Done",
        resolution=draw(st.sampled_from(["Done", "Done", "Done", "Duplicate", None])),
        assignee=draw(st.sampled_from(ASSIGNEES)),
        labels=tuple(labels),
        components=draw(st.sampled_from([(), ("Ledger DB",)])),
        fields=draw(st.sampled_from([{}, {"issuetype": "Post-incident review"}])),
    )
    before, after = draw(st.sampled_from(MOVES))
    key = f"t{draw(st.integers(0, 40))}"
    return TransitionFact(key, snap, before, after, draw(hours))


PEOPLE = [(ALICE_JIRA, ALICE_MOODLE), (BOB_JIRA, BOB_MOODLE)]
SKILLS = [("skill-sql", "moodle:cm:12"), ("skill-flags", "moodle:cm:21")]


@st.composite
def lifecycle(draw: Any) -> list[Fact]:
    """A learner completes a module, then works a ticket showing its skill (and maybe
    reopens it): the happy path, so awards happen and caps, budgets and cooldowns bind."""
    number = draw(st.integers(1, 10))
    jira, learner = draw(st.sampled_from(PEOPLE))
    label, module = draw(st.sampled_from(SKILLS))
    start = draw(hours)
    snap = TicketFact(
        id=str(number),
        key=f"PAY-{number}",
        status="Done",
        resolution="Done",
        assignee=jira,
        labels=(label,),
    )
    learnt = start - draw(st.integers(0, 8)) * 12 * HOUR
    done = start + draw(st.integers(1, 60)) * HOUR
    found: list[Fact] = [
        CompletionFact(f"l{number}-{learnt}", "moodle", learner, module, "complete", learnt),
        TransitionFact(f"t{number}-0", snap, "new", "indeterminate", start),
        TransitionFact(f"t{number}-1", snap, "indeterminate", "done", done),
    ]
    if draw(st.booleans()):
        back = done + draw(st.integers(1, 48)) * HOUR
        found.append(TransitionFact(f"t{number}-2", snap, "done", "indeterminate", back))
        if draw(st.booleans()):
            found.append(TransitionFact(f"t{number}-3", snap, "indeterminate", "done", back + 1))
    return found


noise = st.lists(st.one_of(completions, transitions()), max_size=25)
events = st.builds(
    lambda happy, other: [e for group in happy for e in group] + other,
    st.lists(lifecycle(), max_size=12),
    noise,
).filter(bool)


def table(found: list[Decision]) -> dict[tuple[str, str, str], Decision]:
    result = {d.key: d for d in found}
    assert len(result) == len(found), "one decision per (person, skill, ticket)"
    return result


def one_by_one(manifest_index: int, log: list[Fact]) -> Engine:
    engine = Engine(MANIFESTS[manifest_index])
    ledger: dict[tuple[str, str, str], Decision] = {}
    for event in log:
        for decision in engine.add(event):
            ledger[decision.key] = decision
    final = table(engine.decisions())
    # Applying what add() reported rebuilds the table, so a ledger can follow it.
    assert {k: d for k, d in ledger.items() if k in final} == final
    assert {k for k, d in ledger.items() if d.awarded} == {d.key for d in engine.awards()}
    return engine


SETTINGS = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(log=events, variant=st.integers(0, 2), data=st.data())
def test_any_order_and_duplicates_give_the_same_decisions(
    log: list[Fact], variant: int, data: st.DataObject
) -> None:
    extra = data.draw(st.lists(st.sampled_from(log), max_size=10))
    shuffled = data.draw(st.permutations(log + extra))
    canonical = sorted(log, key=lambda e: (e.at, e.key, repr(e)))
    batch = evaluate_all(MANIFESTS[variant], canonical)
    assert evaluate_all(MANIFESTS[variant], shuffled) == batch
    incremental = one_by_one(variant, shuffled)
    assert incremental.decisions() == batch
    assert incremental.awards() == [d for d in batch if d.awarded]
    assert one_by_one(variant, canonical).decisions() == batch
    assert len({(d.person, d.skill, d.ticket) for d in batch if d.awarded}) == len(
        [d for d in batch if d.awarded]
    )


@SETTINGS
@given(log=events, variant=st.integers(0, 2), data=st.data())
def test_relearning_equals_knowing_from_the_start(
    log: list[Fact], variant: int, data: st.DataObject
) -> None:
    manifest = MANIFESTS[variant]
    cut = data.draw(st.integers(0, len(log)))
    engine = Engine(manifest)
    for event in log[:cut]:
        engine.add(event)
    engine.relearn(LEARNED)
    for event in log[cut:]:
        engine.add(event)
    assert engine.decisions() == evaluate_all(manifest, log, LEARNED)
    batch = Engine(manifest)
    batch.load(log)
    batch.relearn(LEARNED)
    assert batch.decisions() == engine.decisions()
