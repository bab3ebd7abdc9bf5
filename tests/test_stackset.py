"""The production side as a plain CloudFormation template for a StackSet over an OU, checked by cfn-lint.

Marked ``packaging`` (cfn-lint loads its whole resource specification, seconds).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from chalicelib_shared import config as cfg
from chalicelib_shared.kinds.base import Side
from draco.bootstrap.names import FUNCTIONS
from draco.stackset import producer_template

pytestmark = pytest.mark.packaging

DR = "222222222222"


def test_the_template_is_plain_cloudformation_that_cfn_lint_passes(tmp_path: Path) -> None:
    template = producer_template(DR, "us-west-2", stage="prod")
    assert "Transform" not in template  # StackSets with service-managed permissions refuse transforms
    path = tmp_path / "producer.json"
    path.write_text(json.dumps(template))
    lint = Path(sys.executable).with_name("cfn-lint")
    found = subprocess.run([str(lint), str(path)], capture_output=True, text=True, check=False)
    assert found.returncode == 0, found.stdout + found.stderr


def test_the_template_holds_what_bootstrap_makes_and_the_functions_chalice_deploys() -> None:
    template = producer_template(DR, stage="prod")
    resources = template["Resources"]
    kinds = sorted({body["Type"] for body in resources.values()})
    assert kinds == sorted({
        "AWS::KMS::Key", "AWS::KMS::Alias", "AWS::SNS::Topic", "AWS::SNS::TopicPolicy", "AWS::SNS::Subscription",
        "AWS::RDS::EventSubscription", "AWS::Events::Rule", "AWS::DynamoDB::Table", "AWS::IAM::Role",
        "AWS::CloudWatch::Alarm", "AWS::Lambda::Function", "AWS::Lambda::Permission", "AWS::Logs::LogGroup",
    })  # fmt: skip
    functions = [b["Properties"] for b in resources.values() if b["Type"] == "AWS::Lambda::Function"]
    assert sorted(f["FunctionName"] for f in functions) == sorted(
        f"draco-producer-prod-{handler}" for handler in FUNCTIONS[Side.PRODUCER]
    )
    env = functions[0]["Environment"]["Variables"]
    assert env[cfg.OUTBOX_TOPIC_ARN] == {"Ref": "TopicDracoOutbox"}
    assert env[cfg.TRANSIT_KEY_ARN] == {"Fn::GetAtt": ["KeyDRACOTransit", "Arn"]}
    assert env[cfg.POLLER_RULE] == "draco-producer-prod-poll_jobs-event"
    (outbox,) = [b["Properties"] for name, b in resources.items() if name == "OutboxToDrInbox"]
    assert outbox == {
        "TopicArn": {"Ref": "TopicDracoOutbox"},
        "Protocol": "sqs",
        "Endpoint": {"Fn::Sub": f"arn:${{AWS::Partition}}:sqs:${{AWS::Region}}:{DR}:DracoInbox"},
    }
    assert "111111111111" not in json.dumps(template)  # no account of its own: each stack's
