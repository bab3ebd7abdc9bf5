"""Names DRACO derives and reads: transit and DR copy ids, snapshot ARNs, DR copy tags.

Derived ids must be valid manual RDS snapshot ids for every valid source id,
and two different source snapshots must never share a transit copy or DR copy
(the pipeline's idempotency rests on that). The validity check below is written
from AWS's rules, not from the module's regexes.
"""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chalicelib_shared.kinds import parse_arn
from chalicelib_shared.naming import (
    DR_PREFIX,
    TAGS_DROPPED_TAG,
    TRANSIT_PREFIX,
    arn_tag,
    aws_tags,
    carried_tags,
    dr_copy_id,
    dr_copy_tags,
    is_transit_id,
    key_alias,
    tag_dict,
    transit_id,
)
from tests.properties import examples

ACCT = "111111111111"
OTHER_ACCT = "222222222222"
QUICK = examples(1)


def is_manual_snapshot_id(value: str) -> bool:
    """AWS's rule for every kind: 1-63 (DB cluster snapshots; DB snapshots 255) letters, digits,
    hyphens; a letter first; no '--'; no trailing '-'."""
    allowed = set(string.ascii_letters + string.digits + "-")
    return (
        1 <= len(value) <= 63
        and value[0] in string.ascii_letters
        and set(value) <= allowed
        and "--" not in value
        and not value.endswith("-")
    )


def _tidy(body: str) -> str:
    while "--" in body:
        body = body.replace("--", "-")
    return body[:254].rstrip("-")


@st.composite
def source_ids(draw: st.DrawFn, lower: bool = False) -> str:
    """Valid source snapshot ids: manual (up to 255 characters), automated ``rds:``, AWS Backup."""
    letters = string.ascii_lowercase if lower else string.ascii_letters
    prefix = draw(st.sampled_from(["", "rds:", "awsbackup:"]))
    first = draw(st.sampled_from(letters))
    body = _tidy(draw(st.text(alphabet=letters + string.digits + "-", max_size=254)))
    return prefix + first + body


def automated_id(length: int) -> str:
    return "rds:" + ("a" * length)[: length - 17] + "-2026-01-01-03-00"


# --- derived ids ---------------------------------------------------------------------------


def test_a_plain_manual_id_keeps_its_readable_name() -> None:
    assert transit_id("db1-snap-2026") == "draco-transit-db1-snap-2026"
    assert dr_copy_id(ACCT, "db1-snap-2026") == f"draco-{ACCT}-db1-snap-2026"


def test_derived_ids_are_lower_case_like_rds_identifiers() -> None:
    assert transit_id("DB1-Snap") == "draco-transit-db1-snap"
    assert dr_copy_id(ACCT, "rds:DB1-2026-01-01-03-00") == dr_copy_id(ACCT, "rds:DB1-2026-01-01-03-00").lower()


@pytest.mark.parametrize(
    "source_id",
    [
        "a",
        "rds:db-2026-01-01-03-00",
        "rds:tpc-data-cluster-tpcdatabasecluster-1cyxlg7w55kzf-2020-07-28-03-50",
        "awsbackup:job-1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d",
        "a" * 255,
        "A" * 255,
        "a" + "-b" * 127,
        "a" * 253 + "-b",
        "rds:" + "a" * 255,
        "awsbackup:" + "x" * 254 + "1",
        automated_id(84),
    ],
)
def test_derived_ids_are_valid_manual_snapshot_ids(source_id: str) -> None:
    assert is_manual_snapshot_id(transit_id(source_id)), transit_id(source_id)
    assert is_manual_snapshot_id(dr_copy_id(ACCT, source_id)), dr_copy_id(ACCT, source_id)


@QUICK
@given(source_ids())
def test_derived_ids_are_valid_for_every_valid_source_id(source_id: str) -> None:
    for derived in (transit_id(source_id), dr_copy_id(ACCT, source_id)):
        assert is_manual_snapshot_id(derived), (source_id, derived)
        assert derived == derived.lower()


