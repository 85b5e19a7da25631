"""Who is calling: the API Gateway authorizer's verdict, as the Lambda Web Adapter forwards it.

The adapter puts the REST API proxy event's `requestContext` in the `x-amzn-request-context` header as JSON
and overwrites any client-sent header of that name, so its content is API Gateway's, never the caller's.
`authorizer.claims.sub` is the Cognito user; `identity.apiKeyId` identifies the API key (the key's value is in
the same document: never log it).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from chat_api.errors import UnauthenticatedError

REQUEST_CONTEXT_HEADER = "x-amzn-request-context"
LOCAL_USER_HEADER = "x-kit-user-id"
#: The header API Gateway reads the API key from (the app never sees the key checked: the gateway does it).
API_KEY_HEADER = "x-api-key"
_LOCAL_USER_ID = re.compile(r"^[A-Za-z0-9._@:+-]{1,128}$")


@dataclass(frozen=True, slots=True)
class Caller:
    user_id: str
    #: API Gateway's request id, to find this request in access logs and traces.
    request_id: str | None = None


def identify(headers: Mapping[str, str], *, local_mode: bool) -> Caller:
    """The caller's stable user id, or UnauthenticatedError when the request carries none."""
    context = _request_context(headers.get(REQUEST_CONTEXT_HEADER))
    request_id = _dig(context, "requestId")
    user_id = _dig(context, "authorizer", "claims", "sub") or _dig(context, "identity", "apiKeyId")
    if user_id:
        return Caller(user_id, request_id)
    local_user = headers.get(LOCAL_USER_HEADER, "")
    if local_mode and _LOCAL_USER_ID.fullmatch(local_user):
        return Caller(local_user, request_id)
    raise UnauthenticatedError


def _request_context(raw: str | None) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _dig(document: Any, *path: str) -> str | None:
    for key in path:
        if not isinstance(document, dict):
            return None
        document = document.get(key)
    return document if isinstance(document, str) and document else None
