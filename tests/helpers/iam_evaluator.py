"""A small, offline evaluator of identity-based IAM policies, for the policy tests.

No maintained Python package evaluates IAM policies offline: parliament and policy_sentry lint
and write policies, cloudsplaining reports risky grants, and the AWS policy simulator is an API
call to a real account. So the tests carry this one. It follows the IAM User Guide's
"Policy evaluation logic" for one principal with identity policies only (no SCPs, boundaries or
resource policies):

* an explicit Deny in any statement wins; otherwise an Allow is needed; otherwise implicit deny;
* Action / NotAction and Resource / NotResource with `*` and `?` wildcards (actions case-insensitive,
  resources case-sensitive);
* conditions: operators of one block are ANDed, keys of one operator ANDed, values of one key ORed;
  String*, Arn*, Null and Bool operators, the `ForAnyValue:` / `ForAllValues:` set prefixes and the
  `IfExists` suffix ("Condition operators", "Single-valued vs. multivalued context keys");
* a key absent from the request: positive operators are false, negated ones (`StringNotEquals`,
  `ArnNotLike`, ...) are true, `...IfExists` is true, `ForAllValues:` is true, `ForAnyValue:` false.

Policy variables (`${aws:username}` and the like) are not supported: a policy that still holds
`${` after the placeholders were substituted is refused rather than misread.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

ContextValue = str | bool | Sequence[str]
Context = Mapping[str, ContextValue]
Policy = Mapping[str, Any]

_NEGATED = ("StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike", "ArnNotEquals", "ArnNotLike")


@dataclass(frozen=True)
class Request:
    """One authorisation: an action on one resource ARN, with the request's condition keys."""

    action: str
    resource: str
    context: Context = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str
    allowed_by: tuple[str, ...] = ()
    denied_by: tuple[str, ...] = ()


class UnsupportedPolicy(ValueError):
    """The policy uses something this evaluator does not model; better refused than misread."""


