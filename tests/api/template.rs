//! `template.yaml`: the same table key as `neptun table create`, exactly the permissions the
//! function's code needs on exactly the keys it uses, its session secrets, access logs and
//! alarms.

use std::collections::BTreeSet;

use neptun_users::store::dynamodb::{KEY_ATTRIBUTE, KEY_PREFIXES, KeyPrefix};

/// The `key: value` lines of the `UsersTable` resource, in order.
fn users_table_lines() -> Vec<(String, String)> {
    let template =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/template.yaml")).unwrap();
    template
        .lines()
        .skip_while(|line| line.trim() != "UsersTable:")
        .skip(1)
        .take_while(|line| line.starts_with("    ") || line.trim().is_empty())
        .filter_map(|line| {
            let line = line.trim().trim_start_matches("- ");
            let (key, value) = line.split_once(':')?;
            Some((key.trim().to_owned(), value.trim().to_owned()))
        })
        .collect()
}

#[test]
fn the_template_declares_the_key_that_table_create_uses() {
    let lines = users_table_lines();
    let pairs: Vec<(&str, &str)> = lines
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let windows = |expected: &[(&str, &str)]| pairs.windows(expected.len()).any(|w| w == expected);
    assert!(
        windows(&[("AttributeName", KEY_ATTRIBUTE), ("AttributeType", "S")]),
        "{pairs:?}"
    );
    assert!(
        windows(&[("AttributeName", KEY_ATTRIBUTE), ("KeyType", "HASH")]),
        "{pairs:?}"
    );
    assert_eq!(
        pairs.iter().filter(|(k, _)| *k == "AttributeName").count(),
        2,
        "one attribute, one key"
    );
    assert!(pairs.contains(&("BillingMode", "PAY_PER_REQUEST")));
}

/// `template.yaml` as CloudFormation's JSON form: short tags become their long form (`!Ref X`
/// is `{"Ref": "X"}`, `!GetAtt A.B` is `{"Fn::GetAtt": ["A", "B"]}`, `!If [...]` is
/// `{"Fn::If": [...]}`).
fn template() -> serde_json::Value {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/template.yaml")).unwrap();
    cloudformation_json(serde_norway::from_str(&text).unwrap())
}

fn cloudformation_json(yaml: serde_norway::Value) -> serde_json::Value {
    use serde_json::{Value, json};
    use serde_norway::Value as Yaml;
    match yaml {
        Yaml::Null => Value::Null,
        Yaml::Bool(b) => Value::Bool(b),
        Yaml::Number(n) => n
            .as_i64()
            .map(Value::from)
            .or_else(|| n.as_f64().map(Value::from))
            .unwrap(),
        Yaml::String(s) => Value::String(s),
        Yaml::Sequence(items) => items.into_iter().map(cloudformation_json).collect(),
        Yaml::Mapping(entries) => Value::Object(
            entries
                .into_iter()
                .map(|(k, v)| (k.as_str().unwrap().to_owned(), cloudformation_json(v)))
                .collect(),
        ),
        Yaml::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let value = cloudformation_json(tagged.value);
            match tag.as_str() {
                "!Ref" => json!({ "Ref": value }),
                "!GetAtt" => {
                    let path = value.as_str().unwrap();
                    let (resource, attribute) = path.split_once('.').unwrap();
                    json!({ "Fn::GetAtt": [resource, attribute] })
                }
                other => json!({ format!("Fn::{}", &other[1..]): value }),
            }
        }
    }
}

/// The Rust source of `path` (relative to the crate).
fn source(path: &str) -> String {
    std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// The bodies of every `fn name` in `code` (there may be several of one name), braces matched
/// outside string literals.
fn bodies_of<'c>(code: &'c str, name: &str) -> Vec<&'c str> {
    let mut bodies = Vec::new();
    let needle = format!("fn {name}");
    let mut from = 0;
    while let Some(found) = code[from..].find(&needle) {
        let start = from + found;
        from = start + needle.len();
        let after = &code[from..];
        if !after.starts_with(['(', '<']) {
            continue;
        }
        let open = from + after.find('{').unwrap();
        let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
        for (i, c) in code[open..].char_indices() {
            match (in_string, escaped, c) {
                (true, true, _) => escaped = false,
                (true, false, '\\') => escaped = true,
                (true, false, '"') => in_string = false,
                (false, _, '"') => in_string = true,
                (false, _, '{') => depth += 1,
                (false, _, '}') => {
                    depth -= 1;
                    if depth == 0 {
                        bodies.push(&code[open..=open + i]);
                        break;
                    }
                }
                _ => {}
            }
        }
    }
    bodies
}