@QUICK
@given(source_ids())
def test_derived_ids_ignore_case_as_rds_does_and_carry_their_prefix(source_id: str) -> None:
    assert transit_id(source_id.upper()) == transit_id(source_id.lower())
    assert dr_copy_id(ACCT, source_id.upper()) == dr_copy_id(ACCT, source_id.lower())
    assert transit_id(source_id).startswith(TRANSIT_PREFIX)
    assert dr_copy_id(ACCT, source_id).startswith(f"{DR_PREFIX}{ACCT}-")


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("rds:db-1", "rds-db-1"),
        ("awsbackup:job-1", "awsbackup-job-1"),
        ("rds:db-1", "awsbackup:db-1"),
        ("a" * 255, "a" * 254 + "b"),
        ("rds:" + "a" * 250 + "-1", "rds:" + "a" * 250 + "-2"),
        ("a" * 250, "a" * 249),
    ],
)
def test_distinct_source_ids_get_distinct_derived_ids(one: str, other: str) -> None:
    assert transit_id(one) != transit_id(other)
    assert dr_copy_id(ACCT, one) != dr_copy_id(ACCT, other)


@QUICK
@given(source_ids(lower=True), source_ids(lower=True))
def test_derived_ids_are_injective(one: str, other: str) -> None:
    if one != other:
        assert transit_id(one) != transit_id(other)
        assert dr_copy_id(ACCT, one) != dr_copy_id(ACCT, other)


def test_a_manual_id_shaped_like_a_hashed_id_does_not_collide_with_its_source() -> None:
    """``rds:db-1`` becomes ``<prefix>rds-db-1-<hash8>``; a manual snapshot literally named
    ``rds-db-1-<hash8>`` keeps its name and lands on the same transit copy and DR copy."""
    hashed = transit_id("rds:db-1")
    lookalike = hashed.removeprefix(TRANSIT_PREFIX)
    assert lookalike != "rds:db-1"
    assert transit_id(lookalike) != hashed
    dr_hashed = dr_copy_id(ACCT, "rds:db-1")
    assert dr_copy_id(ACCT, dr_hashed.removeprefix(f"{DR_PREFIX}{ACCT}-")) != dr_hashed


@QUICK
@given(source_ids())
def test_dr_copy_id_keeps_two_source_accounts_apart(source_id: str) -> None:
    assert dr_copy_id(ACCT, source_id) != dr_copy_id(OTHER_ACCT, source_id)


def test_is_transit_id_recognises_transit_copies_only() -> None:
    assert is_transit_id(transit_id("rds:db-1"))
    assert is_transit_id("DRACO-TRANSIT-db1")
    assert not is_transit_id(dr_copy_id(ACCT, "db1"))
    assert not is_transit_id("db1-draco-transit-x")


def test_key_alias_is_the_originals() -> None:
    assert key_alias("db1") == "alias/DRACO-db1"


# --- snapshot ARNs ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arn", "partition", "region", "kind", "snapshot_id"),
    [
        ("arn:aws:rds:us-east-1:111111111111:snapshot:db1-snap", "aws", "us-east-1", "RDS", "db1-snap"),
        ("arn:aws:rds:eu-west-1:111111111111:cluster-snapshot:cl-1", "aws", "eu-west-1", "RDS Cluster", "cl-1"),
        ("arn:aws-cn:rds:cn-north-1:111111111111:snapshot:db1", "aws-cn", "cn-north-1", "RDS", "db1"),
        (
            "arn:aws-cn:rds:cn-northwest-1:111111111111:cluster-snapshot:c",
            "aws-cn",
            "cn-northwest-1",
            "RDS Cluster",
            "c",
        ),
        ("arn:aws-us-gov:rds:us-gov-west-1:111111111111:snapshot:db1", "aws-us-gov", "us-gov-west-1", "RDS", "db1"),
        (
            "arn:aws-us-gov:rds:us-gov-east-1:111111111111:cluster-snapshot:rds:cl-2026-01-01-03-00",
            "aws-us-gov",
            "us-gov-east-1",
            "RDS Cluster",
            "rds:cl-2026-01-01-03-00",
        ),
        (
            "arn:aws:rds:ap-southeast-2:111111111111:snapshot:rds:db-2026-01-01-03-00",
            "aws",
            "ap-southeast-2",
            "RDS",
            "rds:db-2026-01-01-03-00",
        ),
        (
            "arn:aws:rds:us-east-1:111111111111:snapshot:awsbackup:job-1a2b3c4d-5e6f",
            "aws",
            "us-east-1",
            "RDS",
            "awsbackup:job-1a2b3c4d-5e6f",
        ),
    ],
)
def test_parse_arn_splits_snapshot_arns(arn: str, partition: str, region: str, kind: str, snapshot_id: str) -> None:
    parsed = parse_arn(arn)
    assert parsed is not None
    assert (parsed.partition, parsed.region, parsed.account) == (partition, region, ACCT)
    assert (parsed.kind, parsed.snapshot_id) == (kind, snapshot_id)


