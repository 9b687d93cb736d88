//! One zod 3 issue, serialized with zod's field names and order.

use serde::Serialize;
use serde_json::Value;

/// A failed check, shaped as zod 3 reports it in `error.issues`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Issue {
    code: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    validation: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expected: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    received: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    minimum: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    maximum: Option<u64>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    inclusive: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    exact: Option<bool>,
    message: String,
    path: Vec<&'static str>,
}

impl Issue {
    /// Every issue carries `validation`: zod's own value where zod has one (`invalid_string`
    /// sets it), else a name for the check, because the endpoint's published client models
    /// declare the key required. It is an extra key to zod-shaped readers.
    fn new(code: &'static str, message: String, path: Vec<&'static str>) -> Self {
        let validation = match code {
            "too_small" => "min",
            "too_big" => "max",
            "invalid_type" => "type",
            _ => "custom",
        };
        Self {
            code,
            validation: Some(validation),
            expected: None,
            received: None,
            minimum: None,
            maximum: None,
            kind: None,
            inclusive: None,
            exact: None,
            message,
            path,
        }
    }

    /// `invalid_type`: the value is not of the expected JSON type.
    pub fn invalid_type(expected: &'static str, value: &Value, path: Vec<&'static str>) -> Self {
        let received = received_name(value);
        Self {
            expected: Some(expected),
            received: Some(received),
            ..Self::new(
                "invalid_type",
                format!("Expected {expected}, received {received}"),
                path,
            )
        }
    }

    /// `too_small` for a string (inclusive minimum length) or a number.
    pub fn too_small(
        kind: &'static str,
        minimum: u64,
        message: String,
        field: &'static str,
    ) -> Self {
        Self {
            minimum: Some(minimum),
            kind: Some(kind),
            inclusive: Some(true),
            exact: Some(false),
            ..Self::new("too_small", message, vec![field])
        }
    }

    /// `too_big` for a string (inclusive maximum length) or a number.
    pub fn too_big(kind: &'static str, maximum: u64, message: String, field: &'static str) -> Self {
        Self {
            maximum: Some(maximum),
            kind: Some(kind),
            inclusive: Some(true),
            exact: Some(false),
            ..Self::new("too_big", message, vec![field])
        }
    }

    /// `invalid_string`: a format check (`email`, `regex`) failed.
    pub fn invalid_string(validation: &'static str, message: &str, field: &'static str) -> Self {
        Self {
            validation: Some(validation),
            ..Self::new("invalid_string", message.to_owned(), vec![field])
        }
    }

    /// zod's `Required`: a required field is absent (zod reports `received: "undefined"`,
    /// with its own `validation` name for the check).
    pub fn required(field: &'static str) -> Self {
        Self {
            validation: Some("invalid_type"),
            expected: Some("string"),
            received: Some("undefined"),
            ..Self::new("invalid_type", "Required".to_owned(), vec![field])
        }
    }

    /// `custom`: a refinement on the whole object failed.
    pub fn custom(message: &str) -> Self {
        Self::new("custom", message.to_owned(), Vec::new())
    }

    /// `custom`: a refinement of one field failed.
    pub(crate) fn custom_at(message: &str, field: &'static str) -> Self {
        Self::new("custom", message.to_owned(), vec![field])
    }
}

/// zod's name for the type of a parsed JSON value.
fn received_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn issues_serialize_with_zods_field_names_and_order() {
        let cases = [
            (
                Issue::invalid_type("string", &json!(1), vec!["email"]),
                r#"{"code":"invalid_type","validation":"type","expected":"string","received":"number","message":"Expected string, received number","path":["email"]}"#,
            ),
            (
                Issue::too_small(
                    "string",
                    5,
                    "Email must be at least 5 characters".into(),
                    "email",
                ),
                r#"{"code":"too_small","validation":"min","minimum":5,"type":"string","inclusive":true,"exact":false,"message":"Email must be at least 5 characters","path":["email"]}"#,
            ),
            (
                Issue::invalid_string("email", "Invalid email", "email"),
                r#"{"code":"invalid_string","validation":"email","message":"Invalid email","path":["email"]}"#,
            ),
            (
                Issue::required("confirmPassword"),
                r#"{"code":"invalid_type","validation":"invalid_type","expected":"string","received":"undefined","message":"Required","path":["confirmPassword"]}"#,
            ),
            (
                Issue::custom("At least one of email or password is required."),
                r#"{"code":"custom","validation":"custom","message":"At least one of email or password is required.","path":[]}"#,
            ),
        ];
        for (issue, expected) in cases {
            assert_eq!(serde_json::to_string(&issue).unwrap(), expected);
        }
    }

    #[test]
    fn received_uses_zods_type_names() {
        let cases = [
            (json!(null), "null"),
            (json!(true), "boolean"),
            (json!(1.5), "number"),
            (json!("x"), "string"),
            (json!([]), "array"),
            (json!({}), "object"),
        ];
        for (value, name) in cases {
            assert_eq!(received_name(&value), name, "for {value}");
        }
    }
}