/// The DynamoDB client operations the deployed functions can reach, from the source: the
/// `UserStore` methods called anywhere but the command line, followed through
/// `src/store/dynamodb.rs` into the helpers they call. Returns (operations called directly,
/// operations inside `TransactWriteItems`), as IAM actions.
fn table_actions_the_functions_call() -> (BTreeSet<String>, BTreeSet<String>) {
    let trait_source = source("src/store/mod.rs");
    let trait_block = &trait_source[trait_source.find("pub trait UserStore").unwrap()..];
    let trait_block = &trait_block[..trait_block.find("\n}").unwrap()];
    let methods: Vec<&str> = trait_block
        .split("async fn ")
        .skip(1)
        .map(|rest| rest.split(['(', '<']).next().unwrap().trim())
        .collect();
    let mut request_path = String::new();
    for entry in walk(&format!("{}/src", env!("CARGO_MANIFEST_DIR"))) {
        let relative = entry.strip_prefix(env!("CARGO_MANIFEST_DIR")).unwrap();
        let command_line = ["/src/cli.rs", "/src/import.rs", "/src/main.rs"];
        if relative.starts_with("/src/store/") || command_line.contains(&relative) {
            continue;
        }
        request_path.push_str(&std::fs::read_to_string(&entry).unwrap());
    }
    let called = |code: &str, name: &str| {
        code.match_indices(&format!("{name}(")).any(|(i, _)| {
            code[..i]
                .chars()
                .next_back()
                .is_some_and(|c| c == '.' || c.is_whitespace())
        })
    };
    let store = source("src/store/dynamodb.rs");
    let mut pending: Vec<String> = methods
        .iter()
        .filter(|m| called(&request_path, m))
        .map(|m| m.to_string())
        .collect();
    assert!(
        pending.contains(&"update_user".to_owned()),
        "the handler updates users: {pending:?}"
    );
    let mut reached = BTreeSet::new();
    let mut code = String::new();
    while let Some(name) = pending.pop() {
        if !reached.insert(name.clone()) {
            continue;
        }
        for body in bodies_of(&store, &name) {
            code.push_str(body);
            for (helper, _) in body.match_indices("self.") {
                let rest = &body[helper + 5..];
                let ident: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if rest[ident.len()..].starts_with('(') {
                    pending.push(ident);
                }
            }
        }
    }
    assert!(reached.contains("try_update"), "{reached:?}");
    let operations = [
        ("get_item", "dynamodb:GetItem"),
        ("put_item", "dynamodb:PutItem"),
        ("update_item", "dynamodb:UpdateItem"),
        ("delete_item", "dynamodb:DeleteItem"),
        ("query", "dynamodb:Query"),
        ("scan", "dynamodb:Scan"),
        ("batch_get_item", "dynamodb:BatchGetItem"),
        ("batch_write_item", "dynamodb:BatchWriteItem"),
        ("create_table", "dynamodb:CreateTable"),
        ("describe_table", "dynamodb:DescribeTable"),
    ];
    let direct = operations
        .iter()
        .filter(|(call, _)| code.contains(&format!(".{call}()")))
        .map(|(_, action)| action.to_string())
        .collect();
    // TransactWriteItems has no IAM action: each item needs its own operation's.
    let items = [
        ("update", "dynamodb:UpdateItem"),
        ("put", "dynamodb:PutItem"),
        ("delete", "dynamodb:DeleteItem"),
        ("condition_check", "dynamodb:ConditionCheckItem"),
    ];
    let transactional: BTreeSet<String> = items
        .iter()
        .filter(|(item, _)| code.contains(&format!("TransactWriteItem::builder().{item}(")))
        .map(|(_, action)| action.to_string())
        .collect();
    assert_eq!(
        code.contains(".transact_write_items()"),
        !transactional.is_empty(),
        "every transaction's items are recognised"
    );
    (direct, transactional)
}

/// Every `.rs` file under `dir`.
fn walk(dir: &str) -> Vec<String> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(walk(path.to_str().unwrap()));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path.to_str().unwrap().to_owned());
        }
    }
    files
}

