"""`make deploy` checks, before a full synth: AWS credentials that work, for the account cdk.json names.

`python -m ops.preflight ENV` prints who will deploy where, or one line that says what to provide.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from ops.errors import OperatorError, explain
from ops.target import ROOT


def check_credentials(env_name: str, *, sts: Any = None) -> str:
    """The line to show when the credentials work; raises OperatorError saying what to do otherwise."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    from infra.config import ConfigError, load_environment

    try:
        environments = json.loads((ROOT / "cdk.json").read_text())["context"]["environments"]
        config = load_environment(environments, env_name)
    except ConfigError as exc:
        raise OperatorError(str(exc).splitlines()[0]) from None
    session = boto3.session.Session(region_name=None)
    region = session.region_name or config.region
    client = sts or session.client("sts", region_name=region)
    try:
        identity = client.get_caller_identity()
    except NoCredentialsError:
        raise OperatorError(
            f"no AWS credentials to deploy {env_name!r}: run `aws configure` or `aws sso login`, or set "
            "AWS_PROFILE (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), then run make deploy again"
        ) from None
    except (ClientError, BotoCoreError) as exc:
        raise OperatorError(explain(exc) or f"AWS refused the credentials: {exc}") from None
    account = str(identity["Account"])
    if config.account_or_none and config.account_or_none != account:
        raise OperatorError(
            f"your credentials are for account {account}, but cdk.json deploys {env_name!r} to "
            f"{config.account_or_none}: switch profile (AWS_PROFILE) or fix environments.{env_name}.account"
        )
    return f"deploying {env_name!r} to account {account} in {config.region} as {identity['Arn']}"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        sys.stderr.write("usage: python -m ops.preflight ENV\n")
        return 2
    try:
        sys.stdout.write(check_credentials(args[0]) + "\n")
    except OperatorError as exc:
        sys.stderr.write(f"make deploy: {exc}\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
