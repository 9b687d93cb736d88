//! `UserUpdate`: the request body, parsed as the web UI's zod schema parses it.

use serde_json::Value;

use crate::json::Members;

use super::{CurrentPassword, Email, Issue, NewPassword, PasswordRules};

/// Why a body was refused: not JSON at all, or JSON that fails the schema.
#[derive(Debug)]
pub enum BodyError {
    /// Not UTF-8, or not JSON.
    Unparseable,
    /// JSON, but one or more zod checks failed.
    Invalid(Vec<Issue>),
}

/// What the caller asked to change: at least one of the two.
#[derive(Debug)]
pub struct UserUpdate {
    /// The new address, if the body had one.
    pub email: Option<Email>,
    /// The new password, if the body had one.
    pub password: Option<NewPassword>,
    /// The current password, to be verified before anything is written, if the body had one.
    pub current_password: Option<CurrentPassword>,
}

/// What the body's rules depend on besides the body.
#[derive(Debug, Default, Clone, Copy)]
pub struct Rules<'a> {
    /// The account's address as the caller's session knows it: a new password may contain
    /// neither it nor the new one.
    pub current_email: &'a str,
    /// `REQUIRE_CURRENT_PASSWORD`: every update must carry `current_password`.
    pub require_current_password: bool,
    /// `PASSWORD_RULES`: the composition rules a new password meets.
    pub password_rules: PasswordRules,
}

impl UserUpdate {
    /// Parses raw body bytes. Unknown keys are ignored; `null` is a type error, not absence.
    pub fn from_json(body: &[u8], rules: &Rules<'_>) -> Result<Self, BodyError> {
        let fields = Fields::parse(body)?;
        Self::from_fields(&fields, rules).map_err(BodyError::Invalid)
    }

    fn from_fields(fields: &Fields, rules: &Rules<'_>) -> Result<Self, Vec<Issue>> {
        let mut issues = Vec::new();
        let email = field(fields, "email", Email::parse, &mut issues);
        let new_email = fields.get("email").and_then(Value::as_str);
        let emails = [Some(rules.current_email), new_email];
        let password = match fields.get("password") {
            None => None,
            Some(Value::String(raw)) => {
                let emails = emails.into_iter().flatten();
                NewPassword::parse_with(raw, rules.password_rules, emails)
                    .map_err(|found| issues.extend(found))
                    .ok()
            }
            Some(other) => {
                issues.push(Issue::invalid_type("string", other, vec!["password"]));
                None
            }
        };
        let current_password = field(
            fields,
            "current_password",
            CurrentPassword::parse,
            &mut issues,
        );
        if rules.require_current_password && !fields.contains_key("current_password") {
            issues.push(Issue::custom_at(
                "Current password is required.",
                "current_password",
            ));
        }
        if !fields.contains_key("email") && !fields.contains_key("password") {
            issues.push(Issue::custom(
                "At least one of email or password is required.",
            ));
        }
        if issues.is_empty() {
            Ok(Self {
                email,
                password,
                current_password,
            })
        } else {
            Err(issues)
        }
    }

    /// Which fields the update touches, for the request log (never the values).
    pub(crate) fn changed_fields(&self) -> &'static str {
        match (self.email.is_some(), self.password.is_some()) {
            (true, true) => "email,password",
            (true, false) => "email",
            (false, true) => "password",
            (false, false) => "",
        }
    }
}

/// A JSON body's members, in order (see [`Members`]).
pub(super) type Fields = Members<Value>;

impl Fields {
    /// The body as a JSON object: not JSON at all is [`BodyError::Unparseable`], another JSON
    /// value zod's `invalid_type` at the root.
    pub(super) fn parse(body: &[u8]) -> Result<Self, BodyError> {
        match serde_json::from_slice(body) {
            Ok(fields) => Ok(fields),
            // Not an object, or not JSON: told apart on this (rare) path only.
            Err(_) => match serde_json::from_slice::<Value>(body) {
                Ok(other) => Err(BodyError::Invalid(vec![Issue::invalid_type(
                    "object",
                    &other,
                    Vec::new(),
                )])),
                Err(_) => Err(BodyError::Unparseable),
            },
        }
    }
}

