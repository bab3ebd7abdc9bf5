"""``python -m draco stackset producer``: the production side as one plain CloudFormation template.

For every account of an OU at once: a StackSet with service-managed permissions
deploys it to each account the OU holds and to each account that joins it later
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stacksets-concepts.html).
Such StackSets refuse templates with transforms
(https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/stacksets-orgs-manage-auto-deployment.html
and the StackSets troubleshooting page), so this is not ``chalice package``'s SAM
template: it is generated from the very stack ``bootstrap producer`` makes
(``draco.bootstrap.models.producer_stack``), with the account, Region and
partition left to CloudFormation (``${AWS::AccountId}``, ``${AWS::Region}``,
``${AWS::Partition}``), plus the producer's Lambda functions as plain
``AWS::Lambda::Function`` resources, their schedules and their topic
subscription. Their code is the ``deployment.zip`` that ``python -m draco
package producer`` builds, copied to a bucket in each Region (parameters
``CodeBucket`` and ``CodeKey``); its environment is the one bootstrap would write.

With DR trusting the Organization (``bootstrap consumer --source-org``), a new
account of the OU gets this stack, its outbox subscribes DR's inbox, DR confirms
the subscription, and DR changes nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from chalicelib_shared.kinds.base import Side

Template = dict[str, Any]
PSEUDO = ("${AWS::Partition}", "${AWS::AccountId}", "${AWS::Region}")
RUNTIME = "python3.11"
MEMORY_MB = 256
DEFAULT_TIMEOUT = 60  # Chalice's
#: Scheduled functions and their rate, as the producer app declares them.
SCHEDULES = {"poll_jobs": "poll", "wake_poller": "hour", "sweep_snapshots": "sweep"}


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser("stackset", help="the production side as a plain CloudFormation template")
    sides = parser.add_subparsers(dest="account_kind", required=True, metavar="ACCOUNT")
    prod = sides.add_parser("producer", help="for a StackSet over the production accounts (an OU)")
    prod.add_argument("--dr-account", required=True, help="the DR account's 12-digit id")
    prod.add_argument("--dr-region", default="", help="the DR account's Region (default: each stack's own)")
    prod.add_argument("--stage", default="dev", help="the stage's name in function and role names (default: dev)")
    prod.add_argument("--out", default="-", help="file to write the template to (default: stdout)")
    prod.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    try:
        template = producer_template(args.dr_account, args.dr_region, args.stage)
    except ValueError as err:
        print(f"stackset: {err}", file=sys.stderr)
        return 2
    text = json.dumps(template, indent=2) + "\n"
    if args.out == "-":
        sys.stdout.write(text)
        return 0
    try:
        Path(args.out).write_text(text)
    except OSError as err:
        print(f"stackset: cannot write {args.out}: {err}", file=sys.stderr)
        return 2
    return 0


def producer_template(dr_account: str, dr_region: str = "", stage: str = "dev") -> Template:
    """The template; ``ValueError`` for options ``bootstrap producer`` would refuse."""
    from draco.bootstrap.models import producer_stack
    from draco.bootstrap.names import Account
    from draco.bootstrap.options import producer_options

    checked = producer_options("us-east-1", dr_account, dr_region or None, stage=stage)  # any Region: the checks
    opts = replace(checked, region=PSEUDO[2], dr_region=dr_region)
    stack = producer_stack(opts, Account(*PSEUDO))
    resources: dict[str, Any] = {}
    logical: dict[str, str] = {}  # a plan's Var name -> the logical id whose Arn it stands for
    for resource in stack.resources:
        _add(resources, logical, resource)
    _add_functions(resources, stack, stage)
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": f"DRACO production side (stage {stage}), sending to DR account {dr_account}",
        "Parameters": {
            "CodeBucket": {"Type": "String", "Description": "S3 bucket in this Region with the producer's zip"},
            "CodeKey": {"Type": "String", "Description": "its key (python -m draco package producer makes it)"},
        },
        "Resources": {name: _intrinsic(body, _references(body, logical)) for name, body in resources.items()},
    }


def _id(*parts: str) -> str:
    return "".join(part[:1].upper() + part[1:] for text in parts for part in text.replace("/", "-").split("-") if part)


def _add(resources: dict[str, Any], logical: dict[str, str], resource: Any) -> None:
    from draco.bootstrap import models
    from draco.bootstrap.inbox import QueueSubscription

    if isinstance(resource, models.Key):
        key = _id("Key", resource.alias.removeprefix("alias/"))
        logical[resource.var("arn").name] = key
        resources[key] = _typed("AWS::KMS::Key", Description=resource.description, EnableKeyRotation=True,
                                KeyPolicy=resource.policy)  # fmt: skip
        resources[f"{key}Alias"] = _typed("AWS::KMS::Alias", AliasName=resource.alias, TargetKeyId={"Ref": key})
    elif isinstance(resource, models.Topic):
        topic = _id("Topic", resource.name)
        logical[resource.arn] = topic
        resources[topic] = _typed("AWS::SNS::Topic", TopicName=resource.name, KmsMasterKeyId=resource.key_alias)
        resources[topic]["DependsOn"] = [name for name in resources if name.endswith("Alias")]
        resources[f"{topic}Policy"] = _typed("AWS::SNS::TopicPolicy", Topics=[{"Ref": topic}],
                                             PolicyDocument=resource.policy)  # fmt: skip
    elif isinstance(resource, models.RdsSubscription):
        resources[_id("Rds", resource.name)] = _typed("AWS::RDS::EventSubscription", SubscriptionName=resource.name,
            SnsTopicArn=resource.topic_arn, SourceType=resource.source_type, Enabled=True)  # fmt: skip
    elif isinstance(resource, models.Rule):
        target = {"Id": "DracoTopic", "Arn": resource.topic_arn}
        resources[_id("Rule", resource.name)] = _typed("AWS::Events::Rule", Name=resource.name, State="ENABLED",
            EventPattern=resource.pattern, Targets=[target])  # fmt: skip
    elif isinstance(resource, models.Table):
        definition = dict(resource.definition)
        resources[_id("Table", resource.name)] = _typed("AWS::DynamoDB::Table", **definition,
            DeletionProtectionEnabled=True,
            PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})  # fmt: skip
    elif isinstance(resource, models.Role):
        resources["Role"] = _typed("AWS::IAM::Role", RoleName=resource.name, AssumeRolePolicyDocument=resource.trust,
            Policies=[{"PolicyName": "draco", "PolicyDocument": resource.policy}])  # fmt: skip
    elif isinstance(resource, QueueSubscription):
        resources["OutboxToDrInbox"] = _typed("AWS::SNS::Subscription", TopicArn=resource.topic_arn, Protocol="sqs",
                                              Endpoint=resource.queue_arn)  # fmt: skip
    elif isinstance(resource, models.AlertTopic):
        logical[resource.arn] = "TopicAlerts"
        resources["TopicAlerts"] = _typed("AWS::SNS::Topic", TopicName=resource.name)
    elif isinstance(resource, models.Alarm):
        resources[_id("Alarm", resource.name.rsplit("-", 1)[-1])] = _typed("AWS::CloudWatch::Alarm",
                                                                           **resource.definition)  # fmt: skip


def _add_functions(resources: dict[str, Any], stack: Any, stage: str) -> None:
    """The producer's Lambda functions, their log groups, schedules and topic subscription, as Chalice makes them."""
    from chalicelib_shared import handlers
    from draco.bootstrap.cli import PRODUCER_APP_DIR
    from draco.bootstrap.names import TOPICS, schedule_rule_name

    config = json.loads((PRODUCER_APP_DIR / ".chalice" / "config.json").read_text())
    rates = {"poll": _rate(handlers.poll_minutes(), "minute"), "hour": "rate(1 hour)",
             "sweep": _rate(handlers.sweep_hours(), "hour")}  # fmt: skip
    for handler, name in stack.deployment.functions.items():
        fn = _id("Function", handler.replace("_", "-"))
        settings = config.get("lambda_functions", {}).get(handler, {})
        resources[fn] = _typed(
            "AWS::Lambda::Function", FunctionName=name, Handler=f"app.{handler}", Runtime=RUNTIME,
            Role={"Fn::GetAtt": ["Role", "Arn"]}, MemorySize=config.get("lambda_memory_size", MEMORY_MB),
            Timeout=settings.get("lambda_timeout", DEFAULT_TIMEOUT),
            Code={"S3Bucket": {"Ref": "CodeBucket"}, "S3Key": {"Ref": "CodeKey"}},
            Environment={"Variables": dict(stack.env)},
        )  # fmt: skip
        resources[fn]["DependsOn"] = [f"{fn}Logs"]
        resources[f"{fn}Logs"] = _typed("AWS::Logs::LogGroup", LogGroupName=f"/aws/lambda/{name}",
                                        RetentionInDays=config.get("log_retention_in_days", 90))  # fmt: skip
        arn = {"Fn::GetAtt": [fn, "Arn"]}
        if handler in SCHEDULES:
            rule = schedule_rule_name(Side.PRODUCER, stage, handler)
            resources[f"{fn}Schedule"] = _typed("AWS::Events::Rule", Name=rule, State="ENABLED",
                ScheduleExpression=rates[SCHEDULES[handler]], Targets=[{"Id": "Function", "Arn": arn}])  # fmt: skip
            source = {"Fn::GetAtt": [f"{fn}Schedule", "Arn"]}
            resources[f"{fn}Invoke"] = _permission(fn, "events.amazonaws.com", source)
        else:  # the topic's messages
            topic = {"Ref": _id("Topic", TOPICS[Side.PRODUCER])}
            resources[f"{fn}Subscription"] = _typed("AWS::SNS::Subscription", TopicArn=topic, Protocol="lambda",
                                                    Endpoint=arn)  # fmt: skip
            resources[f"{fn}Invoke"] = _permission(fn, "sns.amazonaws.com", topic)


