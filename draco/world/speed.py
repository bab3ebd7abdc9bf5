"""What makes the local world fast without changing what an app or a test sees.

Two costs that AWS pays once per Lambda container, or never, were paid over and
over here (fast suite profiled: 240 s of CPU, 46 s of it decoding JSON):

* botocore keeps the service models it reads (``botocore.loaders.Loader``) in
  the loader, and makes a new loader for every session. The local world and the
  tests make a session per world, per credentials and per test, so the same
  models were read again and again. The models are read-only data: every session
  in the process now shares one loader per data path.
* botocore builds a new client class for every client, one method per operation
  of the service (EC2 has some 600): ~10 ms a client. Sessions made alike (they
  all are here: boto3's defaults) build the same class from the same model, so
  the class is now built once per service and API version.
* moto makes a 2048-bit RSA key pair (about 60 ms) for every KMS key, symmetric
  ones too, for signing that only an asymmetric key does. The pair is now made
  the first time a key is asked for it; DRACO's keys are symmetric and never are.

The cold-start benchmark (``draco.bench.coldstart``) measures a fresh interpreter
that never imports this, so its figures still include reading the models.
"""

from __future__ import annotations

import functools
from typing import Any

import botocore.client
import botocore.loaders
import botocore.session
from moto.kms import models as kms_models

_shared_loader = functools.cache(botocore.loaders.create_loader)
_make_key_pair = kms_models.generate_private_key
_build_client_class = botocore.client.ClientCreator._create_client_class
_client_classes: dict[tuple[str, str], type] = {}


def _client_class(creator: botocore.client.ClientCreator, service_name: str, service_model: Any) -> type:
    """A service's client class, built the first time this process asks for it."""
    key = (service_name, service_model.api_version)
    if key not in _client_classes:
        _client_classes[key] = _build_client_class(creator, service_name, service_model)
    return _client_classes[key]


class _KeyPairOnDemand:
    """A KMS key's private key, made on first use."""

    def __init__(self, key_spec: str) -> None:
        self._key_spec = key_spec

    @functools.cached_property
    def _pair(self) -> Any:
        return _make_key_pair(self._key_spec)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pair, name)


def install() -> None:
    """The three measures, for every session, client and KMS key made from now on in this process (idempotent)."""
    botocore.session.create_loader = _shared_loader
    botocore.client.ClientCreator._create_client_class = _client_class  # type: ignore[method-assign]
    kms_models.generate_private_key = _KeyPairOnDemand
