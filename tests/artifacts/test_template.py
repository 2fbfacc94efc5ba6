"""The SAM template (sfn/template.yaml): cfn-lint passes, and it deploys the machine, the Lambda, the chosen
store, the intervention rule, topic and queue, with the same policies as the iam/ files."""

from __future__ import annotations

import importlib
import importlib.util
import json
import shutil
import subprocess
import sys
from typing import Any

import pytest

from tests.helpers.artifacts import (
    ASL_PATH,
    REGION,
    TEMPLATE_PATH,
    JsonDict,
    as_list,
    asl_states,
    iam_policy,
    load_yaml_template,
    normalise_template_value,
    placeholders,
    statements,
    template_resources,
)

# ------------------------------------------------------------------------------ template


def cfn_lint_command() -> list[str] | None:
    if importlib.util.find_spec("cfnlint") is not None:
        return [sys.executable, "-m", "cfnlint"]
    exe = shutil.which("cfn-lint")
    return [exe] if exe else None


def test_template_passes_cfn_lint() -> None:
    command = cfn_lint_command()
    if command is None:
        pytest.skip("cfn-lint is neither importable nor on PATH (pip install cfn-lint to run this check)")
    proc = subprocess.run(
        [*command, "--format", "json", str(TEMPLATE_PATH)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    try:
        findings: list[JsonDict] = json.loads(proc.stdout or "[]")
    except json.JSONDecodeError:
        pytest.fail(f"cfn-lint did not answer JSON (rc={proc.returncode}): {proc.stdout}{proc.stderr}")
    errors = [f for f in findings if f.get("Level") == "Error"]
    assert not errors, json.dumps(errors, indent=2)
    assert proc.returncode & 2 == 0, proc.stdout + proc.stderr


def test_template_deploys_the_machine_with_the_lambda_and_the_store() -> None:
    template = load_yaml_template()
    assert template["Transform"] == "AWS::Serverless-2016-10-31"
    resources = template["Resources"]
    machine = resources["StateMachine"]["Properties"]
    assert (TEMPLATE_PATH.parent / machine["DefinitionUri"]).resolve() == ASL_PATH.resolve()
    assert set(machine["DefinitionSubstitutions"]) == placeholders(ASL_PATH.read_text(encoding="utf-8"))
    assert machine["Type"] == "STANDARD"
    assert machine["Logging"]["IncludeExecutionData"] is False, "task tokens must stay out of the logs"
    function = resources["EngineFunction"]
    assert function["Type"] == "AWS::Serverless::Function"
    props = function["Properties"]
    assert props["Handler"] == "rds_maint.lambda_handler.handler"
    assert props["Runtime"] == "python3.12"
    assert "RDS_MAINT_STORE" in props["Environment"]["Variables"]
    assert function["Metadata"]["BuildMethod"] == "makefile", "sam build runs make build-EngineFunction"
    bucket = resources["StateBucket"]["Properties"]
    assert bucket["VersioningConfiguration"]["Status"] == "Enabled"
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert all(bucket["PublicAccessBlockConfiguration"][k] is True for k in bucket["PublicAccessBlockConfiguration"])
    deny = resources["StateBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]
    assert deny["Effect"] == "Deny" and deny["Condition"]["Bool"]["aws:SecureTransport"] == "false"
    log_groups = [r for r in resources.values() if r["Type"] == "AWS::Logs::LogGroup"]
    assert len(log_groups) >= 2


def test_template_rule_notifies_and_records_the_task_token() -> None:
    resources = template_resources()
    rule = resources["InterventionRule"]["Properties"]
    assert rule["EventPattern"]["source"] == ["rds-maint-machine"]
    assert rule["EventPattern"]["detail-type"] == ["InterventionRequired"]
    targets = {t["Id"]: t for t in rule["Targets"]}
    record = next(t for t in targets.values() if t["Arn"] == {"Fn::GetAtt": ["EngineFunction", "Arn"]})
    transformer = record["InputTransformer"]
    sample = transformer["InputTemplate"]
    for key, path in transformer["InputPathsMap"].items():
        assert path == f"$.detail.{key}"
        sample = sample.replace(f"<{key}>", json.dumps(f"value-of-{key}"))
    event = json.loads(sample)
    assert event["action"] == "record_intervention"
    assert event["action"] in importlib.import_module("rds_maint.lambda_handler").ACTIONS
    assert set(event["params"]) == {"task_token", "step_name", "step_index", "execution_arn"}
    assert event["operation_id"] == "value-of-operation_id"
    assert any(t["Arn"] == {"Ref": "InterventionTopic"} for t in targets.values())
    assert resources["InterventionEmail"]["Condition"] == "HasNotificationEmail"
    assert "NotificationEmail" in load_yaml_template()["Parameters"]


@pytest.mark.parametrize(
    ("resource", "policy_file"),
    [
        ("EngineRole", "lambda-policy.json"),
        ("StateMachineRole", "state-machine-policy.json"),
        ("OperatorPolicy", "operator-policy.json"),
        ("EngineRole/1", "opt-in-policy.json"),
    ],
)
def test_template_policies_match_the_iam_files(resource: str, policy_file: str) -> None:
    name, _, index = resource.partition("/")
    props = template_resources()[name]["Properties"]
    if "PolicyDocument" in props:
        document = props["PolicyDocument"]
    else:
        inline = props["Policies"][int(index or 0)]
        document = normalise_template_value(inline)["PolicyDocument"]  # the opt-in policy is an Fn::If
    in_template = normalise_template_value(statements(document))
    assert in_template == statements(iam_policy(policy_file))


def test_template_creates_only_the_chosen_state_store() -> None:
    template = load_yaml_template()
    assert template["Parameters"]["StateStore"]["AllowedValues"] == ["s3", "dynamodb"]
    conditions = template["Conditions"]
    assert conditions["UseS3Store"] == {"Fn::Equals": [{"Ref": "StateStore"}, "s3"]}
    assert conditions["UseTableStore"] == {"Fn::Equals": [{"Ref": "StateStore"}, "dynamodb"]}
    resources = template["Resources"]
    assert resources["StateBucket"]["Condition"] == "UseS3Store"
    assert resources["StateBucketPolicy"]["Condition"] == "UseS3Store"
    assert resources["StateTable"]["Condition"] == "UseTableStore"
    store_url = resources["EngineFunction"]["Properties"]["Environment"]["Variables"]["RDS_MAINT_STORE"]
    assert store_url == {
        "Fn::If": [
            "UseTableStore",
            {"Fn::Sub": "dynamodb://${StateTable}"},
            {"Fn::Sub": "s3://${StateBucket}/${StatePrefix}"},
        ]
    }
    for name in ("EngineRole", "OperatorPolicy"):
        props = resources[name]["Properties"]
        document = props["PolicyDocument"] if "PolicyDocument" in props else props["Policies"][0]["PolicyDocument"]
        for statement in document["Statement"]:
            actions = {action.split(":")[0] for action in as_list(normalise_template_value(statement)["Action"])}
            wanted = "UseS3Store" if "s3" in actions else "UseTableStore" if "dynamodb" in actions else None
            if wanted is None:
                assert "Fn::If" not in statement
                continue
            assert set(statement) == {"Fn::If"}, f"{name}: a store statement must exist only for its store"
            condition, _, otherwise = statement["Fn::If"]
            assert condition == wanted and otherwise == {"Ref": "AWS::NoValue"}, f"{name}: {statement}"


def test_template_table_has_the_layout_init_store_creates() -> None:
    """`rds-maint init --store dynamodb://TABLE` and the stack must make the same table."""
    moto: Any = pytest.importorskip("moto")
    boto3: Any = pytest.importorskip("boto3")
    init_store = importlib.import_module("rds_maint.store").init_store
    table = template_resources()["StateTable"]["Properties"]
    with moto.mock_aws():
        init_store("dynamodb://rds-maint-layout", region=REGION)
        client = boto3.client("dynamodb", region_name=REGION)
        made = client.describe_table(TableName="rds-maint-layout")["Table"]
        backups = client.describe_continuous_backups(TableName="rds-maint-layout")["ContinuousBackupsDescription"]

    def by_name(items: list[JsonDict]) -> dict[str, Any]:
        return {item["AttributeName"]: item.get("AttributeType", item.get("KeyType")) for item in items}

    assert by_name(table["AttributeDefinitions"]) == by_name(made["AttributeDefinitions"])
    assert table["KeySchema"] == made["KeySchema"]
    indexes = {
        index["IndexName"]: {"KeySchema": index["KeySchema"], "Projection": index["Projection"]}
        for index in made["GlobalSecondaryIndexes"]
    }
    assert {index.pop("IndexName"): index for index in table["GlobalSecondaryIndexes"]} == indexes
    assert set(indexes) == {"by_cluster", "by_state"}
    assert made["BillingModeSummary"]["BillingMode"] == table["BillingMode"] == "PAY_PER_REQUEST"
    assert made["SSEDescription"]["Status"] == "ENABLED" and table["SSESpecification"]["SSEEnabled"] is True
    pitr = backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"]
    assert pitr == "ENABLED" and table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True


def intervention_targets() -> dict[str, JsonDict]:
    rule = template_resources()["InterventionRule"]["Properties"]
    return {str(t["Id"]): t for t in rule["Targets"]}


def test_template_sns_notice_is_a_readable_message_without_the_task_token() -> None:
    notify = next(t for t in intervention_targets().values() if t["Arn"] == {"Ref": "InterventionTopic"})
    transformer = notify["InputTransformer"]
    paths = transformer["InputPathsMap"]
    assert "$.detail.task_token" not in paths.values() and "task_token" not in paths
    assert not any(path in ("$", "$.detail") for path in paths.values()), "the whole event carries the token"
    assert {"operation_id", "target", "pause_reason", "step_name", "step_index"} <= set(paths)
    text, variables = transformer["InputTemplate"]["Fn::Sub"]
    assert "<aws.events.event" not in text
    assert not text.lstrip().startswith("{"), "a text message for people, not JSON"
    for key in paths:
        assert f"<{key}>" in text, f"{key} is mapped but never shown"
    notify_state = next(s for s in asl_states().values() if "putEvents.waitForTaskToken" in str(s.get("Resource")))
    allowed = notify_state["Parameters"]["Entries"][0]["Detail"]["allowed_actions"]
    assert ", ".join(allowed) in text, "the message lists exactly the actions the machine offers"
    assert "rds-maint respond <operation_id> --action" in text and "--store ${StoreUrl}" in text
    assert set(variables) == {"StoreUrl"}
    # The token stays in the event for the engine Lambda (and for any target an operator adds).
    record = intervention_targets()["RecordTaskToken"]
    assert record["InputTransformer"]["InputPathsMap"]["task_token"] == "$.detail.task_token"


def test_template_topic_is_encrypted_with_a_key_eventbridge_may_use() -> None:
    resources = template_resources()
    key_ref = resources["InterventionTopic"]["Properties"]["KmsMasterKeyId"]
    # alias/aws/sns cannot work: EventBridge may not use the AWS managed key, whose policy is fixed.
    assert key_ref == {"Ref": "InterventionTopicKey"}
    key = resources["InterventionTopicKey"]
    assert key["Type"] == "AWS::KMS::Key" and key["Properties"]["EnableKeyRotation"] is True
    grants = [
        s
        for s in key["Properties"]["KeyPolicy"]["Statement"]
        if "events.amazonaws.com" in as_list(s.get("Principal", {}).get("Service", []))
    ]
    assert grants and {"kms:GenerateDataKey*", "kms:Decrypt"} <= set(as_list(grants[0]["Action"]))
    assert grants[0]["Effect"] == "Allow"
    publishers = resources["InterventionTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert all(s["Condition"]["ArnEquals"]["aws:SourceArn"]["Fn::GetAtt"][1] == "Arn" for s in publishers)


def test_template_undelivered_intervention_events_land_in_a_queue_with_an_alarm() -> None:
    resources = template_resources()
    dlq = {"Fn::GetAtt": ["InterventionDeadLetterQueue", "Arn"]}
    for target in intervention_targets().values():
        assert target["DeadLetterConfig"]["Arn"] == dlq, f"{target['Id']} needs a dead-letter queue"
        assert target["RetryPolicy"]["MaximumRetryAttempts"] >= 1
    queue = resources["InterventionDeadLetterQueue"]["Properties"]
    assert queue["SqsManagedSseEnabled"] is True, "the dead letters carry the task token"
    assert queue["MessageRetentionPeriod"] == 14 * 24 * 3600
    policy = resources["InterventionDeadLetterQueuePolicy"]["Properties"]
    assert policy["Queues"] == [{"Ref": "InterventionDeadLetterQueue"}]
    allow = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    assert len(allow) == 1 and allow[0]["Principal"] == {"Service": "events.amazonaws.com"}
    assert allow[0]["Action"] == "sqs:SendMessage" and allow[0]["Resource"] == dlq
    assert allow[0]["Condition"]["ArnEquals"]["aws:SourceArn"] == {"Fn::GetAtt": ["InterventionRule", "Arn"]}
    alarm = resources["UndeliveredNoticeAlarm"]["Properties"]
    assert alarm["Namespace"] == "AWS/SQS" and alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["InterventionDeadLetterQueue", "QueueName"]}}
    ]
    assert alarm["Threshold"] == 0 and alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["AlarmActions"] == [{"Ref": "InterventionTopic"}]
