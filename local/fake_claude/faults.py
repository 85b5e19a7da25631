"""Failures the fake can be told to produce, from a test (`fake.inject(Fault.overloaded())`), over HTTP
(`POST /_fake/faults`) or the command line (`--fault rate_limited:2`).

Call faults wait in a queue; each is used up by the next `POST /v1/messages` it applies to (stream faults only
apply to streaming calls). Batch item faults are standing rules: every batch item whose custom_id matches the
glob pattern comes back errored or expired, until `reset()`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

Seconds = Annotated[float, Field(ge=0)]
EventCount = Annotated[int, Field(ge=0)]


class _Fault(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RateLimited(_Fault):
    kind: Literal["rate_limited"] = "rate_limited"
    retry_after: Seconds = 1.0


class Overloaded(_Fault):
    kind: Literal["overloaded"] = "overloaded"


class ApiFailure(_Fault):
    kind: Literal["api_error"] = "api_error"


class Stall(_Fault):
    """Hold the connection without a byte: before the response, or after `after_events` of a stream."""

    kind: Literal["stall"] = "stall"
    seconds: Seconds
    after_events: EventCount = 0


class CutStream(_Fault):
    """Close the connection abruptly after `after_events` events (no terminating chunk, no message_stop)."""

    kind: Literal["cut_stream"] = "cut_stream"
    after_events: EventCount = 3


class StreamError(_Fault):
    """Send an SSE `error` event after `after_events` events and end the stream, as the API does."""

    kind: Literal["stream_error"] = "stream_error"
    after_events: EventCount = 3
    error_type: str = "overloaded_error"


class SlowStream(_Fault):
    kind: Literal["slow_stream"] = "slow_stream"
    tokens_per_second: Annotated[float, Field(gt=0)]
    first_token_delay_s: Seconds = 0.0


class BatchItemFault(_Fault):
    kind: Literal["batch_item"] = "batch_item"
    custom_id_pattern: str
    result: Literal["errored", "expired"] = "errored"
    error_type: str = "api_error"


CallFault = RateLimited | Overloaded | ApiFailure | Stall | CutStream | StreamError | SlowStream
AnyFault = Annotated[CallFault | BatchItemFault, Field(discriminator="kind")]
_FAULTS: TypeAdapter[list[CallFault | BatchItemFault]] = TypeAdapter(list[AnyFault])


def applies(fault: CallFault, *, stream: bool) -> bool:
    """Stream faults wait for a streaming call; a stall after N events too; the rest take the next call."""
    match fault:
        case CutStream() | StreamError() | SlowStream():
            return stream
        case Stall(after_events=after_events):
            return stream or after_events == 0
        case _:
            return True


class Fault:
    """Factories for every fault the fake knows, named as a test reads them."""

    rate_limited = RateLimited
    overloaded = Overloaded
    api_error = ApiFailure
    stall = Stall
    cut_stream = CutStream
    stream_error = StreamError
    slow_stream = SlowStream

    @staticmethod
    def batch_item(
        custom_id_pattern: str,
        result: Literal["errored", "expired"] = "errored",
        error_type: str = "api_error",
    ) -> BatchItemFault:
        return BatchItemFault(custom_id_pattern=custom_id_pattern, result=result, error_type=error_type)


class FaultSpecError(ValueError):
    """A fault given on the command line or over HTTP that the fake does not understand."""


def parse_faults(specs: list[Any]) -> list[CallFault | BatchItemFault]:
    """Faults from JSON objects ({"kind": "stall", "seconds": 30}) or specs ("KIND[:TIMES][,FIELD=VALUE…]").

    `rate_limited:2,retry_after=5` is two 429s asking for a 5 s wait; `cut_stream,after_events=10` one cut.
    """
    expanded: list[Any] = []
    for spec in specs:
        if not isinstance(spec, str):
            expanded.append(spec)
            continue
        head, *assignments = spec.split(",")
        kind, _, times = head.partition(":")
        fields: dict[str, Any] = {"kind": kind.strip()}
        for assignment in assignments:
            name, separator, value = assignment.partition("=")
            if not separator:
                raise FaultSpecError(f"fault {spec!r}: expected FIELD=VALUE, got {assignment!r}")
            fields[name.strip()] = value.strip()
        if times and not times.isdigit():
            raise FaultSpecError(f"fault {spec!r}: TIMES must be a whole number, got {times!r}")
        expanded.extend([fields] * (int(times) if times else 1))
    try:
        return _FAULTS.validate_python(expanded)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        raise FaultSpecError(f"invalid fault: {first['msg']} at {'.'.join(map(str, first['loc']))}") from exc
