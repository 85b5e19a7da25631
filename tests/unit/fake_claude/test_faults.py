"""Faults come from tests, JSON or command-line specs, and each waits for the kind of call it applies to."""

from __future__ import annotations

import pytest

from local.fake_claude.faults import (
    CutStream,
    Fault,
    FaultSpecError,
    RateLimited,
    Stall,
    applies,
    parse_faults,
)


def test_a_spec_with_times_and_fields_expands_to_that_many_faults() -> None:
    faults = parse_faults(["rate_limited:2,retry_after=5"])
    assert faults == [RateLimited(retry_after=5), RateLimited(retry_after=5)]


def test_json_objects_and_specs_can_be_mixed() -> None:
    faults = parse_faults([{"kind": "stall", "seconds": 30}, "cut_stream,after_events=10", "overloaded"])
    assert faults == [Stall(seconds=30), CutStream(after_events=10), Fault.overloaded()]


def test_a_batch_item_rule_is_parsed_from_a_spec() -> None:
    faults = parse_faults(["batch_item,custom_id_pattern=bad-*,result=expired"])
    assert faults == [Fault.batch_item("bad-*", result="expired")]


@pytest.mark.parametrize(
    "spec", ["teleport", "rate_limited:two", "stall", "stall,seconds", "stall,seconds=-1"]
)
def test_a_spec_the_fake_does_not_understand_is_refused(spec: str) -> None:
    with pytest.raises(FaultSpecError):
        parse_faults([spec])


@pytest.mark.parametrize(
    ("fault", "for_stream", "for_whole_response"),
    [
        (Fault.rate_limited(), True, True),
        (Fault.overloaded(), True, True),
        (Fault.api_error(), True, True),
        (Fault.stall(seconds=1), True, True),
        (Fault.stall(seconds=1, after_events=3), True, False),
        (Fault.cut_stream(after_events=3), True, False),
        (Fault.stream_error(after_events=3), True, False),
        (Fault.slow_stream(tokens_per_second=5), True, False),
    ],
)
def test_stream_faults_wait_for_a_streaming_call(fault, for_stream: bool, for_whole_response: bool) -> None:
    assert applies(fault, stream=True) is for_stream
    assert applies(fault, stream=False) is for_whole_response
