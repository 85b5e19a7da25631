"""DynamoDB writes that land together or not at all, each part owned by the module that knows its item.

A chat turn changes two tables: the session (its header and the new turn) and the user's quota (the hold, and
later the settlement). Written one by one that is a round trip each before the first token; in one
`TransactWriteItems` it is one. The module that owns an item adds it with what a failed condition on it means
(`on_cancel`), and what must happen once it is written (`after_commit`); the caller that assembles the
transaction commits it, so no module writes another's items.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

#: A cancelled transaction's reason for one item (`Code`, `Message`, and `Item` when asked for).
CancellationReason = Mapping[str, Any]

#: How often a transaction cancelled only by another write in flight on a shared item is tried again.
CONFLICT_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class _Part:
    item: dict[str, Any]
    on_cancel: Callable[[CancellationReason], Exception | None] | None
    #: Another write on this item in flight (`TransactionConflict`) is transient: try again.
    retry_on_conflict: bool


class Transaction:
    """Collects `TransactItems` (plain values: the resource's client marshals them); commits them once."""

    def __init__(self) -> None:
        self._parts: list[_Part] = []
        self._after_commit: list[Callable[[], None]] = []
        self.committed = False

    def __len__(self) -> int:
        return len(self._parts)

    @property
    def items(self) -> list[dict[str, Any]]:
        """The `TransactItems` so far, in order."""
        return [part.item for part in self._parts]

    def add(
        self,
        item: dict[str, Any],
        *,
        on_cancel: Callable[[CancellationReason], Exception | None] | None = None,
        retry_on_conflict: bool = False,
    ) -> None:
        """One `TransactItems` entry (`{"Put": …}`, `{"Update": …}`, …); `on_cancel` turns this item's
        cancellation reason into the error to raise (None: not this item's doing)."""
        if self.committed:
            raise RuntimeError("the transaction was committed already")
        self._parts.append(_Part(item, on_cancel, retry_on_conflict))

    def after_commit(self, hook: Callable[[], None]) -> None:
        """Run `hook` once the items are written (not if the commit fails)."""
        self._after_commit.append(hook)

    def commit(self, client: Any) -> None:
        """Write every item in one request, with `client` (a DynamoDB resource's `meta.client`).

        The same `ClientRequestToken` on botocore's own retry makes a write that landed but timed out succeed
        again instead of failing its own conditions. A cancellation is raised as the first error a part names.
        """
        from botocore.exceptions import ClientError

        for attempt in range(1, CONFLICT_ATTEMPTS + 1):
            try:
                client.transact_write_items(ClientRequestToken=str(uuid.uuid4()), TransactItems=self.items)
            except ClientError as exc:
                if exc.response["Error"]["Code"] != "TransactionCanceledException":
                    raise
                reasons = exc.response.get("CancellationReasons") or []
                if attempt < CONFLICT_ATTEMPTS and self._only_transient_conflicts(reasons):
                    continue
                if (error := self._named_error(reasons)) is None:
                    raise
                raise error from exc
            break
        self.committed = True
        for hook in self._after_commit:
            hook()

    def _only_transient_conflicts(self, reasons: list[CancellationReason]) -> bool:
        failed = [
            (part, reason)
            for part, reason in zip(self._parts, reasons, strict=False)
            if reason.get("Code") not in (None, "None")
        ]
        return bool(failed) and all(
            reason.get("Code") == "TransactionConflict" and part.retry_on_conflict for part, reason in failed
        )

    def _named_error(self, reasons: list[CancellationReason]) -> Exception | None:
        for part, reason in zip(self._parts, reasons, strict=False):
            if reason.get("Code") in (None, "None") or part.on_cancel is None:
                continue
            if (error := part.on_cancel(reason)) is not None:
                return error
        return None
