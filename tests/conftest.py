"""Fixtures of general use: fake AWS credentials and a moto-mocked AWS.

* ``aws_credentials``: fake credentials and region ``us-east-1`` in the
  environment (no profile, no account override), so no test can reach a real
  AWS account.
* ``mocked_aws``: ``aws_credentials`` plus moto's ``mock_aws`` for the test's
  duration; every boto3 client made inside the test talks to moto.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto import mock_aws

TEST_REGION = "us-east-1"


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": TEST_REGION,
        "AWS_REGION": TEST_REGION,
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "MOTO_ACCOUNT_ID", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def mocked_aws(aws_credentials: None) -> Iterator[None]:
    with mock_aws():
        yield
