"""The local world's speed measures (``draco.world.speed``) change how often work is done, not what is seen."""

from __future__ import annotations

import boto3
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from moto.kms import models as kms_models

from draco.world import speed


def test_sessions_share_one_loader_and_one_client_class_and_their_clients_still_work(mocked_aws: None) -> None:
    speed.install()
    first, second = boto3.session.Session(), boto3.session.Session()
    assert first._loader is second._loader  # type: ignore[attr-defined]
    sns, other = first.client("sns"), second.client("sns")
    assert type(sns) is type(other) and sns is not other and sns.meta.events is not other.meta.events
    topic = sns.create_topic(Name="t")["TopicArn"]
    assert [t["TopicArn"] for t in other.list_topics()["Topics"]] == [topic]
    assert type(first.client("sqs")) is not type(sns)


def test_a_symmetric_key_makes_no_key_pair_and_an_asymmetric_one_signs(
    mocked_aws: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[int] = []
    original = rsa.generate_private_key
    monkeypatch.setattr(rsa, "generate_private_key", lambda **kw: made.append(kw["key_size"]) or original(**kw))
    speed.install()
    kms = boto3.client("kms")
    kms.create_key()
    assert made == []
    speed._make_key_pair("SYMMETRIC_DEFAULT")  # what moto alone does for every key
    assert made == [2048]
    signer = kms.create_key(KeyUsage="SIGN_VERIFY", KeySpec="RSA_2048")["KeyMetadata"]["KeyId"]
    signed = kms.sign(KeyId=signer, Message=b"m", SigningAlgorithm="RSASSA_PSS_SHA_256")["Signature"]
    assert made == [2048, 2048]
    assert kms.verify(KeyId=signer, Message=b"m", Signature=signed, SigningAlgorithm="RSASSA_PSS_SHA_256")[
        "SignatureValid"
    ]
    assert isinstance(kms_models.generate_private_key("SYMMETRIC_DEFAULT"), speed._KeyPairOnDemand)
