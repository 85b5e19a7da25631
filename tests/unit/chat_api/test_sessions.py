"""SessionStore against moto's in-process DynamoDB: ownership, turn order, concurrency, TTL, deletion."""

from __future__ import annotations

from typing import Any

import pytest

from chat_api.errors import ConcurrentTurnError, SessionNotFoundError
from chat_api.sessions import Role, Session, SessionStore, Turn
from claude_kit.transaction import Transaction

NOW = 1_800_000_000.0
DAY = 86_400


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(table: Any, clock: Clock) -> SessionStore:
    return SessionStore(table, ttl_days=30, clock=clock)


def user_turn(text: str = "Hello") -> Turn:
    return Turn(role=Role.USER, text=text, message_id=f"user-{text}")


def answer(text: str = "Hi there", *, partial: bool = False) -> Turn:
    return Turn(
        role=Role.ASSISTANT,
        text=text,
        message_id=f"answer-{text}",
        partial=partial,
        model="claude-sonnet-5-5",
        stop_reason=None if partial else "end_turn",
        error_type="overloaded_error" if partial else None,
        usage={"input_tokens": 12, "output_tokens": 3},
        cost_usd=0.000054,
    )


def test_a_new_session_belongs_to_its_creator_and_is_empty(store: SessionStore) -> None:
    # Given a session created by alice
    created = store.create("alice")

    # When alice loads it
    loaded = store.load(created.session_id, "alice")

    # Then it is hers, empty, and its id is a UUID the API accepts
    assert loaded.user_id == "alice"
    assert loaded.turns == ()
    assert len(created.session_id) == 36


def test_another_users_session_is_not_found(store: SessionStore) -> None:
    # Given alice's session
    session = store.create("alice")

    # When bob loads it, or anyone loads an unknown id
    # Then both look exactly the same: not found
    with pytest.raises(SessionNotFoundError):
        store.load(session.session_id, "bob")
    with pytest.raises(SessionNotFoundError):
        store.load("00000000-0000-4000-8000-000000000000", "alice")


def test_turns_come_back_in_order_with_what_they_cost(store: SessionStore) -> None:
    # Given an exchange: a user turn, then its answer in the reserved slot
    session = store.create("alice")
    asked = store.append_user_turn(session, user_turn())
    store.store_answer(session, asked.seq + 1, answer())

    # When the session is loaded again
    loaded = store.load(session.session_id, "alice")

    # Then both turns are there, in order, with the answer's usage and cost
    assert [(t.seq, t.role, t.text) for t in loaded.turns] == [
        (1, Role.USER, "Hello"),
        (2, Role.ASSISTANT, "Hi there"),
    ]
    assert loaded.turns[1].usage == {"input_tokens": 12, "output_tokens": 3}
    assert loaded.turns[1].cost_usd == pytest.approx(0.000054)
    assert loaded.turns[1].stop_reason == "end_turn"
    assert loaded.last_seq == 2


def test_a_partial_answer_is_stored_marked_partial(store: SessionStore) -> None:
    # Given an answer that was cut off
    session = store.create("alice")
    asked = store.append_user_turn(session, user_turn())
    store.store_answer(session, asked.seq + 1, answer("Hi th", partial=True))

    # When loaded
    stored = store.load(session.session_id, "alice").turns[-1]

    # Then it says so, with the error that cut it
    assert (stored.text, stored.partial, stored.error_type) == ("Hi th", True, "overloaded_error")


def test_the_answer_slot_is_reserved_while_another_exchange_starts(store: SessionStore) -> None:
    # Given a user turn whose answer is still being written
    session = store.create("alice")
    first = store.append_user_turn(session, user_turn("one"))

    # When a second request (which loaded the session meanwhile) adds its own user turn
    reloaded = store.load(session.session_id, "alice")
    second = store.append_user_turn(reloaded, user_turn("two"))
    store.store_answer(session, first.seq + 1, answer("first answer"))

    # Then the first answer still lands in its own slot, right after its question
    turns = store.load(session.session_id, "alice").turns
    assert [(t.seq, t.text) for t in turns] == [(1, "one"), (2, "first answer"), (3, "two")]
    assert second.seq == 3


def test_two_requests_racing_for_the_same_turn_number_one_loses(store: SessionStore) -> None:
    # Given two requests that loaded the same state of a session
    session = store.create("alice")
    snapshot = store.load(session.session_id, "alice")
    store.append_user_turn(snapshot, user_turn("first"))

    # When the slower one appends from its stale view
    # Then it is refused instead of overwriting or interleaving
    with pytest.raises(ConcurrentTurnError):
        store.append_user_turn(snapshot, user_turn("second"))
    assert [t.text for t in store.load(session.session_id, "alice").turns] == ["first"]


