"""add_cache_breakpoints: system prompt and history prefix marked, four markers at most, input untouched."""

from __future__ import annotations

from typing import Any

from claude_kit.prompt_cache import MAX_BREAKPOINTS, add_cache_breakpoints, count_breakpoints

EPHEMERAL = {"type": "ephemeral"}
LONG = "word " * 2000  # ≈ 2,900 tokens
CONVERSATION: list[dict[str, Any]] = [
    {"role": "user", "content": "First"},
    {"role": "assistant", "content": [{"type": "text", "text": "Answer"}]},
    {"role": "user", "content": "Second"},
]


def test_a_long_system_prompt_and_the_previous_turns_are_marked():
    plan = add_cache_breakpoints(LONG, CONVERSATION, min_cacheable_tokens=1024)

    assert plan.system == [{"type": "text", "text": LONG, "cache_control": EPHEMERAL}]
    assert plan.messages[1]["content"] == [{"type": "text", "text": "Answer", "cache_control": EPHEMERAL}]
    assert plan.messages[2] == CONVERSATION[2]  # the newest turn changes every call: not a stable prefix
    assert plan.added == 2
    assert "cache_control" not in CONVERSATION[1]["content"][0]


def test_prompts_under_the_models_minimum_are_left_alone():
    plan = add_cache_breakpoints("Short system", CONVERSATION, min_cacheable_tokens=4096)

    assert plan.system == "Short system"
    assert plan.messages == CONVERSATION
    assert plan.added == 0


def test_a_single_turn_has_no_prefix_to_mark():
    plan = add_cache_breakpoints(None, [{"role": "user", "content": LONG}], min_cacheable_tokens=1024)

    assert plan.added == 0


def test_string_content_of_the_previous_turn_becomes_a_marked_text_block():
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": LONG},
        {"role": "assistant", "content": "Sure"},
        {"role": "user", "content": "Go"},
    ]

    plan = add_cache_breakpoints(None, messages, min_cacheable_tokens=1024)

    assert plan.messages[1]["content"] == [{"type": "text", "text": "Sure", "cache_control": EPHEMERAL}]


def test_the_callers_breakpoints_count_toward_the_limit_of_four():
    tools = [{"name": f"tool{index}", "input_schema": {}, "cache_control": EPHEMERAL} for index in range(3)]

    plan = add_cache_breakpoints(LONG, CONVERSATION, min_cacheable_tokens=1024, tools=tools)

    assert plan.added == 1  # 3 already set: only the system prompt fits
    assert count_breakpoints(plan.system, plan.messages, tools) == MAX_BREAKPOINTS
    assert plan.messages == CONVERSATION


def test_nothing_is_added_when_the_caller_already_used_all_four():
    system = [{"type": "text", "text": LONG, "cache_control": EPHEMERAL}]
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": [{"type": "text", "text": "a", "cache_control": EPHEMERAL}]},
        {"role": "assistant", "content": "b"},
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "t",
                    "content": [{"type": "text", "text": "c", "cache_control": EPHEMERAL}],
                }
            ],
        },
        {"role": "assistant", "content": [{"type": "text", "text": "d", "cache_control": EPHEMERAL}]},
        {"role": "user", "content": "e"},
    ]

    plan = add_cache_breakpoints(system, messages, min_cacheable_tokens=1)

    assert count_breakpoints(system, messages) == 4
    assert plan.added == 0
    assert plan.messages == messages


def test_a_thinking_block_is_never_marked():
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": LONG},
        {"role": "assistant", "content": [{"type": "thinking", "thinking": "hmm", "signature": "sig"}]},
        {"role": "user", "content": "Next"},
    ]

    plan = add_cache_breakpoints(None, messages, min_cacheable_tokens=1024)

    assert plan.added == 0