/// An optional string member, parsed by `parse`: absent is `None`; a value of another type,
/// or one `parse` refuses, adds its issues and is `None`.
pub(super) fn field<'v, T>(
    fields: &'v Fields,
    name: &'static str,
    parse: impl FnOnce(&'v str) -> Result<T, Vec<Issue>>,
    issues: &mut Vec<Issue>,
) -> Option<T> {
    match fields.get(name)? {
        Value::String(raw) => parse(raw).map_err(|found| issues.extend(found)).ok(),
        other => {
            issues.push(Issue::invalid_type("string", other, vec![name]));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn issues_of(body: &str) -> Value {
        match UserUpdate::from_json(body.as_bytes(), &Rules::default()) {
            Err(BodyError::Invalid(issues)) => json!(issues),
            other => panic!("expected validation issues for {body}, got {other:?}"),
        }
    }

    #[test]
    fn refuses_bodies_that_are_not_json() {
        let cases: [&[u8]; 6] = [
            b"",
            b"{",
            b"{'email':1}",
            b"\xff\xfe",
            b"nul",
            b"{\"a\":1}x",
        ];
        for body in cases {
            assert!(
                matches!(
                    UserUpdate::from_json(body, &Rules::default()),
                    Err(BodyError::Unparseable)
                ),
                "{body:?} should be unparseable"
            );
        }
    }

    /// As `JSON.parse` reads a repeated key (and `serde_json::Value` did): the last value
    /// counts, in the first one's place.
    #[test]
    fn a_repeated_key_counts_by_its_last_value() {
        let cases = [
            (r#"{"email":1,"email":"a@b.co"}"#, Some("a@b.co")),
            (
                r#"{"email":"a@b.co","email":"c@d.co","x":1}"#,
                Some("c@d.co"),
            ),
        ];
        for (body, expected) in cases {
            let update = UserUpdate::from_json(body.as_bytes(), &Rules::default()).unwrap();
            assert_eq!(update.email.as_ref().map(Email::as_str), expected, "{body}");
        }
        assert_eq!(
            issues_of(r#"{"email":"a@b.co","email":null}"#),
            json!([{"code": "invalid_type", "validation": "type", "expected": "string",
                    "received": "null", "message": "Expected string, received null",
                    "path": ["email"]}])
        );
    }

    #[test]
    fn reports_issues_with_codes_and_paths_like_zod() {
        let cases = [
            (
                "[]",
                json!([{"code":"invalid_type","validation":"type","expected":"object","received":"array","message":"Expected object, received array","path":[]}]),
            ),
            (
                "null",
                json!([{"code":"invalid_type","validation":"type","expected":"object","received":"null","message":"Expected object, received null","path":[]}]),
            ),
            (
                "{}",
                json!([{"code":"custom","validation":"custom","message":"At least one of email or password is required.","path":[]}]),
            ),
            (
                r#"{"other":1}"#,
                json!([{"code":"custom","validation":"custom","message":"At least one of email or password is required.","path":[]}]),
            ),
            (
                r#"{"email":null}"#,
                json!([{"code":"invalid_type","validation":"type","expected":"string","received":"null","message":"Expected string, received null","path":["email"]}]),
            ),
            (
                r#"{"email":5,"password":true}"#,
                json!([
                {"code":"invalid_type","validation":"type","expected":"string","received":"number","message":"Expected string, received number","path":["email"]},
                {"code":"invalid_type","validation":"type","expected":"string","received":"boolean","message":"Expected string, received boolean","path":["password"]}]),
            ),
            (
                r#"{"email":"a@b","password":"short"}"#,
                json!([
                {"code":"too_small","validation":"min","minimum":5,"type":"string","inclusive":true,"exact":false,"message":"Email must be at least 5 characters","path":["email"]},
                {"code":"invalid_string","validation":"email","message":"Invalid email","path":["email"]},
                {"code":"too_small","validation":"min","minimum":8,"type":"string","inclusive":true,"exact":false,"message":"Password must be at least 8 characters","path":["password"]}]),
            ),
        ];
        for (body, expected) in cases {
            assert_eq!(issues_of(body), expected, "for {body}");
        }
    }

    #[test]
    fn accepts_either_field_and_ignores_unknown_keys() {
        let update =
            UserUpdate::from_json(br#"{"email":"a@b.co","extra":[1]}"#, &Rules::default()).unwrap();
        assert_eq!(update.email.unwrap().as_str(), "a@b.co");
        assert!(update.password.is_none());
        let update =
            UserUpdate::from_json(br#"{"password":"12345679x"}"#, &Rules::default()).unwrap();
        assert_eq!(update.changed_fields(), "password");
    }
}