def test_only_the_owner_can_delete_and_deletion_removes_every_turn(store: SessionStore, table: Any) -> None:
    # Given alice's session with one exchange
    session = store.create("alice")
    asked = store.append_user_turn(session, user_turn())
    store.store_answer(session, asked.seq + 1, answer())

    # When bob tries to delete it, then alice does
    with pytest.raises(SessionNotFoundError):
        store.delete(session.session_id, "bob")
    store.delete(session.session_id, "alice")

    # Then nothing of it is left
    assert table.scan()["Items"] == []
    with pytest.raises(SessionNotFoundError):
        store.load(session.session_id, "alice")


def test_an_answer_for_a_deleted_session_is_refused(store: SessionStore) -> None:
    # Given a session deleted while its answer was being written
    session = store.create("alice")
    asked = store.append_user_turn(session, user_turn())
    store.delete(session.session_id, "alice")

    # When the answer arrives
    # Then it is not resurrected
    with pytest.raises(SessionNotFoundError):
        store.store_answer(session, asked.seq + 1, answer())


def test_an_expired_session_is_gone_before_dynamodb_deletes_it(store: SessionStore, clock: Clock) -> None:
    # Given a session last used 30 days ago (DynamoDB's TTL sweep may lag by days)
    session = store.create("alice")
    clock.now += 30 * DAY

    # When it is loaded
    # Then it no longer exists
    with pytest.raises(SessionNotFoundError):
        store.load(session.session_id, "alice")


def test_each_turn_extends_the_sessions_life(store: SessionStore, clock: Clock) -> None:
    # Given a session used again 20 days after it was created
    session = store.create("alice")
    clock.now += 20 * DAY
    store.append_user_turn(session, user_turn())

    # When it is loaded 20 days after that (40 days after creation)
    clock.now += 20 * DAY

    # Then it is still there
    assert store.load(session.session_id, "alice").turns[0].text == "Hello"


def started(store: SessionStore, user: str = "alice", text: str = "Hello") -> Session:
    """A session begun as the chat begins one: header and first turn in one transaction."""
    transaction = Transaction()
    session, _ = store.start_into(transaction, user, user_turn(text))
    store.commit(transaction)
    return session


def converse(store: SessionStore, session: Session, exchanges: int) -> None:
    for n in range(exchanges):
        current = store.load(session.session_id, session.user_id)
        asked = store.append_user_turn(current, user_turn(f"q{n}"))
        store.store_answer(current, asked.seq + 1, answer(f"a{n}"))


def test_a_session_starts_with_its_first_turn_and_the_answers_slot_claimed(store: SessionStore) -> None:
    # Given a session begun in one transaction
    session = started(store)

    # When its answer is stored and the session loaded
    store.store_answer(session, 2, answer())
    loaded = store.load(session.session_id, "alice")

    # Then the first turn and its answer are there, and the next turn starts after them
    assert [(t.seq, t.text) for t in loaded.turns] == [(1, "Hello"), (2, "Hi there")]
    assert loaded.last_seq == 2


@pytest.mark.parametrize("exchanges", [1, 6])
def test_the_recent_turns_are_the_newest_of_the_whole_history(store: SessionStore, exchanges: int) -> None:
    # Given a session with a few exchanges (the header within reach of the query, or not)
    session = started(store)
    store.store_answer(session, 2, answer())
    converse(store, session, exchanges)
    whole = store.load(session.session_id, "alice")

    # When only the 4 newest turns are read
    recent = store.load_recent(session.session_id, "alice", turns=4)

    # Then they are the whole history's last 4, and the next turn is claimed where the whole history says
    assert recent.turns == whole.turns[-4:]
    assert recent.last_seq == whole.last_seq
    store.append_user_turn(recent, user_turn("next"))
    assert store.load(session.session_id, "alice").turns[-1].text == "next"


def test_recent_turns_of_an_unanswered_question_leave_its_answer_slot_free(store: SessionStore) -> None:
    # Given a long session whose newest question has no stored answer (the answer's write failed)
    session = started(store)
    store.store_answer(session, 2, answer())
    converse(store, session, 3)
    current = store.load(session.session_id, "alice")
    store.append_user_turn(current, user_turn("unanswered"))

    # When the recent turns are read and the user asks again
    recent = store.load_recent(session.session_id, "alice", turns=2)
    store.append_user_turn(recent, user_turn("again"))

    # Then the new question comes after the unanswered one's slot, not in it
    seqs = [(t.seq, t.text) for t in store.load(session.session_id, "alice").turns[-2:]]
    assert seqs == [(9, "unanswered"), (11, "again")]


def test_recent_turns_of_someone_elses_or_an_expired_session_are_not_found(
    store: SessionStore, clock: Clock
) -> None:
    # Given alice's session, longer than the turns read (so the header is out of the query's reach)
    session = started(store)
    store.store_answer(session, 2, answer())
    converse(store, session, 3)

    # Then bob cannot read its recent turns, and nobody can once it expired
    with pytest.raises(SessionNotFoundError):
        store.load_recent(session.session_id, "bob", turns=2)
    clock.now += 31 * DAY
    with pytest.raises(SessionNotFoundError):
        store.load_recent(session.session_id, "alice", turns=2)
