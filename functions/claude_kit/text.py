"""What counts as text worth sending to Claude, for every input the kit takes (chat requests, work items)."""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import AfterValidator, Field


def visible_text(value: str) -> str:
    """Refuse text Claude would see as nothing: only whitespace, zero-width, BOM or control characters.

    Unicode categories C* (control, format: zero-width spaces, BOM) and Z* (separators) are invisible; NUL is
    refused anywhere, since neither DynamoDB nor the logs keep it faithfully.
    """
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    if not any(unicodedata.category(char)[0] not in "CZ" for char in value):
        raise ValueError("must contain visible characters, not only whitespace, zero-width or control ones")
    return value


#: Text sent to Claude: at least one visible character, no NUL.
VisibleText = Annotated[str, Field(min_length=1), AfterValidator(visible_text)]
