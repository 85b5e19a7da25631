"""What can go wrong in a conversation, as types; `http_errors.py` maps each to a response, in one place."""

from __future__ import annotations


class ChatError(Exception):
    """Base of the chat app's own errors (Claude's errors are `claude_kit.errors.ClaudeError`)."""


class UnauthenticatedError(ChatError):
    """The request carries no caller identity (no authorizer context, and not in local mode)."""


class SessionNotFoundError(ChatError):
    """No such session for this caller: it never existed, expired, was deleted, or belongs to someone else.

    One error for all four on purpose: telling them apart would let callers probe for other users' sessions.
    """


class ConcurrentTurnError(ChatError):
    """Another request appended to the same session first; the caller should reload and resend."""


class InvalidRequestError(ChatError):
    """The body is well-formed but breaks a deployment limit (length, model allow-list, max_tokens cap)."""

    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__("; ".join(f"{field}: {problem}" for field, problem in problems.items()))
        #: Field name → what is wrong with it.
        self.problems = problems
