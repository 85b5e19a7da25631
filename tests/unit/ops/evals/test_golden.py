"""Golden files: the example set loads; a malformed file is rejected naming its file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from ops.evals.golden import ContainsCheck, GoldenSetError, JudgeCheck, load_set, load_sets

REPO_ROOT = Path(__file__).resolve().parents[4]

VALID = """\
version: 1
id: demo
defaults:
  repeats: 2
scenarios:
  - id: greet
    prompt: Say hello
    expect:
      - contains: [hello]
      - judge: {rubric: Friendly, min_score: 4}
"""


def write(tmp_path: Path, text: str, name: str = "set.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def rejection(path: Path) -> str:
    with pytest.raises(GoldenSetError) as caught:
        load_set(path)
    return str(caught.value)


def test_the_example_sets_load() -> None:
    # When every set the kit ships is loaded
    sets = load_sets([REPO_ROOT / "evals" / "sets"])
    # Then the default chat assistant's set is there with its scenarios
    assert [loaded.golden.id for loaded in sets] == ["chat-assistant"]
    assert len(sets[0].golden.scenarios) >= 5


def test_a_valid_set_is_read_with_typed_checks(tmp_path: Path) -> None:
    golden = load_set(write(tmp_path, VALID)).golden
    scenario = golden.scenarios[0]
    assert scenario.messages() == [{"role": "user", "content": "Say hello"}]
    assert isinstance(scenario.expect[0], ContainsCheck)
    assert isinstance(scenario.expect[1], JudgeCheck)
    assert golden.defaults.repeats == 2
    assert golden.judge.model == "claude-haiku-5-5"


@pytest.mark.parametrize(
    ("broken", "replacement", "expected"),
    [
        (
            "      - contains: [hello]",
            "      - contains: hello",
            ":9: scenarios[0].expect[0].contains: Input should be a valid list",
        ),
        (
            "      - contains: [hello]",
            "      - contians: [hello]",
            ":9: scenarios[0].expect[0]: each expectation is one of: length",
        ),
        ("  repeats: 2", "  repeats: two", ":4: defaults.repeats: Input should be a valid integer"),
        (
            "min_score: 4}",
            "min_score: 9}",
            ":10: scenarios[0].expect[1].judge.min_score: Input should be less than or equal to 5",
        ),
        ("    prompt: Say hello\n", "", ":6: scenarios[0]: Value error, give either prompt or conversation"),
        ("  - id: greet", "  - id: greet me", ":6: scenarios[0].id: String should match pattern"),
        (
            "      - contains: [hello]",
            "      - regex: '(('",
            ":9: scenarios[0].expect[0]: Value error, not a valid regular expression",
        ),
        (
            "      - contains: [hello]",
            "      - json_schema: {type: 12}",
            ":9: scenarios[0].expect[0]: Value error, not a valid JSON Schema",
        ),
        ("version: 1", "version: 2", ":1: version: Input should be 1"),
        (
            "    prompt: Say hello",
            "    prompt: Say hello\n    temprature: 0",
            ":8: scenarios[0].temprature: Extra inputs are not permitted",
        ),
    ],
)
def test_a_malformed_file_is_rejected_naming_file_line_and_field(
    tmp_path: Path, broken: str, replacement: str, expected: str
) -> None:
    # Given a valid set with one mistake in it
    assert broken in VALID
    path = write(tmp_path, VALID.replace(broken, replacement))
    # When it is loaded, then the error names the file, the line and the field
    message = rejection(path)
    assert message.startswith(f"{path}{expected}"), message


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, VALID.replace("    prompt: Say hello", "    prompt: [Say hello"))
    message = rejection(path)
    assert message.startswith(f"{path}:8: not valid YAML"), message


def test_a_repeated_scenario_id_names_the_second_one(tmp_path: Path) -> None:
    twice = VALID + "  - id: greet\n    prompt: Again\n    expect:\n      - contains: [x]\n"
    path = write(tmp_path, twice)
    assert rejection(path) == f"{path}:11: scenarios[1].id: 'greet' is used twice"


def test_an_empty_file_and_a_missing_file_are_rejected(tmp_path: Path) -> None:
    assert rejection(write(tmp_path, "")) == f"{tmp_path / 'set.yaml'}:1: the file is empty"
    assert rejection(tmp_path / "absent.yaml").startswith(f"{tmp_path / 'absent.yaml'}: cannot read")


def test_a_conversation_must_end_with_the_user(tmp_path: Path) -> None:
    text = VALID.replace(
        "    prompt: Say hello\n",
        "    conversation:\n      - {role: user, content: Hi}\n      - {role: assistant, content: Hello}\n",
    )
    assert "conversation must end with a user turn" in rejection(write(tmp_path, text))


def test_two_sets_may_not_share_an_id(tmp_path: Path) -> None:
    write(tmp_path, VALID, "a.yaml")
    write(tmp_path, VALID, "b.yaml")
    with pytest.raises(GoldenSetError, match="set id 'demo' is already used by"):
        load_sets([tmp_path])


def test_the_published_json_schema_is_current_and_accepts_the_example_sets() -> None:
    import json

    import yaml
    from jsonschema import Draft202012Validator

    from ops.evals.golden import json_schema

    # Given the schema editors use (regenerate: python -m ops.evals.golden > evals/golden-set.schema.json)
    published = json.loads((REPO_ROOT / "evals" / "golden-set.schema.json").read_text())
    assert published == json_schema()
    # Then every example set is valid against it too
    validator = Draft202012Validator(published)
    for path in sorted((REPO_ROOT / "evals" / "sets").glob("*.yaml")):
        errors = [error.message for error in validator.iter_errors(yaml.safe_load(path.read_text()))]
        assert errors == [], path
