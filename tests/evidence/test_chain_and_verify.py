"""The hash-chained timeline and `manage.py verify_case`: edits made behind the application's back
are named, first break first (RULEBOOK §7, issue #6)."""

import threading
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from core import chain
from core.models import Event, EventChain
from core.services import event_record
from evidence.models import Evidence
from tests.evidence.factories import image_bytes, make_case, pdf_bytes
from tests.security.audit import audit_trigger_disabled


def _verify(*args):
    out = StringIO()
    try:
        call_command("verify_case", *args, stdout=out)
    except CommandError as exc:
        return False, out.getvalue(), str(exc)
    return True, out.getvalue(), ""


@pytest.mark.django_db
def test_events_of_a_subject_form_a_chain(cast, refund):
    events = [event_record(subject=refund, action=f"refund.step{i}", actor=cast.buyer, data={"i": i}) for i in range(3)]
    assert [e.seq for e in events] == [1, 2, 3]
    assert events[0].prev_hash == chain.GENESIS
    assert [e.prev_hash for e in events[1:]] == [e.hash for e in events[:-1]]
    for stored in Event.objects.filter(subject_kind="refund", subject_id=refund.pk):
        assert chain.link_hash(stored.prev_hash, stored.seq, chain.event_content_hash(stored)) == stored.hash
    head = EventChain.objects.get(subject_kind="refund", subject_id=refund.pk)
    assert (head.length, head.head_hash) == (3, events[-1].hash)
    assert chain.chain_verify(subject_kind="refund", subject_id=refund.pk) is None
    # Another subject starts its own chain.
    assert event_record(subject=cast.shop, action="shop.created").seq == 1


@pytest.mark.django_db
def test_the_portable_writer_makes_the_same_links_as_the_postgres_one(cast, refund, monkeypatch):
    event_record(subject=refund, action="refund.a", data={"amount": "50.00", "名": "棉袄"})
    monkeypatch.setattr(chain, "event_append", lambda **kwargs: None)  # as on SQLite
    monkeypatch.setattr(chain, "chain_append", chain._chain_append_portable)
    event_record(subject=refund, action="refund.b", actor=cast.seller, data={"nested": {"z": 1, "a": [1.5, None]}})
    monkeypatch.undo()
    event_record(subject=refund, action="refund.c")
    assert chain.chain_verify(subject_kind="refund", subject_id=refund.pk) is None
    assert EventChain.objects.get(subject_kind="refund", subject_id=refund.pk).length == 3


@pytest.mark.django_db
def test_event_record_is_one_statement_on_postgresql(cast, refund, django_assert_num_queries):
    if connection.vendor != "postgresql":
        pytest.skip("elsewhere the head's advance and the insert are two statements")
    event_record(subject=refund, action="refund.first")
    with django_assert_num_queries(1):
        second = event_record(subject=refund, action="refund.second", actor=cast.buyer, data={"名": "棉袄"})
    stored = Event.objects.get(pk=second.pk)
    assert (stored.seq, stored.hash, stored.prev_hash, stored.actor_id) == (
        2,
        second.hash,
        second.prev_hash,
        cast.buyer.pk,
    )
    assert (stored.data, second.data, stored.at) == ({"名": "棉袄"}, {"名": "棉袄"}, second.at)
    assert chain.chain_verify(subject_kind="refund", subject_id=refund.pk) is None


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_on_one_subject_never_fork_the_chain(cast, refund):
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL")
    writers = 8
    barrier = threading.Barrier(writers)
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            barrier.wait(timeout=10)
            with transaction.atomic():
                event_record(subject=refund, action="refund.concurrent", data={"n": n})
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    seqs = sorted(Event.objects.filter(subject_kind="refund", subject_id=refund.pk).values_list("seq", flat=True))
    assert seqs == list(range(1, writers + 1))
    assert chain.chain_verify(subject_kind="refund", subject_id=refund.pk) is None


@pytest.fixture
def case_with_evidence(cast, refund, post_evidence):
    """A refund with a timeline and evidence, escalated into a case with evidence of its own."""
    event_record(subject=refund, action="refund.created", actor=cast.buyer, to_status="pending_seller")
    photo = post_evidence(cast.buyer, image_bytes("JPEG"), refund=refund.pk, kind="photo").json()["id"]
    event_record(subject=refund, action="refund.refused", actor=cast.seller, to_status="seller_refused")
    case = make_case(refund)
    event_record(subject=case, action="case.opened", to_status="open")
    proof = post_evidence(cast.seller, pdf_bytes(), case=case.pk, kind="shipping_proof").json()["id"]
    return case, Evidence.objects.get(pk=photo), Evidence.objects.get(pk=proof)


