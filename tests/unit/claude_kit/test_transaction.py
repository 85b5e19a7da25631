"""Transaction: one request for every part, retried only for a transient conflict on a part that allows it,
cancellations named by the part that caused them, and nothing run after a commit that did not happen."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from claude_kit.transaction import CONFLICT_ATTEMPTS, Transaction


class Refused(Exception):
    pass


class Client:
    """Answers each `transact_write_items` with the next outcome: None (written) or per-item reason codes."""

    def __init__(self, *outcomes: list[str] | None) -> None:
        self.outcomes = list(outcomes)
        self.requests: list[dict[str, Any]] = []

    def transact_write_items(self, **request: Any) -> dict[str, Any]:
        self.requests.append(request)
        codes = self.outcomes.pop(0)
        if codes is None:
            return {}
        error = {"Error": {"Code": "TransactionCanceledException", "Message": "cancelled"}}
        raise ClientError(
            {**error, "CancellationReasons": [{"Code": code} for code in codes]},
            "TransactWriteItems",
        )


def two_parts(*, quota_retries: bool = True) -> tuple[Transaction, list[str]]:
    done: list[str] = []
    transaction = Transaction()
    transaction.add(
        {"Update": {"TableName": "quota"}},
        on_cancel=lambda reason: Refused("quota") if reason["Code"] == "ConditionalCheckFailed" else None,
        retry_on_conflict=quota_retries,
    )
    transaction.add(
        {"Put": {"TableName": "sessions"}}, on_cancel=lambda reason: Refused(f"turn {reason['Code']}")
    )
    transaction.after_commit(lambda: done.append("committed"))
    return transaction, done


def test_all_parts_go_in_one_request_with_a_fresh_token_and_hooks_run_after() -> None:
    transaction, done = two_parts()
    client = Client(None)
    transaction.commit(client)
    assert len(client.requests) == 1
    assert [list(item) for item in client.requests[0]["TransactItems"]] == [["Update"], ["Put"]]
    assert client.requests[0]["ClientRequestToken"]
    assert done == ["committed"]
    assert transaction.committed


def test_a_conflict_on_a_part_that_allows_it_is_tried_again_with_a_new_token() -> None:
    transaction, done = two_parts()
    client = Client(["TransactionConflict", "None"], None)
    transaction.commit(client)
    tokens = {request["ClientRequestToken"] for request in client.requests}
    assert len(client.requests) == 2
    assert len(tokens) == 2
    assert done == ["committed"]


def test_conflicts_that_never_clear_end_in_an_error_after_the_last_attempt() -> None:
    transaction, done = two_parts()
    client = Client(*[["TransactionConflict", "None"]] * CONFLICT_ATTEMPTS)
    with pytest.raises(ClientError):
        transaction.commit(client)
    assert len(client.requests) == CONFLICT_ATTEMPTS
    assert done == []
    assert not transaction.committed


def test_a_conflict_on_a_part_that_does_not_allow_it_is_that_parts_error_at_once() -> None:
    transaction, done = two_parts()
    client = Client(["None", "TransactionConflict"])
    with pytest.raises(Refused, match="turn TransactionConflict"):
        transaction.commit(client)
    assert len(client.requests) == 1
    assert done == []


def test_the_first_part_that_names_its_failure_decides_the_error() -> None:
    transaction, _ = two_parts()
    with pytest.raises(Refused, match=r"^quota$"):
        transaction.commit(Client(["ConditionalCheckFailed", "ConditionalCheckFailed"]))


def test_a_transaction_is_closed_once_committed() -> None:
    transaction, _ = two_parts()
    transaction.commit(Client(None))
    with pytest.raises(RuntimeError):
        transaction.add({"Put": {}})