@pytest.mark.parametrize(
    "arn",
    [
        "",
        "db1-snap",
        "arn:aws:rds:us-east-1:111111111111:db:db1",
        "arn:aws:rds:us-east-1:111111111111:cluster:cl1",
        "arn:aws:rds:us-east-1:111111111111:snapshot",
        "arn:aws:rds:us-east-1:111111111111:snapshot:",
        "arn:aws:ec2:us-east-1::snapshot/snap-0123456789abcdef0",
        "arn:aws:rds:us-east-1:111111111111:db-snapshot:db1",
        "arn:aws-iso:rds:us-iso-east-1:111111111111:snapshot:db1",
        "arn:aws:rds:us-east-1:11111111111:snapshot:db1",
        "arn:aws:rds:us-east-1::snapshot:db1",
        "arn:aws:rds::111111111111:snapshot:db1",
        "arn:aws:rds:US-EAST-1:111111111111:snapshot:db1",
        "arn:aws:rds:us-east-1:111111111111:snapshot:1db",
        "arn:aws:rds:us-east-1:111111111111:snapshot:db--1",
        "arn:aws:rds:us-east-1:111111111111:snapshot:db1-",
        "arn:aws:rds:us-east-1:111111111111:snapshot:db_1",
        "arn:aws:rds:us-east-1:111111111111:snapshot:rds:db:1",
        "arn:aws:rds:us-east-1:111111111111:snapshot:shared:db1",
        " arn:aws:rds:us-east-1:111111111111:snapshot:db1",
    ],
)
def test_parse_arn_rejects_what_is_not_an_rds_snapshot_arn(arn: str) -> None:
    assert parse_arn(arn) is None


@pytest.mark.parametrize(
    "arn",
    ["arn:aws:rds:us-east-1:111111111111:snapshot:db1\n", "arn:aws:rds:us-east-1:111111111111:snapshot:db1\nx"],
)
def test_parse_arn_rejects_a_line_break(arn: str) -> None:
    """``_ARN`` and ``SNAPSHOT_ID`` end in ``$``, which also matches before a final newline."""
    assert parse_arn(arn) is None


# --- tags ------------------------------------------------------------------------------------

OWN = {"Draco_Copy": "DR", "Draco_Source": "db1", "Draco_SourceArn": "arn", "Draco_SourceTime": "t"}


def test_dr_copy_tags_renames_reserved_aws_keys() -> None:
    tags, dropped = dr_copy_tags({"aws:cloudformation:stack-name": "prod", "AWS:Backup": "x", "team": "a"}, OWN)
    assert tags["origin:aws:cloudformation:stack-name"] == "prod"
    assert tags["origin:AWS:Backup"] == "x"
    assert tags["team"] == "a"
    assert not [key for key in tags if key.lower().startswith("aws:")]
    assert dropped == []


def test_dr_copy_tags_keeps_draco_own_tags_on_a_clash() -> None:
    tags, _ = dr_copy_tags({"Draco_Source": "forged", "Draco_Copy": "no", "team": "a"}, OWN)
    assert {key: tags[key] for key in OWN} == OWN
    assert tags["team"] == "a"


def test_dr_copy_tags_keeps_50_and_returns_the_dropped_keys() -> None:
    source = {f"tag{i:02d}": str(i) for i in range(60)}
    tags, dropped = dr_copy_tags(source, OWN)
    assert len(tags) == 50
    assert {key: tags[key] for key in OWN} == OWN
    assert set(tags) | set(dropped) == set(source) | set(OWN) | {TAGS_DROPPED_TAG}
    assert not set(tags) & set(dropped)
    assert dropped == [f"tag{i:02d}" for i in range(45, 60)]  # the first 45 in key order fit, and the note
    assert tags[TAGS_DROPPED_TAG] == ",".join(dropped)


