//! `openapi.yaml` kept true: every response the black-box suite receives is checked against
//! the document's response for its status (body schema and required headers).

use std::collections::HashMap;
use std::sync::LazyLock;

use serde_json::{Value, json};

use super::TestResponse;

/// The documented path a request's path stands for: the two auth routes as they are, every
/// other path (a 404 included) the update's.
fn documented_path(path: &str) -> &'static str {
    match path {
        "/api/auth/login" => "/api/auth/login",
        "/api/auth/sign-up" => "/api/auth/sign-up",
        _ => "/api/users/{user_id}",
    }
}

struct Documented {
    body: Option<jsonschema::Validator>,
    /// Header name (lower case) → its schema, for headers the document marks required.
    required_headers: Vec<(String, Value)>,
}

static DOCUMENT: LazyLock<Value> = LazyLock::new(|| {
    let yaml = include_str!("../../../openapi.yaml");
    serde_norway::from_str(yaml).expect("openapi.yaml parses")
});

/// Documented responses by (path, operation, status): every operation of every path.
static RESPONSES: LazyLock<HashMap<(String, String, u16), Documented>> = LazyLock::new(|| {
    let document = &*DOCUMENT;
    let mut responses = HashMap::new();
    let paths = document["paths"]
        .as_object()
        .expect("openapi.yaml has paths");
    let operations = paths.iter().flat_map(|(path, item)| {
        item.as_object()
            .into_iter()
            .flatten()
            .filter(|(_, operation)| operation.get("responses").is_some())
            .map(move |(operation, item)| (path, operation, &item["responses"]))
    });
    for (path, operation, listed) in operations {
        let listed = listed
            .as_object()
            .unwrap_or_else(|| panic!("{path} {operation} has responses"));
        for (status, response) in listed {
            let response = resolve(document, response);
            let body = response
                .pointer("/content/application~1json/schema")
                .map(|schema| {
                    let root = json!({
                        "$schema": "https://json-schema.org/draft/2020-12/schema",
                        "components": document["components"],
                        "allOf": [schema],
                    });
                    jsonschema::validator_for(&root).expect("the response schema compiles")
                });
            let required_headers = response["headers"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(name, header)| (name.to_ascii_lowercase(), resolve(document, header)))
                .filter(|(_, header)| header["required"] == true)
                .map(|(name, header)| (name, header["schema"].clone()))
                .collect();
            responses.insert(
                (
                    path.clone(),
                    operation.clone(),
                    status.parse().expect("numeric status"),
                ),
                Documented {
                    body,
                    required_headers,
                },
            );
        }
    }
    responses
});

fn resolve<'a>(document: &'a Value, value: &'a Value) -> &'a Value {
    match value["$ref"].as_str() {
        Some(reference) => {
            let pointer = reference.trim_start_matches('#');
            resolve(
                document,
                document
                    .pointer(pointer)
                    .unwrap_or_else(|| panic!("{reference} resolves")),
            )
        }
        None => value,
    }
}

/// The published client models of an error, field for field: the TypeScript
/// `interface UpdateUserError { statusCode: number; statusMessage: string; message: string;
/// data?: { issues: Array<{ code: string; validation: string; message: string }> } }` and the
/// pydantic `UpdateUserError` / `ValidationIssue` (`code: str`, `validation: str`,
/// `message: str`; `data: Optional[dict[str, List[ValidationIssue]]]`). Like pydantic's
/// defaults: every declared field required, unknown keys ignored.
#[derive(serde::Deserialize)]
#[allow(non_snake_case, dead_code)]
struct UpdateUserError {
    statusCode: f64,
    statusMessage: String,
    message: String,
    data: Option<std::collections::HashMap<String, Vec<ValidationIssue>>>,
}

#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct ValidationIssue {
    code: String,
    validation: String,
    message: String,
}

/// Fails the test when an error body does not parse with the published client models.
pub fn assert_parses_with_the_client_models(response: &TestResponse) {
    if let Err(error) = serde_json::from_str::<UpdateUserError>(&response.text) {
        panic!(
            "a {} the published client models cannot parse ({error}): {}",
            response.status, response.text
        );
    }
}

/// Fails the test when `response` is not what `openapi.yaml` documents for its path, method
/// and status, or, for an error, does not parse with the published client models. A method
/// the path does not document is judged by the path's own operation (its 405).
pub fn assert_documented(method: &str, path: &str, response: &TestResponse) {
    if response.status >= 400 {
        assert_parses_with_the_client_models(response);
    }
    let path = documented_path(path);
    let own = if path == "/api/users/{user_id}" {
        "patch"
    } else {
        "post"
    };
    let operation = match method {
        "OPTIONS" => "options".to_owned(),
        _ => own.to_owned(),
    };
    let documented = RESPONSES
        .get(&(path.to_owned(), operation.clone(), response.status))
        .unwrap_or_else(|| {
            panic!(
                "openapi.yaml documents {} for {operation} {path}: {response:?}",
                response.status
            )
        });
    match &documented.body {
        Some(validator) => {
            let body = response.json();
            let errors: Vec<String> = validator
                .iter_errors(&body)
                .map(|e| format!("{e} at {}", e.instance_path()))
                .collect();
            assert!(
                errors.is_empty(),
                "{} body breaks openapi.yaml: {errors:#?}\n{body}",
                response.status
            );
        }
        None => assert!(
            response.text.is_empty(),
            "{} has no documented body",
            response.status
        ),
    }
    for (name, schema) in &documented.required_headers {
        let value = response.header(name).unwrap_or_else(|| {
            panic!(
                "{} must carry {name} per openapi.yaml: {response:?}",
                response.status
            )
        });
        if let Some(expected) = schema.get("const") {
            let matches = expected.as_str() == Some(value)
                || expected.as_i64().map(|n| n.to_string()).as_deref() == Some(value);
            assert!(matches, "{name}: {value:?} is not {expected}");
        }
    }
}
