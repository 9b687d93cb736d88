//! `UserUpdate`: the request body, parsed as the web UI's zod schema parses it.

use serde_json::{Map, Value};

use super::{Email, Issue, NewPassword};

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
}

impl UserUpdate {
    /// Parses raw body bytes. Unknown keys are ignored; `null` is a type error, not absence.
    /// `current_email` is the account's address as the caller's session knows it: a new
    /// password may contain neither it nor the new one.
    pub fn from_json(body: &[u8], current_email: &str) -> Result<Self, BodyError> {
        let value: Value = serde_json::from_slice(body).map_err(|_| BodyError::Unparseable)?;
        Self::from_value(&value, current_email).map_err(BodyError::Invalid)
    }

    fn from_value(value: &Value, current_email: &str) -> Result<Self, Vec<Issue>> {
        let Value::Object(fields) = value else {
            return Err(vec![Issue::invalid_type("object", value, Vec::new())]);
        };
        let mut issues = Vec::new();
        let email = field(fields, "email", Email::parse, &mut issues);
        let password = field(fields, "password", NewPassword::parse, &mut issues);
        // The blocklist judges passwords of an acceptable length only: a short one already has
        // its issue, and "too common" on top of it says nothing new.
        if let (Some(password), Some(Value::String(raw))) = (&password, fields.get("password")) {
            debug_assert_eq!(password.expose(), raw);
            let new_email = fields.get("email").and_then(Value::as_str);
            issues.extend(super::password::blocklist_issues(
                raw,
                [Some(current_email), new_email].into_iter().flatten(),
            ));
        }
        if !fields.contains_key("email") && !fields.contains_key("password") {
            issues.push(Issue::custom(
                "At least one of email or password is required.",
            ));
        }
        if issues.is_empty() {
            Ok(Self { email, password })
        } else {
            Err(issues)
        }
    }

    /// Which fields the update touches, for the request log (never the values).
    pub fn changed_fields(&self) -> &'static str {
        match (self.email.is_some(), self.password.is_some()) {
            (true, true) => "email,password",
            (true, false) => "email",
            (false, true) => "password",
            (false, false) => "",
        }
    }
}

/// Parses an optional string field, collecting its issues.
fn field<T>(
    fields: &Map<String, Value>,
    name: &'static str,
    parse: fn(&str) -> Result<T, Vec<Issue>>,
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
        match UserUpdate::from_json(body.as_bytes(), "") {
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
                matches!(UserUpdate::from_json(body, ""), Err(BodyError::Unparseable)),
                "{body:?} should be unparseable"
            );
        }
    }

    #[test]
    fn reports_issues_with_codes_and_paths_like_zod() {
        let cases = [
            (
                "[]",
                json!([{"code":"invalid_type","expected":"object","received":"array","message":"Expected object, received array","path":[]}]),
            ),
            (
                "null",
                json!([{"code":"invalid_type","expected":"object","received":"null","message":"Expected object, received null","path":[]}]),
            ),
            (
                "{}",
                json!([{"code":"custom","message":"At least one of email or password is required.","path":[]}]),
            ),
            (
                r#"{"other":1}"#,
                json!([{"code":"custom","message":"At least one of email or password is required.","path":[]}]),
            ),
            (
                r#"{"email":null}"#,
                json!([{"code":"invalid_type","expected":"string","received":"null","message":"Expected string, received null","path":["email"]}]),
            ),
            (
                r#"{"email":5,"password":true}"#,
                json!([
                {"code":"invalid_type","expected":"string","received":"number","message":"Expected string, received number","path":["email"]},
                {"code":"invalid_type","expected":"string","received":"boolean","message":"Expected string, received boolean","path":["password"]}]),
            ),
            (
                r#"{"email":"a@b","password":"short"}"#,
                json!([
                {"code":"too_small","minimum":5,"type":"string","inclusive":true,"exact":false,"message":"Email must be at least 5 characters","path":["email"]},
                {"code":"invalid_string","validation":"email","message":"Invalid email","path":["email"]},
                {"code":"too_small","minimum":8,"type":"string","inclusive":true,"exact":false,"message":"Password must be at least 8 characters","path":["password"]}]),
            ),
        ];
        for (body, expected) in cases {
            assert_eq!(issues_of(body), expected, "for {body}");
        }
    }

    #[test]
    fn accepts_either_field_and_ignores_unknown_keys() {
        let update = UserUpdate::from_json(br#"{"email":"a@b.co","extra":[1]}"#, "").unwrap();
        assert_eq!(update.email.unwrap().as_str(), "a@b.co");
        assert!(update.password.is_none());
        let update = UserUpdate::from_json(br#"{"password":"12345679x"}"#, "").unwrap();
        assert_eq!(update.changed_fields(), "password");
    }
}
