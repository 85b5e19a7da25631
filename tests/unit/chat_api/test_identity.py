"""Caller identity from the API Gateway request context (as the Lambda Web Adapter forwards it)."""

from __future__ import annotations

import json

import pytest

from chat_api.errors import UnauthenticatedError
from chat_api.identity import LOCAL_USER_HEADER, REQUEST_CONTEXT_HEADER, Caller, identify

REQUEST_ID = "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"


def context(**fields: object) -> dict[str, str]:
    return {REQUEST_CONTEXT_HEADER: json.dumps({"requestId": REQUEST_ID, **fields})}


def test_a_cognito_user_is_identified_by_the_token_subject() -> None:
    # Given a request authorized by the Cognito authorizer (and carrying an API key as well)
    headers = context(
        authorizer={"claims": {"sub": "7d4e1c1a-cognito-sub", "email": "a@example.com"}},
        identity={"apiKeyId": "k1a2b3", "apiKey": "placeholder-key-value"},
    )

    # When the caller is identified
    # Then the user is the token's subject, not the shared API key
    assert identify(headers, local_mode=False) == Caller("7d4e1c1a-cognito-sub", REQUEST_ID)


def test_an_api_key_caller_is_identified_by_the_key_id() -> None:
    # Given a request authorized by an API key only
    headers = context(
        identity={"apiKeyId": "k1a2b3", "apiKey": "placeholder-key-value", "sourceIp": "203.0.113.9"}
    )

    # When the caller is identified
    # Then the key's id (never its value) is the user id
    assert identify(headers, local_mode=False).user_id == "k1a2b3"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {REQUEST_CONTEXT_HEADER: "not json"},
        context(identity={"sourceIp": "203.0.113.9"}),
        context(authorizer={"claims": {"sub": ""}}),
    ],
    ids=["no-context", "malformed", "no-key-id", "empty-sub"],
)
def test_a_request_without_identity_is_refused(headers: dict[str, str]) -> None:
    # Given a request with no usable identity
    # When the caller is identified
    # Then it is refused
    with pytest.raises(UnauthenticatedError):
        identify(headers, local_mode=False)


def test_the_local_user_header_is_ignored_outside_local_mode() -> None:
    # Given a client trying to pick its own identity on AWS
    headers = {LOCAL_USER_HEADER: "alice"}

    # When the caller is identified with local mode off
    # Then the header is not trusted
    with pytest.raises(UnauthenticatedError):
        identify(headers, local_mode=False)


def test_the_local_user_header_stands_in_for_the_authorizer_locally() -> None:
    # Given `make local`, where no API Gateway is in front
    # When the caller sends the stand-in header
    # Then it is the identity, as long as it looks like an id
    assert identify({LOCAL_USER_HEADER: "alice"}, local_mode=True) == Caller("alice")
    with pytest.raises(UnauthenticatedError):
        identify({LOCAL_USER_HEADER: "alice smith\n"}, local_mode=True)