@lru_cache(maxsize=4096)
def _glob(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def glob_match(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    """IAM's wildcard match: `*` any run of characters (colons included), `?` exactly one."""
    return _glob(pattern, ignore_case).fullmatch(value) is not None


def arn_match(pattern: str, value: str) -> bool:
    """ArnLike: the six ARN parts matched one by one (a wildcard does not cross a part's colon,
    except in the resource part, which may hold colons itself)."""
    want = pattern.split(":", 5)
    have = value.split(":", 5)
    if len(want) != 6 or len(have) != 6:
        return False
    return all(glob_match(w, h) for w, h in zip(want, have, strict=True))


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _values(context: Context, key: str) -> list[str] | None:
    """The request's values for a condition key (keys are case-insensitive); None when absent."""
    lowered = key.lower()
    for name, value in context.items():
        if name.lower() == lowered:
            if isinstance(value, bool):
                return ["true" if value else "false"]
            if isinstance(value, str):
                return [value]
            return [str(v) for v in value]
    return None


def _compare(base: str, want: str, have: str) -> bool:
    """One policy value against one request value, for an operator without its `Not`."""
    if base == "StringEquals":
        return want == have
    if base == "StringEqualsIgnoreCase":
        return want.lower() == have.lower()
    if base == "StringLike":
        return glob_match(want, have)
    if base == "ArnEquals":
        return want == have
    if base == "ArnLike":
        return arn_match(want, have)
    if base == "Bool":
        return want.lower() == have.lower()
    raise UnsupportedPolicy(f"condition operator {base!r} is not modelled")


def _positive(operator: str) -> str:
    return operator.replace("Not", "", 1) if operator in _NEGATED else operator


def condition_holds(operator: str, key: str, wanted: Iterable[Any], context: Context) -> bool:
    """One `operator: {key: values}` entry of a Condition block."""
    want = [str(v).lower() if isinstance(v, bool) else str(v) for v in wanted]
    prefix = ""
    if ":" in operator:
        prefix, operator = operator.split(":", 1)
        if prefix not in ("ForAnyValue", "ForAllValues"):
            raise UnsupportedPolicy(f"condition set operator {prefix!r} is not modelled")
    if_exists = operator.endswith("IfExists")
    if if_exists:
        operator = operator[: -len("IfExists")]
    have = _values(context, key)
    if operator == "Null":
        absent = not have
        return any((w.lower() == "true") == absent for w in want)
    if have is not None and not have and prefix:
        have = None  # an empty multivalued key counts as absent for the set operators
    if have is None:
        if prefix == "ForAllValues" or if_exists:
            return True
        if prefix == "ForAnyValue":
            return False
        return operator in _NEGATED
    base = _positive(operator)
    negated = operator in _NEGATED

    def one(value: str) -> bool:
        matched = any(_compare(base, w, value) for w in want)
        return not matched if negated else matched

    if prefix == "ForAllValues":
        return all(one(v) for v in have)
    if prefix == "ForAnyValue":
        return any(one(v) for v in have)
    if len(have) != 1:
        raise UnsupportedPolicy(f"{operator} on the multivalued key {key!r} needs ForAnyValue/ForAllValues")
    return one(have[0])


def conditions_hold(block: Mapping[str, Mapping[str, Any]], context: Context) -> tuple[bool, str]:
    for operator, entries in block.items():
        for key, wanted in entries.items():
            if not condition_holds(operator, key, _as_list(wanted), context):
                return False, f"{operator} {key} {wanted!r} is false"
    return True, ""


def _covers(statement: Mapping[str, Any], element: str, value: str, *, arn: bool) -> bool:
    positive = element in statement
    not_element = "Not" + element
    if positive == (not_element in statement):
        raise UnsupportedPolicy(f"a statement needs exactly one of {element} and {not_element}: {statement}")
    patterns = _as_list(statement[element] if positive else statement[not_element])
    hit = any(glob_match(str(p), value, ignore_case=not arn) for p in patterns)
    return hit if positive else not hit


def _statements(policies: Iterable[Policy]) -> Iterable[Mapping[str, Any]]:
    for policy in policies:
        for statement in _as_list(policy["Statement"]):
            text = repr(statement)
            if "${" in text:
                raise UnsupportedPolicy(f"unsubstituted placeholder or policy variable in {statement.get('Sid')}")
            yield statement


def evaluate(policies: Iterable[Policy], request: Request) -> Decision:
    """Allow or deny `request` under `policies` (identity policies of one principal)."""
    allows: list[str] = []
    denies: list[str] = []
    near_misses: list[str] = []
    for index, statement in enumerate(_statements(policies)):
        sid = str(statement.get("Sid") or f"#{index}")
        if not _covers(statement, "Action", request.action, arn=False):
            continue
        if not _covers(statement, "Resource", request.resource, arn=True):
            continue
        holds, why = conditions_hold(statement.get("Condition") or {}, request.context)
        effect = statement["Effect"]
        if not holds:
            if effect == "Allow":
                near_misses.append(f"{sid}: {why}")
            continue
        (denies if effect == "Deny" else allows).append(sid)
    if denies:
        return Decision(False, f"explicitly denied by {', '.join(denies)}", tuple(allows), tuple(denies))
    if allows:
        return Decision(True, f"allowed by {', '.join(allows)}", tuple(allows))
    if near_misses:
        return Decision(False, "no statement allows it; conditions failed in " + "; ".join(near_misses))
    return Decision(False, "no statement allows this action on this resource")


def substitute(policy: Policy, values: Mapping[str, str]) -> Policy:
    """The policy with its `${Name}` placeholders (iam/README.md) replaced."""
    text = json.dumps(policy)
    for key, value in values.items():
        text = text.replace("${" + key + "}", value)
    result: Policy = json.loads(text)
    return result
