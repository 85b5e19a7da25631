"""The local stack stands in for AWS and Claude: the key sits in (moto) Secrets Manager and opens the fake."""

from __future__ import annotations

import os

import anthropic
import boto3

from claude_kit import contract
from claude_kit.contract import api_key_secret_name
from local.fake_claude import PLACEHOLDER_API_KEY
from local.stack import LocalStack, banner
from tests.fixtures.tables import described_table


def test_the_functions_environment_points_at_moto_and_the_fake(local_stack_env: LocalStack) -> None:
    assert local_stack_env.fake is not None
    assert os.environ["AWS_ENDPOINT_URL"] == local_stack_env.urls["moto (AWS)"]
    assert os.environ["KIT_CLAUDE_BASE_URL"] == local_stack_env.fake.base_url
    assert os.environ["KIT_API_KEY_SECRET_NAME"] == api_key_secret_name("local")
    assert os.environ["AWS_ACCESS_KEY_ID"] == "testing"


def test_the_key_from_the_secret_streams_an_answer_from_the_fake(local_stack_env: LocalStack) -> None:
    # Given the key as a function reads it: from Secrets Manager (moto, through AWS_ENDPOINT_URL)
    secrets = boto3.client("secretsmanager")
    key = secrets.get_secret_value(SecretId=os.environ["KIT_API_KEY_SECRET_NAME"])["SecretString"]
    # When a streamed request is sent to the fake with it
    with (
        anthropic.Anthropic(base_url=os.environ["KIT_CLAUDE_BASE_URL"], api_key=key, max_retries=0) as sdk,
        sdk.messages.stream(
            model="claude-sonnet-5-5", max_tokens=100, messages=[{"role": "user", "content": "Hello"}]
        ) as stream,
    ):
        text = "".join(stream.text_stream)
    # Then the secret held the placeholder and the fake answered that one call
    assert key == PLACEHOLDER_API_KEY
    assert text.startswith("This is the fake Claude")
    assert local_stack_env.fake is not None
    assert len(local_stack_env.fake.message_calls()) == 1


def test_the_banner_says_where_the_fake_and_moto_listen(local_stack_env: LocalStack) -> None:
    text = banner(local_stack_env)
    assert local_stack_env.urls["fake Claude"] in text
    assert local_stack_env.urls["moto (AWS)"] in text


def test_the_local_tables_have_the_keys_indexes_and_ttl_of_their_contract_definitions(
    local_stack_env: LocalStack,
) -> None:
    # Given the tables the local stack made on moto, by the names it gives the functions
    dynamodb = boto3.client("dynamodb")
    expected = {
        os.environ[contract.Env.CHAT_SESSIONS_TABLE]: contract.SESSIONS_TABLE,
        os.environ[contract.Env.QUOTA_TABLE]: contract.USER_QUOTA_TABLE,
        os.environ[contract.Env.JOBS_TABLE]: contract.JOBS_TABLE,
    }
    # When each is described back into a definition
    described = {
        name: described_table(
            expected[name].role if name in expected else "?",
            dynamodb.describe_table(TableName=name)["Table"],
            dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]["AttributeName"],
        )
        for name in dynamodb.list_tables()["TableNames"]
    }
    # Then there is no other table, and each one is exactly the definition the CDK builds it from
    assert described == expected


def test_every_kit_variable_of_the_local_functions_is_a_contract_name(local_stack_env: LocalStack) -> None:
    kit_names = {name for name in local_stack_env.env if name.startswith(contract.ENV_PREFIX)}
    assert kit_names - contract.env_names() == set()
    assert {contract.Env.CHAT_SESSIONS_TABLE, contract.Env.QUOTA_TABLE, contract.Env.JOBS_TABLE} <= kit_names