def test_the_lifecycle_is_kept_first_whatever_its_key_order() -> None:
    source = {f"a{i:02d}": "v" for i in range(60)} | {"Draco_Lifecycle": "Standard"}
    tags, dropped = dr_copy_tags(source, OWN)
    assert tags["Draco_Lifecycle"] == "Standard" and "Draco_Lifecycle" not in dropped


def test_carried_tags_keep_50_with_the_lifecycle_and_a_note_of_what_was_left_out() -> None:
    """EBS merges a volume's tags with its snapshot's: more than a copy-request (and a copy) may carry."""
    source = {f"vol{i:02d}": "v" for i in range(55)} | {"Draco_Lifecycle": "Weekly", "k" * 128: "too long"}
    tags, dropped = carried_tags(source)
    assert len(tags) == 50 and tags["Draco_Lifecycle"] == "Weekly"
    assert dropped == [*[f"vol{i:02d}" for i in range(48, 55)], "k" * 128]
    assert tags[TAGS_DROPPED_TAG].startswith("kkk") and len(tags[TAGS_DROPPED_TAG]) <= 255
    again, more = dr_copy_tags(tags, OWN)  # DR keeps production's note and adds its own drops to it
    assert len(again) == 50 and again[TAGS_DROPPED_TAG].startswith(tags[TAGS_DROPPED_TAG][:40])


def test_a_long_source_arn_fits_a_tag_and_stays_distinct() -> None:
    short = "arn:aws:rds:us-east-1:111111111111:snapshot:db1"
    long_one = "arn:aws:rds:us-east-1:111111111111:snapshot:" + "a" * 255
    assert arn_tag(short) == short
    assert len(arn_tag(long_one)) == 255 and arn_tag(long_one) != arn_tag(long_one[:-1] + "b")


def test_dr_copy_tags_drops_nothing_at_exactly_50() -> None:
    source = {f"tag{i:02d}": "v" for i in range(46)}  # with OWN's 4
    tags, dropped = dr_copy_tags(source, OWN)
    assert (len(tags), dropped) == (50, [])


def test_dr_copy_tags_reports_renamed_keys_when_dropping_them() -> None:
    source = {f"a{i:02d}": "v" for i in range(46)} | {"aws:late": "v"}  # last in key order
    tags, dropped = dr_copy_tags(source, OWN)
    assert dropped == ["a45", "aws:late"] and "origin:aws:late" not in tags


def test_dr_copy_tags_never_makes_a_key_longer_than_aws_allows() -> None:
    """A valid 128-character ``aws:`` key becomes 135 characters once renamed; AWS refuses
    tag keys over 128, so the DR copy call fails for that snapshot."""
    tags, dropped = dr_copy_tags({"aws:" + "k" * 124: "v"}, OWN)
    assert all(len(key) <= 127 for key in tags), [key for key in tags if len(key) > 127]  # EC2's 127
    assert dropped == ["aws:" + "k" * 124]


@QUICK
@given(st.dictionaries(st.text(min_size=1, max_size=20), st.text(max_size=10), max_size=80))
def test_dr_copy_tags_always_fits_the_limit_and_keeps_own_tags(source: dict[str, str]) -> None:
    tags, dropped = dr_copy_tags(source, OWN)
    assert len(tags) <= 50 and (TAGS_DROPPED_TAG in tags) == bool(dropped or TAGS_DROPPED_TAG in source)
    assert {key: tags[key] for key in OWN} == OWN
    assert not [key for key in tags if key.lower().startswith(("aws:", "rds:"))]
    for key, value in source.items():  # every source tag is kept (maybe renamed) or reported
        renamed = f"origin:{key}" if key.lower().startswith(("aws:", "rds:")) else key
        assert key in dropped or key == TAGS_DROPPED_TAG or (tags.get(renamed) == value and renamed not in OWN)


def test_tag_dict_reads_pairs_and_aws_lists() -> None:
    assert tag_dict([("a", "1"), ("b", "")]) == {"a": "1", "b": ""}
    assert tag_dict([{"Key": "a", "Value": "1"}, {"Key": "b"}]) == {"a": "1", "b": ""}
    assert aws_tags({"a": "1"}) == [{"Key": "a", "Value": "1"}]
    assert tag_dict(aws_tags({"a": "1", "b": "2"})) == {"a": "1", "b": "2"}
