"""The offline IAM evaluator on cases whose answer the IAM User Guide states ("Policy evaluation
logic", "IAM JSON policy elements: Condition operators", "Single-valued vs. multivalued context keys")."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers.iam_evaluator import (
    ContextValue,
    Request,
    UnsupportedPolicy,
    arn_match,
    condition_holds,
    evaluate,
    glob_match,
)

DB = "arn:aws:rds:us-east-1:123456789012:db:orders-1"


def allow(**statement: Any) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", **statement}]}


def test_wildcards_star_and_question_mark() -> None:
    assert glob_match("arn:aws:rds:*:*:db:*-old?", "arn:aws:rds:us-east-1:1:db:orders-old1")
    assert not glob_match("arn:aws:rds:*:*:db:*-old?", "arn:aws:rds:us-east-1:1:db:orders-old12")
    assert not glob_match("db:*-rdsm-*", "*")  # a name pattern never matches the bare wildcard
    assert glob_match("rds:Describe*", "RDS:DescribeDBClusters", ignore_case=True)
    assert not glob_match("arn:aws:rds:*:*:db:Orders", "arn:aws:rds:us-east-1:1:db:orders")  # case-sensitive
    assert arn_match("arn:aws:rds:*:*:cluster:*", "arn:aws:rds:us-east-1:1:cluster:a")
    assert not arn_match("arn:aws:rds:*:*:cluster:*", "arn:aws:rds:us-east-1:1:db:a")


def test_no_statement_is_an_implicit_deny_and_an_explicit_deny_wins() -> None:
    assert not evaluate([], Request("rds:DeleteDBInstance", DB)).allowed
    granted = allow(Action="rds:DeleteDBInstance", Resource="*")
    assert evaluate([granted], Request("rds:DeleteDBInstance", DB)).allowed
    deny = {"Statement": [{"Effect": "Deny", "Action": "rds:*", "Resource": DB}]}
    decision = evaluate([granted, deny], Request("rds:DeleteDBInstance", DB))
    assert not decision.allowed and "explicitly denied" in decision.reason


def test_action_is_case_insensitive_and_not_action_and_not_resource_invert() -> None:
    assert evaluate([allow(Action="RDS:deletedbinstance", Resource=DB)], Request("rds:DeleteDBInstance", DB)).allowed
    everything_but = allow(NotAction="rds:Delete*", Resource="*")
    assert evaluate([everything_but], Request("rds:RebootDBInstance", DB)).allowed
    assert not evaluate([everything_but], Request("rds:DeleteDBInstance", DB)).allowed
    elsewhere = allow(Action="rds:RebootDBInstance", NotResource="arn:aws:rds:*:*:db:orders-*")
    assert not evaluate([elsewhere], Request("rds:RebootDBInstance", DB)).allowed
    assert evaluate([elsewhere], Request("rds:RebootDBInstance", DB.replace("orders", "pay"))).allowed


def test_null_tells_present_from_absent() -> None:
    key = "rds:db-tag/owner"
    assert condition_holds("Null", key, ["false"], {key: "me"})
    assert not condition_holds("Null", key, ["false"], {})
    assert condition_holds("Null", key, ["true"], {})
    assert condition_holds("Null", "aws:TagKeys", ["true"], {"aws:TagKeys": []})  # empty = absent


@pytest.mark.parametrize(
    ("operator", "present", "absent"),
    [
        ("StringEquals", True, False),
        ("StringNotEquals", False, True),  # a negated operator is true when the key is missing
        ("StringLike", True, False),
        ("StringNotLike", False, True),
        ("StringEqualsIfExists", True, True),
    ],
)
def test_a_missing_key_fails_positive_operators_and_satisfies_negated_ones(
    operator: str, present: bool, absent: bool
) -> None:
    assert condition_holds(operator, "aws:ResourceTag/env", ["prod"], {"aws:ResourceTag/env": "prod"}) is present
    assert condition_holds(operator, "aws:ResourceTag/env", ["prod"], {}) is absent


def test_values_of_one_key_are_ored_keys_and_operators_anded() -> None:
    policy = allow(
        Action="rds:RebootDBInstance",
        Resource="*",
        Condition={
            "StringEquals": {"aws:ResourceTag/env": ["dev", "test"], "aws:ResourceTag/team": "orders"},
            "Bool": {"aws:SecureTransport": "true"},
        },
    )
    ok: dict[str, ContextValue] = {
        "aws:ResourceTag/env": "test",
        "aws:ResourceTag/team": "orders",
        "aws:SecureTransport": True,
    }
    assert evaluate([policy], Request("rds:RebootDBInstance", DB, ok)).allowed
    assert not evaluate([policy], Request("rds:RebootDBInstance", DB, {**ok, "aws:ResourceTag/team": "x"})).allowed
    assert not evaluate([policy], Request("rds:RebootDBInstance", DB, {**ok, "aws:SecureTransport": False})).allowed


def test_set_operators_on_multivalued_keys() -> None:
    keys = {"aws:TagKeys": ["team", "rds-maint:operation-id"]}
    assert condition_holds("ForAnyValue:StringEquals", "aws:TagKeys", ["rds-maint:operation-id"], keys)
    assert not condition_holds("ForAllValues:StringEquals", "aws:TagKeys", ["rds-maint:operation-id"], keys)
    assert condition_holds("ForAllValues:StringEquals", "aws:TagKeys", ["team", "rds-maint:operation-id", "x"], keys)
    # the documented pitfall: ForAllValues is true when the key is absent or empty; ForAnyValue false
    assert condition_holds("ForAllValues:StringEquals", "aws:TagKeys", ["team"], {})
    assert not condition_holds("ForAnyValue:StringEquals", "aws:TagKeys", ["team"], {"aws:TagKeys": []})
    assert condition_holds("ForAllValues:StringNotEquals", "aws:TagKeys", ["secret"], keys)
    with pytest.raises(UnsupportedPolicy):
        condition_holds("StringEquals", "aws:TagKeys", ["team"], keys)  # needs a set operator


def test_arn_and_string_like_operators() -> None:
    role = "arn:aws:iam::123456789012:role/rds-monitoring"
    assert condition_holds("ArnLike", "aws:SourceArn", ["arn:aws:iam::*:role/rds-*"], {"aws:SourceArn": role})
    assert condition_holds("ArnEquals", "aws:SourceArn", [role], {"aws:SourceArn": role})
    assert condition_holds("ArnNotLike", "aws:SourceArn", ["arn:aws:iam::*:role/x*"], {"aws:SourceArn": role})
    assert condition_holds("StringEqualsIgnoreCase", "k", ["ABC"], {"k": "abc"})
    assert condition_holds("StringLike", "s3:prefix", ["rds-maint/*"], {"s3:prefix": "rds-maint/op-1"})


def test_unsubstituted_placeholders_and_unknown_operators_are_refused() -> None:
    with pytest.raises(UnsupportedPolicy):
        evaluate([allow(Action="s3:GetObject", Resource="arn:aws:s3:::${StateBucket}/*")], Request("s3:GetObject", "x"))
    weird = allow(Action="rds:RebootDBInstance", Resource="*", Condition={"NumericLessThan": {"k": "1"}})
    with pytest.raises(UnsupportedPolicy):
        evaluate([weird], Request("rds:RebootDBInstance", DB, {"k": "0"}))


def test_a_denial_says_which_condition_failed() -> None:
    policy = allow(
        Action="rds:DeleteDBInstance", Resource="*", Condition={"Null": {"rds:db-tag/rds-maint:operation-id": "false"}}
    )
    decision = evaluate([policy], Request("rds:DeleteDBInstance", DB))
    assert not decision.allowed and "rds:db-tag/rds-maint:operation-id" in decision.reason
