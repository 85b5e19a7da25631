"""The CDK app: `cdk synth|deploy -c env=<dev|staging|prod>` builds that one environment from cdk.json."""

from __future__ import annotations

import sys

from aws_cdk import App

from infra.billing_stack import add_billing_stack
from infra.ci_access_stack import add_ci_access_stack
from infra.config import ConfigError, load_environment
from infra.stack import add_environment

DEFAULT_ENV = "dev"


def main() -> int:
    app = App()
    env_name = app.node.try_get_context("env") or DEFAULT_ENV
    try:
        config = load_environment(app.node.try_get_context("environments"), env_name)
    except ConfigError as exc:
        sys.stderr.write(f"{exc}\n")
        return 1
    add_environment(app, env_name=env_name, config=config)
    add_billing_stack(app, env_name=env_name, config=config)
    # `make ci-access` only, so CI never deploys its own access.
    wants_ci_access = bool(app.node.try_get_context("ci_access"))
    if wants_ci_access and add_ci_access_stack(app, env_name=env_name, config=config) is None:
        sys.stderr.write(
            f"cdk.json: set environments.{env_name}.ci.github_repository first (docs/pipeline.md)\n"
        )
        return 1
    app.synth()
    return 0


if __name__ == "__main__":
    sys.exit(main())
