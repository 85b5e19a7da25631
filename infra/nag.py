"""cdk-nag's AwsSolutions pack on every synth, and the one way the kit records why a finding does not apply.

cdk-nag 3 is a CDK policy-validation plugin: any unacknowledged finding fails `cdk synth` (and every test that
synthesizes), and each acknowledgement is written, with its reason, into the template's `cdk_nag` metadata.
"""

from __future__ import annotations

from aws_cdk import Acknowledgment, App, Validations
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

#: Construct metadata type under which the CDK records acknowledgements ({rule id: reason}).
ACKNOWLEDGED_RULES = Validations.ACKNOWLEDGED_RULES_METADATA_KEY


def add_nag_checks(app: App) -> None:
    Validations.of(app).add_plugins(
        AwsSolutionsChecks(app, verbose=True, write_suppressions_to_cloud_formation=True)
    )


def acknowledge(scope: IConstruct, rule: str, *, reason: str) -> None:
    """Suppress one finding (e.g. `AwsSolutions-IAM5[Resource::*]`) on `scope` and everything under it."""
    Validations.of(scope).acknowledge(Acknowledgment(id=rule, reason=reason))
