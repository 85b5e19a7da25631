"""Where the AWS Lambda Web Adapter layer is published, by partition and region, and its ARN for the kit.

Source: the adapter's own guide (awslabs/aws-lambda-web-adapter,
docs/guide/src/getting-started/zip-packages.md; and /work/shared/reference/aws-deploy-facts.md): commercial
regions share publisher account 753240598075 with x86_64 and arm64 layers; each China region has its own
account and an x86_64 layer only; no other partition (GovCloud, ISO) is published to. The kit's functions
are arm64, so anywhere without an arm64 layer synth stops with a message saying to set `chat.lwa_layer_arn`
(a layer you publish there, e.g. from the adapter's release) instead of failing at deploy time.
"""

from __future__ import annotations

from dataclasses import dataclass

ARM64 = "arm64"


@dataclass(frozen=True, slots=True)
class Publisher:
    account: str
    architectures: frozenset[str]


COMMERCIAL = Publisher(account="753240598075", architectures=frozenset({"x86_64", ARM64}))
#: China regions: one publisher account per region, x86_64 layers only.
CHINA = {
    "cn-north-1": Publisher(account="041581134020", architectures=frozenset({"x86_64"})),
    "cn-northwest-1": Publisher(account="069767869989", architectures=frozenset({"x86_64"})),
}
_LAYER_NAMES = {ARM64: "LambdaAdapterLayerArm64", "x86_64": "LambdaAdapterLayerX86"}


class UnsupportedRegionError(ValueError):
    """The adapter publishes no layer for this region and architecture; the message says what to do."""


def partition_of(region: str) -> str:
    """The AWS partition a region belongs to (the ARN prefix)."""
    for prefix, partition in (
        ("cn-", "aws-cn"),
        ("us-gov-", "aws-us-gov"),
        ("us-isob-", "aws-iso-b"),
        ("us-iso-", "aws-iso"),
        ("eu-isoe-", "aws-iso-e"),
    ):
        if region.startswith(prefix):
            return partition
    return "aws"


def adapter_layer_arn(region: str, version: int, architecture: str = ARM64) -> str:
    """The published layer's ARN, or UnsupportedRegionError naming the region and the way out."""
    partition = partition_of(region)
    publisher = COMMERCIAL if partition == "aws" else CHINA.get(region)
    if publisher is None:
        raise UnsupportedRegionError(
            f"the Lambda Web Adapter publishes no layer in {region} (partition {partition}): "
            "set chat.lwa_layer_arn to an adapter layer published in that region"
        )
    if architecture not in publisher.architectures:
        published = ", ".join(sorted(publisher.architectures))
        raise UnsupportedRegionError(
            f"the Lambda Web Adapter layer in {region} is {published} only and the kit's functions are "
            f"{architecture}: set chat.lwa_layer_arn to an {architecture} adapter layer published in {region}"
        )
    return f"arn:{partition}:lambda:{region}:{publisher.account}:layer:{_LAYER_NAMES[architecture]}:{version}"
