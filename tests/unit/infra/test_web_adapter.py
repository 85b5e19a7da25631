"""The adapter layer's ARN per partition and region, and a synth error where no arm64 layer is published."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from infra.config import ConfigError, load_environment
from infra.web_adapter import UnsupportedRegionError, adapter_layer_arn

ENVIRONMENTS: dict[str, Any] = json.loads((Path(__file__).resolve().parents[3] / "cdk.json").read_text())[
    "context"
]["environments"]


@pytest.mark.parametrize(
    ("region", "arn"),
    [
        ("us-east-1", "arn:aws:lambda:us-east-1:753240598075:layer:LambdaAdapterLayerArm64:30"),
        ("eu-west-3", "arn:aws:lambda:eu-west-3:753240598075:layer:LambdaAdapterLayerArm64:30"),
    ],
)
def test_commercial_regions_use_the_publishers_arm64_layer(region: str, arn: str) -> None:
    assert adapter_layer_arn(region, 30) == arn


def test_china_publishes_x86_only_from_its_own_accounts() -> None:
    assert adapter_layer_arn("cn-north-1", 30, "x86_64") == (
        "arn:aws-cn:lambda:cn-north-1:041581134020:layer:LambdaAdapterLayerX86:30"
    )
    with pytest.raises(UnsupportedRegionError, match="cn-northwest-1 is x86_64 only"):
        adapter_layer_arn("cn-northwest-1", 30)


def test_a_partition_without_a_published_layer_says_what_to_do() -> None:
    with pytest.raises(UnsupportedRegionError, match=r"no layer in us-gov-west-1 \(partition aws-us-gov\)"):
        adapter_layer_arn("us-gov-west-1", 30)


def test_synth_stops_with_the_key_to_set_for_an_unsupported_region() -> None:
    # Given dev moved to a China region
    environments = json.loads(json.dumps(ENVIRONMENTS))
    environments["dev"]["region"] = "cn-north-1"

    # When cdk.json is read (what `cdk synth` does first)
    with pytest.raises(ConfigError) as raised:
        load_environment(environments, "dev")

    # Then the message names the environment, the region and the setting that fixes it
    assert "environments.dev" in str(raised.value)
    assert "cn-north-1" in str(raised.value)
    assert "chat.lwa_layer_arn" in str(raised.value)


def test_an_explicit_layer_arn_is_used_where_none_is_published() -> None:
    environments = json.loads(json.dumps(ENVIRONMENTS))
    own = "arn:aws-cn:lambda:cn-north-1:111122223333:layer:LambdaAdapterLayerArm64:1"
    environments["dev"]["region"] = "cn-north-1"
    environments["dev"]["chat"]["lwa_layer_arn"] = own

    assert load_environment(environments, "dev").chat.lwa_layer_arn == own
