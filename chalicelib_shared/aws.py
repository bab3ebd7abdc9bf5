"""AWS clients, made once per process and reused by every invocation.

Clients retry throttling, 5xx and timeouts themselves with botocore's adaptive
retry mode, which also slows the caller down when RDS says "Rate exceeded".
They are cached per set of credentials, so two apps sharing one process (the
local world) never use each other's.
"""

from __future__ import annotations

import functools
import os
from typing import Any

import boto3
from botocore.config import Config

RETRY_CONFIG = Config(retries={"mode": "adaptive", "max_attempts": 6}, connect_timeout=5, read_timeout=20)


def region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


def client(service: str, region_name: str) -> Any:
    return _client(service, region_name, os.environ.get("AWS_ACCESS_KEY_ID"))


def table(name: str, region_name: str) -> Any:
    return _table(name, region_name, os.environ.get("AWS_ACCESS_KEY_ID"))


# ``access_key`` is part of the cache key only: one client per set of credentials.
@functools.cache
def _client(service: str, region_name: str, access_key: str | None) -> Any:
    return boto3.session.Session().client(service, region_name=region_name, config=RETRY_CONFIG)


@functools.cache
def _table(name: str, region_name: str, access_key: str | None) -> Any:
    session = boto3.session.Session()
    return session.resource("dynamodb", region_name=region_name, config=RETRY_CONFIG).Table(name)


def forget_clients() -> None:
    """Drop every cached client (a new local world starts from scratch)."""
    _client.cache_clear()
    _table.cache_clear()
