"""The kit's rules for a request, applied before any money is held: allowed model, the parameters the kit
decides, the max_tokens cap and the context window. A request that breaks one is a `ClaudeBadRequestError`
(a 400 for HTTP callers) before anything is reserved, stored or sent."""

from __future__ import annotations

from claude_kit.calls import ClaudeRequest
from claude_kit.context_window import TokenCounter, Window, fit_context
from claude_kit.contract import Env
from claude_kit.errors import ClaudeBadRequestError
from claude_kit.settings import RuntimeSettings

# What the kit decides itself: `params` must not override them (an allowed model, the max_tokens cap …).
_RESERVED_PARAMS = frozenset({"model", "max_tokens", "messages", "system", "stream"})


class ContextTooLongError(ClaudeBadRequestError):
    error_type = "context_too_long"
    user_message = "The message is too long for the conversation window; please shorten it"
    http_status = 400


def apply_rules(
    request: ClaudeRequest, settings: RuntimeSettings, counter: TokenCounter
) -> tuple[ClaudeRequest, Window]:
    """The request as it will be sent (window applied, max_tokens capped) and the window it was cut to."""
    if request.model not in settings.allowed_models:
        raise ClaudeBadRequestError(f"model {request.model!r} is not in {Env.ALLOWED_MODELS}")
    if reserved := sorted(_RESERVED_PARAMS.intersection(request.params)):
        raise ClaudeBadRequestError(f"params may not set {reserved}: they are ClaudeRequest fields")
    window = fit_context(
        request.system,
        request.messages,
        settings.context_max_turns,
        settings.context_max_tokens,
        counter=counter,
    )
    if not window.fits:
        raise ContextTooLongError(
            f"the newest turn alone ({window.tokens} tokens) is over the context window "
            f"({settings.context_max_tokens} tokens, {settings.context_max_turns} turns)"
        )
    capped = ClaudeRequest(
        model=request.model,
        max_tokens=min(request.max_tokens, settings.max_tokens_cap),
        messages=window.messages,
        system=window.system,
        params=request.params,
    )
    return capped, window