fn actions(statement: &serde_json::Value) -> BTreeSet<String> {
    statement["Action"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn the_function_may_call_exactly_the_table_operations_its_code_calls() {
    let (direct, transactional) = table_actions_the_functions_call();
    let template = template();
    let function = &template["Resources"]["UsersFunction"]["Properties"];
    assert!(
        function.get("Role").is_none(),
        "SAM's role, with these policies only"
    );
    let policies = function["Policies"].as_array().unwrap();
    assert_eq!(policies.len(), 1, "one inline policy, no policy templates");
    let statements = policies[0]["Statement"].as_array().unwrap();
    let table = serde_json::json!({"Fn::GetAtt": ["UsersTable", "Arn"]});
    let on_table: Vec<_> = statements
        .iter()
        .filter(|s| s["Resource"] == table)
        .collect();
    assert!(
        statements.iter().all(|s| s["Effect"] == "Allow"),
        "{statements:?}"
    );

    // Every statement on the table holds to the key prefixes the code uses.
    let leading_keys = serde_json::json!({"dynamodb:LeadingKeys": leading_keys_the_code_uses()});
    let enclosing = "ForAnyValue:StringEquals";
    let in_transaction = |s: &serde_json::Value| s["Condition"].get(enclosing).is_some();
    let direct_statements: Vec<_> = on_table.iter().filter(|s| !in_transaction(s)).collect();
    assert_eq!(direct_statements.len(), 1, "{on_table:?}");
    assert_eq!(
        actions(direct_statements[0]),
        direct,
        "operations called directly"
    );
    assert_eq!(
        direct_statements[0]["Condition"],
        serde_json::json!({"ForAllValues:StringLike": leading_keys}),
        "operations called directly: only on the code's keys"
    );

    let only_in_transactions: BTreeSet<String> =
        transactional.difference(&direct).cloned().collect();
    let in_transactions: Vec<_> = on_table.iter().filter(|s| in_transaction(s)).collect();
    assert_eq!(in_transactions.len(), 1, "{on_table:?}");
    assert_eq!(
        actions(in_transactions[0]),
        only_in_transactions,
        "operations called only inside TransactWriteItems"
    );
    assert_eq!(
        in_transactions[0]["Condition"],
        serde_json::json!({
            enclosing: {"dynamodb:EnclosingOperation": ["TransactWriteItems"]},
            "ForAllValues:StringLike": leading_keys,
        }),
        "only inside TransactWriteItems, and only on the code's keys"
    );
    let everything_else: Vec<_> = statements
        .iter()
        .filter(|s| s["Resource"] != table)
        .flat_map(actions)
        .collect();
    assert_eq!(
        everything_else,
        ["secretsmanager:GetSecretValue"],
        "nothing else is granted"
    );
}

/// `dynamodb:LeadingKeys` patterns for [`KEY_PREFIXES`], in order.
fn leading_keys_the_code_uses() -> Vec<String> {
    KEY_PREFIXES
        .iter()
        .map(|prefix| prefix.leading_keys_pattern())
        .collect()
}

#[test]
fn every_key_the_store_writes_has_one_of_the_key_prefixes() {
    // String literals shaped like keys (`"USER#…"`, `"COUNTER#users"`) in the store's source:
    // a key kind added there without adding it to KEY_PREFIXES (and so to the template)
    // fails here.
    let store = source("src/store/dynamodb.rs");
    let mut literals = Vec::new();
    for (at, _) in store.match_indices('"') {
        let rest = &store[at + 1..];
        let Some(end) = rest.find('"') else { break };
        let literal = &rest[..end];
        let kind: String = literal
            .chars()
            .take_while(|c| c.is_ascii_uppercase() || *c == '_')
            .collect();
        if !kind.is_empty() && literal[kind.len()..].starts_with('#') {
            literals.push(literal.to_owned());
        }
    }
    assert!(
        literals.iter().any(|l| l == "COUNTER#users"),
        "the scan finds keys: {literals:?}"
    );
    for literal in &literals {
        let covered = KEY_PREFIXES.iter().any(|prefix| match prefix {
            KeyPrefix::Prefix(prefix) => literal.starts_with(prefix),
            KeyPrefix::Exact(key) => literal == key,
        });
        assert!(covered, "{literal} is one of KEY_PREFIXES");
    }
    assert_eq!(
        leading_keys_the_code_uses(),
        ["USER#*", "EMAIL#*", "COUNTER#users"],
        "the patterns, as IAM reads them"
    );
}

#[test]
fn the_session_secret_is_generated_in_secrets_manager_and_only_it_may_be_read() {
    let template = template();
    let resources = &template["Resources"];
    let secret = &resources["SessionSecret"];
    assert_eq!(secret["Type"], "AWS::SecretsManager::Secret");
    let generated = &secret["Properties"]["GenerateSecretString"];
    assert!(
        secret["Properties"].get("SecretString").is_none(),
        "no value in the template"
    );
    assert!(
        generated["PasswordLength"].as_u64().unwrap() >= 48,
        "{generated}"
    );
    assert_eq!(generated["ExcludePunctuation"], true, "{generated}");

    let function = &resources["UsersFunction"]["Properties"];
    let variables = &function["Environment"]["Variables"];
    assert_eq!(
        variables["SESSION_SECRET_ID"],
        serde_json::json!({"Ref": "SessionSecret"})
    );
    assert!(
        variables.get("SESSION_SECRET").is_none(),
        "the secret itself is no environment variable"
    );
    assert!(
        template["Parameters"].get("SessionSecret").is_none(),
        "nor a parameter"
    );
    // The previous secrets too: kept in Secrets Manager, named by an id, never a value.
    let previous = &resources["SessionSecretPrevious"];
    assert_eq!(previous["Type"], "AWS::SecretsManager::Secret");
    assert_eq!(
        previous["Properties"]["SecretString"]
            .as_str()
            .map(str::trim),
        Some(""),
        "no previous secret until a rotation puts one there"
    );
    assert_eq!(
        variables["SESSION_SECRET_PREVIOUS_ID"],
        serde_json::json!({"Ref": "SessionSecretPrevious"})
    );
    for (name, value) in variables.as_object().unwrap() {
        assert!(
            !name.starts_with("SESSION_SECRET") || name.ends_with("_ID"),
            "{name}: no session secret is a plain environment variable"
        );
        assert!(
            value.get("Ref").is_none_or(|r| !template["Parameters"]
                .get(r.as_str().unwrap())
                .is_some_and(|p| p["NoEcho"] == true)),
            "{name}: nor a secret parameter passed through"
        );
    }
    for (name, parameter) in template["Parameters"].as_object().unwrap() {
        assert_ne!(
            parameter["NoEcho"], true,
            "{name}: no secret is a parameter"
        );
    }
    let statements = function["Policies"][0]["Statement"].as_array().unwrap();
    let reads: Vec<_> = statements
        .iter()
        .filter(|s| actions(s).iter().any(|a| a.starts_with("secretsmanager:")))
        .collect();
    assert_eq!(reads.len(), 1);
    assert_eq!(
        actions(reads[0]),
        BTreeSet::from(["secretsmanager:GetSecretValue".to_owned()])
    );
    assert_eq!(
        reads[0]["Resource"],
        serde_json::json!([{"Ref": "SessionSecret"}, {"Ref": "SessionSecretPrevious"}]),
        "exactly those secrets"
    );
    assert_eq!(
        template["Outputs"]["SessionSecretPreviousArn"]["Value"],
        serde_json::json!({"Ref": "SessionSecretPrevious"}),
        "the rotation steps need its id"
    );
}

#[test]
fn the_api_writes_json_access_logs_to_a_retained_log_group() {
    let template = template();
    let resources = &template["Resources"];
    let settings = &resources["UsersApi"]["Properties"]["AccessLogSettings"];
    let group = settings["DestinationArn"]["Fn::GetAtt"][0]
        .as_str()
        .unwrap();
    assert_eq!(resources[group]["Type"], "AWS::Logs::LogGroup");
    let format: serde_json::Value =
        serde_json::from_str(settings["Format"].as_str().unwrap()).expect("a JSON format");
    // (field, API Gateway variable)
    let fields = [
        ("requestId", "$context.requestId"),
        ("ip", "$context.identity.sourceIp"),
        ("status", "$context.status"),
        ("latency", "$context.responseLatency"),
        ("routeKey", "$context.routeKey"),
        ("integrationError", "$context.integrationErrorMessage"),
    ];
    for (field, variable) in fields {
        assert_eq!(format[field], variable, "{field}");
    }
    assert!(
        !settings["Format"].as_str().unwrap().contains("header"),
        "no header (and so no cookie) is logged"
    );
    let groups: Vec<_> = resources
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::Logs::LogGroup")
        .collect();
    assert_eq!(groups.len(), 2, "the function's and the API's");
    for (name, group) in groups {
        assert_eq!(group["DeletionPolicy"], "Retain", "{name}");
        assert_eq!(group["UpdateReplacePolicy"], "Retain", "{name}");
        assert!(
            group["Properties"]["RetentionInDays"].as_u64().is_some(),
            "{name}"
        );
    }
}

#[test]
fn alarms_watch_errors_throttles_and_p99_duration_and_mail_only_when_asked() {
    let template = template();
    let resources = &template["Resources"];
    let alarms: Vec<(&String, &serde_json::Value)> = resources
        .as_object()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::CloudWatch::Alarm")
        .collect();
    // (what it watches, namespace, metric, statistic)
    let watched = [
        ("5xx responses", "AWS/ApiGateway", "5xx", "Sum"),
        (
            "all responses, for the 5xx rate",
            "AWS/ApiGateway",
            "Count",
            "Sum",
        ),
        ("throttles", "AWS/Lambda", "Throttles", "Sum"),
        ("p99 duration", "AWS/Lambda", "Duration", "p99"),
    ];
    for (what, namespace, metric, statistic) in watched {
        let watching = alarms.iter().any(|(_, alarm)| {
            let p = &alarm["Properties"];
            let direct = p["Namespace"] == namespace
                && p["MetricName"] == metric
                && (p["Statistic"] == statistic || p["ExtendedStatistic"] == statistic);
            let in_math = p["Metrics"].as_array().is_some_and(|metrics| {
                metrics.iter().any(|m| {
                    let stat = &m["MetricStat"];
                    stat["Metric"]["Namespace"] == namespace
                        && stat["Metric"]["MetricName"] == metric
                        && stat["Stat"] == statistic
                })
            });
            direct || in_math
        });
        assert!(watching, "an alarm on {what}");
    }
    let rate = alarms
        .iter()
        .find(|(_, a)| a["Properties"]["Metrics"].is_array())
        .unwrap();
    let expression = rate.1["Properties"]["Metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["ReturnData"] == true)
        .unwrap();
    assert!(
        expression["Expression"]
            .as_str()
            .unwrap()
            .contains("100 * errors / requests"),
        "a rate, not a count: {expression}"
    );

    let notify = serde_json::json!({"Fn::If": ["HasAlarmEmail", [{"Ref": "AlarmTopic"}], {"Ref": "AWS::NoValue"}]});
    for (name, alarm) in &alarms {
        assert_eq!(alarm["Properties"]["AlarmActions"], notify, "{name}");
        assert_eq!(alarm["Properties"]["OKActions"], notify, "{name}");
    }
    assert_eq!(
        template["Conditions"]["HasAlarmEmail"],
        serde_json::json!({"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmEmail"}, ""]}]})
    );
    assert_eq!(template["Parameters"]["AlarmEmail"]["Default"], "");
    for (name, kind) in [
        ("AlarmTopic", "AWS::SNS::Topic"),
        ("AlarmEmailSubscription", "AWS::SNS::Subscription"),
    ] {
        assert_eq!(resources[name]["Type"], kind);
        assert_eq!(resources[name]["Condition"], "HasAlarmEmail", "{name}");
    }
    let subscription = &resources["AlarmEmailSubscription"]["Properties"];
    assert_eq!(subscription["Protocol"], "email");
    assert_eq!(
        subscription["Endpoint"],
        serde_json::json!({"Ref": "AlarmEmail"})
    );
}

#[test]
fn tracing_is_a_parameter_and_the_custom_domain_is_optional() {
    let template = template();
    let tracing = &template["Parameters"]["Tracing"];
    assert_eq!(
        tracing["AllowedValues"],
        serde_json::json!(["Active", "PassThrough"])
    );
    assert_eq!(
        template["Resources"]["UsersFunction"]["Properties"]["Tracing"],
        serde_json::json!({"Ref": "Tracing"})
    );
    for name in ["DomainName", "CertificateArn"] {
        assert_eq!(template["Parameters"][name]["Default"], "", "{name}");
    }
    let resources = &template["Resources"];
    assert_eq!(
        resources["UsersApiDomain"]["Type"],
        "AWS::ApiGatewayV2::DomainName"
    );
    assert_eq!(
        resources["UsersApiDomainMapping"]["Type"],
        "AWS::ApiGatewayV2::ApiMapping"
    );
    for name in ["UsersApiDomain", "UsersApiDomainMapping"] {
        assert_eq!(resources[name]["Condition"], "HasCustomDomain", "{name}");
    }
    let condition = template["Conditions"]["HasCustomDomain"].to_string();
    assert!(
        condition.contains("DomainName") && condition.contains("CertificateArn"),
        "{condition}"
    );
}