@pytest.mark.django_db
def test_an_untouched_case_verifies(case_with_evidence):
    case, _, _ = case_with_evidence
    ok, out, _ = _verify(str(case.pk))
    assert ok, out
    assert f"OK case {case.pk}" in out


@pytest.mark.django_db
def test_an_edited_file_and_an_edited_event_row_are_named(case_with_evidence, refund, media_root):
    case, photo, proof = case_with_evidence
    stored = media_root / proof.file.name
    stored.write_bytes(stored.read_bytes().replace(b"Catalog", b"Katalog"))
    # Behind the application's back: rewrite the refusal's recorded status in the database.
    refused = Event.objects.get(subject_kind="refund", subject_id=refund.pk, action="refund.refused")
    with audit_trigger_disabled():  # the log is append-only (core migration 0005): a DBA's edit
        Event.objects.filter(pk=refused.pk).update(to_status="refunded")
    ok, out, error = _verify(str(case.pk))
    assert not ok
    lines = out.strip().splitlines()
    assert lines[0] == (
        f"BROKEN refund:{refund.pk} event {refused.pk} (#{refused.seq}): "
        "content does not match its hash (the row was edited)"
    )
    assert any(line.startswith(f"BROKEN evidence {proof.pk}: the stored file hashes to") for line in lines)
    assert not any(f"evidence {photo.pk}:" in line for line in lines)
    assert "2 break(s)" in error


@pytest.mark.django_db
def test_the_first_broken_link_is_named_not_the_ones_after_it(case_with_evidence, refund):
    case, _, _ = case_with_evidence
    first = Event.objects.filter(subject_kind="refund", subject_id=refund.pk).order_by("seq").first()
    with audit_trigger_disabled():
        Event.objects.filter(pk=first.pk).update(data={"forged": True})
    _, out, _ = _verify(str(case.pk))
    assert out.splitlines() == [
        f"BROKEN refund:{refund.pk} event {first.pk} (#1): content does not match its hash (the row was edited)"
    ]


@pytest.mark.django_db
def test_rewriting_file_and_row_together_is_still_seen(case_with_evidence, media_root):
    case, photo, _ = case_with_evidence
    forged = image_bytes("PNG")
    (media_root / photo.file.name).write_bytes(forged)
    import hashlib

    Evidence.objects.filter(pk=photo.pk).update(sha256=hashlib.sha256(forged).hexdigest(), size=len(forged))
    _, out, _ = _verify(str(case.pk))
    assert f"BROKEN evidence {photo.pk}: the row's sha256" in out


@pytest.mark.django_db
def test_a_removed_event_or_file_is_seen(case_with_evidence, media_root):
    case, photo, _ = case_with_evidence
    last = Event.objects.filter(subject_kind="case", subject_id=case.pk).order_by("-seq").first()
    with audit_trigger_disabled():
        Event.objects.filter(pk=last.pk).delete()
    (media_root / photo.file.name).unlink()
    _, out, _ = _verify(str(case.pk))
    assert f"BROKEN case:{case.pk} chain head: the head records 2 events, 1 found" in out
    assert f"BROKEN evidence {photo.pk}: the stored file {photo.file.name} cannot be read" in out


@pytest.mark.django_db
def test_verify_all_walks_every_chain_and_file(case_with_evidence, cast, refund):
    ok, out, _ = _verify("--all")
    assert ok, out
    Event.objects.create(subject_kind="shop", subject_id=cast.shop.pk, action="shop.sneaked_in")
    with audit_trigger_disabled():
        Event.objects.filter(subject_kind="refund", subject_id=refund.pk, seq=2).update(actor_label="someone_else")
    ok, out, _ = _verify("--all")
    assert not ok
    assert f"BROKEN shop:{cast.shop.pk} event" in out and "not on the chain" in out
    assert f"BROKEN refund:{refund.pk} event" in out and "(#2)" in out


@pytest.mark.django_db
def test_usage_errors(cast):
    assert _verify()[0] is False
    ok, _, error = _verify("424242")
    assert not ok and "case 424242 not found" in error