def _rate(every: int, unit: str) -> str:
    return f"rate({every} {unit}{'s' if every != 1 else ''})"


def _permission(fn: str, service: str, source: Any) -> dict[str, Any]:
    return _typed("AWS::Lambda::Permission", Action="lambda:InvokeFunction", FunctionName={"Ref": fn},
                  Principal=service, SourceArn=source)  # fmt: skip


def _references(body: dict[str, Any], logical: dict[str, str]) -> dict[str, str]:
    """What a resource may refer to by logical id. A key's policy names the topic it encrypts by its ARN's
    text: a ``Ref`` would make the key wait for the topic that waits for the key (a circular dependency)."""
    if body["Type"] == "AWS::KMS::Key":
        return {name: logical_id for name, logical_id in logical.items() if not logical_id.startswith("Topic")}
    return logical


def _typed(kind: str, **properties: Any) -> dict[str, Any]:
    return {"Type": kind, "Properties": properties}


def _intrinsic(value: Any, logical: dict[str, str]) -> Any:
    """Plan values as CloudFormation: a key's ARN as its ``Fn::GetAtt``, a made topic as its ``Ref``,
    text naming the account, Region or partition as ``Fn::Sub``."""
    from draco.bootstrap.instructions import Var

    if isinstance(value, Var):
        return {"Fn::GetAtt": [logical[value.name], "Arn"]}
    if isinstance(value, dict):
        return {k: _intrinsic(v, logical) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_intrinsic(v, logical) for v in value]
    if isinstance(value, str) and value in logical and logical[value].startswith("Topic"):
        return {"Ref": logical[value]}
    if isinstance(value, str) and "${AWS::" in value:
        return {"Fn::Sub": value}
    return value
