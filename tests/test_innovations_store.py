"""The Carrefour's relational store, on SQLite files and on our own PostgreSQL server.

Every test runs on both backends, each on a database of its own. The fixtures
(``store_url``, ``clock``, ``store``, ``hasher``) are imported by the other
``test_innovations_*`` files of the store.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from argon2 import PasswordHasher
from sqlalchemy import inspect, select
from sqlalchemy.exc import StatementError

from cohesion.errors import CohesionError, ConflictError, NotFoundError
from cohesion.innovations.accounts import Accounts
from cohesion.innovations.records import Harvest, Record, RowFailure
from cohesion.innovations.store import (
    CarrefourStore,
    MergeEvent,
    catalogue,
    head_revision,
)
from cohesion.innovations.store.models import Base, RecordRow
from cohesion.innovations.store.schema import store_url as parse_url

SOURCE = "rss-demo"
TABLES = {"accounts", "sessions", "login_throttle", "records", "harvest_runs", "entities",
          "entity_members", "merge_events", "review_pairs", "edit_proposals", "reports",
          "audit_log", "profiles", "alembic_version"}


class Clock:
    """A clock the test moves forward by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """A new empty database: a SQLite file, or a database on the session's PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'carrefour.sqlite'}"
    server = request.getfixturevalue("postgres_server")
    return server.create_database(f"t_{uuid.uuid4().hex}")


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2025, 3, 3, 9, 0, tzinfo=UTC))


@pytest.fixture
def store(store_url: str, clock: Clock) -> Iterator[CarrefourStore]:
    with CarrefourStore(store_url, clock=clock) as opened:
        opened.migrate()
        yield opened


@pytest.fixture(scope="session")
def hasher() -> PasswordHasher:
    """argon2id with tiny costs: the tests check behaviour, not strength."""
    return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def record(key: str, title: str | None = None, source: str = SOURCE, **fields) -> Record:
    return Record(id=f"{source}:{key}", source=source, source_key=key,
                  title=title or f"Projet {key}", domaines=["alimentation"],
                  **({"raw": {"key": key}} | fields))


def harvest(*records: Record, **fields) -> Harvest:
    return Harvest(SOURCE, list(records), **fields)


def snapshot(store: CarrefourStore) -> tuple[list[dict], int]:
    records = sorted((r.as_dict() for r in store.records(statuses=("published", "gone"))),
                     key=lambda r: r["id"])
    return records, len(store.runs(limit=1000))


# -- schema ----------------------------------------------------------------------------


def test_migrations_create_the_schema_of_the_models(store: CarrefourStore) -> None:
    assert set(inspect(store.engine).get_table_names()) == TABLES
    assert store.revision() == head_revision() == "0001"
    store.migrate()  # at head: nothing to do
    store.check()
    with store.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(
            connection, opts={"compare_type": True}), Base.metadata)
    assert differences == []


def test_a_store_never_migrated_is_refused_clearly(store_url: str) -> None:
    with CarrefourStore(store_url) as fresh:
        assert fresh.revision() is None
        with pytest.raises(ConflictError, match=r"schéma .* vide, attendu 0001"):
            fresh.check()


def test_addresses_are_checked_and_postgresql_uses_psycopg_3() -> None:
    assert parse_url("postgresql://u@h/b").drivername == "postgresql+psycopg"
    with pytest.raises(CohesionError, match="non prise en charge « mysql"):
        parse_url("mysql://u@h/b")


# -- harvests ----------------------------------------------------------------------------


def test_apply_harvest_counts_and_keeps_ids_and_first_seen(store: CarrefourStore,
                                                           clock: Clock) -> None:
    first = store.apply_harvest(harvest(record("a"), record("b"), record("c")))
    assert (first.new, first.updated, first.unchanged, first.gone) == (3, 0, 0, 0)
    t0 = store.record(f"{SOURCE}:a").first_seen
    assert t0 == "2025-03-03T09:00:00+00:00"

    clock.advance(days=1)
    second = store.apply_harvest(harvest(record("a"), record("b", "Projet B renommé"),
                                         record("d")))
    assert (second.new, second.updated, second.unchanged, second.gone) == (1, 1, 1, 1)
    assert second.changed_ids == (f"{SOURCE}:d", f"{SOURCE}:b")
    assert second.gone_ids == (f"{SOURCE}:c",)
    b = store.record(f"{SOURCE}:b")
    assert (b.title, b.first_seen, b.updated) == ("Projet B renommé", t0,
                                                  "2025-03-04T09:00:00+00:00")
    a = store.record(f"{SOURCE}:a")
    assert (a.updated, a.last_seen) == (t0, "2025-03-04T09:00:00+00:00")
    gone = store.record(f"{SOURCE}:c")  # kept, with its id
    assert gone.status == "gone" and gone.title == "Projet c"
    assert [r.id for r in store.records()] == [f"{SOURCE}:{k}" for k in "abd"]

    clock.advance(days=1)
    back = store.apply_harvest(harvest(*(record(k) for k in "acd"),
                                       record("b", "Projet B renommé")))
    assert (back.new, back.updated, back.unchanged, back.gone) == (0, 1, 3, 0)
    assert store.record(f"{SOURCE}:c").status == "published"


def test_reapplying_the_same_harvest_changes_no_id(store: CarrefourStore,
                                                   clock: Clock) -> None:
    same = harvest(*(record(str(k)) for k in range(5)))
    store.apply_harvest(same)
    before = {r.id: (r.first_seen, r.updated, r.as_dict()) for r in store.records()}
    clock.advance(hours=6)
    again = store.apply_harvest(same)
    assert (again.new, again.updated, again.unchanged, again.gone) == (0, 0, 5, 0)
    after = {r.id: (r.first_seen, r.updated) for r in store.records()}
    assert after == {key: value[:2] for key, value in before.items()}
    assert all(r.last_seen == "2025-03-03T15:00:00+00:00" for r in store.records())


def test_an_empty_run_raises_an_alert_and_loses_nothing(store: CarrefourStore) -> None:
    store.apply_harvest(harvest(record("a"), record("b")))
    empty = store.apply_harvest(harvest())
    assert empty.alert == "la source n'a donné aucune fiche"
    assert empty.gone == 0
    assert [r.status for r in store.records(statuses=("published", "gone"))] == \
        ["published", "published"]
    [health] = store.source_health()
    assert (health.source, health.status, health.alert) == (SOURCE, "alerte", empty.alert)
    assert health.counts == {"published": 2}
    assert health.last_success == store.runs()[1].applied


def test_a_sharp_drop_or_an_error_raises_an_alert_and_marks_nothing_gone(
        store: CarrefourStore) -> None:
    ten = [record(str(k)) for k in range(10)]
    store.apply_harvest(harvest(*ten))
    drop = store.apply_harvest(harvest(*ten[:4]))
    assert drop.alert.startswith("chute du nombre de fiches : 4 contre 10")
    assert drop.gone == 0
    broken = store.apply_harvest(harvest(*ten[:6], error="page introuvable (HTTP 404)"))
    assert broken.alert == "la récolte a échoué : page introuvable (HTTP 404)"
    assert broken.gone == 0 and broken.error == "page introuvable (HTTP 404)"
    assert len(list(store.records())) == 10
    # the reference stays the last healthy run (10): 6 is no drop below half of it
    healthy = store.apply_harvest(harvest(*ten[:6]))
    assert healthy.alert is None and healthy.gone == 4
    assert store.source_health()[0].status == "ok"


def test_failures_are_stored_with_their_reasons(store: CarrefourStore) -> None:
    report = store.apply_harvest(harvest(
        record("a"), record("a", "autre titre"), record("x", source="autre-source"),
        Record(id="transiscope:42", source=SOURCE, source_key="42", title="Mal nommé"),
        failures=[RowFailure("export.csv, ligne 12", "date illisible « 31/02/2024 »")],
        started="2025-03-03T08:59:00Z", finished="2025-03-03T09:00:00+00:00"))
    assert report.new == 1 and report.records == 1 and report.failed == 4
    reasons = [f.reason for f in report.failures]
    assert reasons[0] == "date illisible « 31/02/2024 »"
    assert "identifiant en double" in reasons[1]
    assert "source « autre-source »" in reasons[2]
    assert "doit commencer par « rss-demo: »" in reasons[3]
    [stored] = store.runs(SOURCE)
    assert stored.failures == report.failures
    assert stored.document()["failures"][0] == {"where": "export.csv, ligne 12",
                                                "reason": "date illisible « 31/02/2024 »"}
    assert (stored.started, stored.finished) == ("2025-03-03T08:59:00+00:00",
                                                 "2025-03-03T09:00:00+00:00")
    assert store.record(f"{SOURCE}:a").title == "Projet a"  # the first one kept


def test_apply_harvest_is_all_or_nothing(store: CarrefourStore, clock: Clock,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    store.apply_harvest(harvest(*(record(str(k)) for k in range(4))))
    before = snapshot(store)
    clock.advance(days=1)
    # a connector bug: an entry whose payload is not JSON, after updates were written
    broken = harvest(record("0", "changé"), record("1", "changé aussi"),
                     record("neuf", raw={"tags": {"pas", "du", "json"}}))
    with pytest.raises((StatementError, TypeError), match="JSON serializable"):
        store.apply_harvest(broken)
    assert snapshot(store) == before

    # an interruption after a first batch was written
    monkeypatch.setattr(catalogue, "WRITE_BATCH", 2)

    def interrupted(done: int, total: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        store.apply_harvest(harvest(*(record(str(k), "nouveau titre") for k in range(4))),
                            progress=interrupted)
    assert snapshot(store) == before


def test_the_source_of_contributions_is_reserved(store: CarrefourStore) -> None:
    with pytest.raises(CohesionError, match="réservée aux contributions"):
        store.apply_harvest(Harvest("contribution", [record("a", source="contribution")]))


def test_instants_are_aware_utc_on_both_backends(store: CarrefourStore) -> None:
    store.apply_harvest(harvest(record("a")))
    with store.transaction() as session:
        row = session.scalars(select(RecordRow)).one()
        assert row.first_seen == datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
        assert row.first_seen.utcoffset() == timedelta(0)
    with pytest.raises(StatementError, match="sans fuseau horaire"), \
            store.transaction() as session:
        session.get(RecordRow, f"{SOURCE}:a").updated = datetime(2025, 1, 1)
        session.flush()


# -- entities --------------------------------------------------------------------------


def test_entity_mapping_and_its_history(store: CarrefourStore) -> None:
    store.apply_harvest(harvest(record("a"), record("b"), record("c")))
    ids = [f"{SOURCE}:{k}" for k in "abc"]
    moved = store.save_entity_mapping(
        {ids[0]: "E1", ids[1]: "E1", ids[2]: "E2"},
        [MergeEvent("created", ("E1",), tuple(ids[:2]), note="même SIRET"),
         MergeEvent("created", ("E2",), (ids[2],))])
    assert moved == 3
    assert store.entity_mapping() == {ids[0]: "E1", ids[1]: "E1", ids[2]: "E2"}
    # a split: b leaves E1; records not named keep their entity
    assert store.save_entity_mapping({ids[1]: "E3"},
                                     [MergeEvent("split", ("E1", "E3"), (ids[1],),
                                                 reviewer_id=None)]) == 1
    assert store.entity_mapping() == {ids[0]: "E1", ids[1]: "E3", ids[2]: "E2"}
    events = store.merge_events()
    assert [e.kind for e in events] == ["split", "created", "created"]
    assert events[-1].note == "même SIRET" and events[0].at.endswith("+00:00")
    with pytest.raises(NotFoundError, match=r"fiche.* inconnue.*rss-demo:zz"):
        store.save_entity_mapping({f"{SOURCE}:zz": "E1"})
    with pytest.raises(CohesionError, match="événement d'entité inconnu « fusion »"):
        store.save_entity_mapping({}, [MergeEvent("fusion", ("E1",), ())])


def test_review_queue_and_reviewers_decisions(store: CarrefourStore, hasher) -> None:
    store.apply_harvest(harvest(*(record(k) for k in "abcd")))
    a, b, c, d = (f"{SOURCE}:{k}" for k in "abcd")
    reviewer = Accounts(store, hasher).create("relecteur@exemple.fr", "Relecteur",
                                              "relire les doublons")
    assert store.queue_pairs([(b, a, 0.9), (a, c, 0.55), (c, d, 0.3), (d, d, 0.5)]) == 3
    assert [(p.record_a, p.record_b) for p in store.review_queue()] == [(a, c), (c, d), (a, b)]

    decided = store.record_decision(c, a, "different", reviewer.id)
    assert (decided.record_a, decided.record_b, decided.status) == (a, c, "decided")
    store.record_decision(a, b, "same", reviewer.id)
    assert store.decisions() == {(a, c): "different", (a, b): "same"}
    # the model asks again: decided pairs are not queued again, pending ones updated
    assert store.queue_pairs([(a, c, 0.51), (a, b, 0.5), (d, c, 0.45)]) == 0
    [pending] = store.review_queue()
    assert (pending.record_a, pending.record_b, pending.probability) == (c, d, 0.45)
    trail = store.audit_trail(target=f"paire:{a}|{c}")
    assert [(e.action, e.actor_id, e.details["decision"]) for e in trail] == \
        [("decider_paire", reviewer.id, "different")]
    with pytest.raises(CohesionError, match="décision inconnue « peut-être »"):
        store.record_decision(a, d, "peut-être", reviewer.id)
    with pytest.raises(NotFoundError):
        store.queue_pairs([(a, f"{SOURCE}:zz", 0.5)])
