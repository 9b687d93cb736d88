//! The bodies of `POST /api/auth/login` and `POST /api/auth/sign-up`, parsed as the web app's
//! zod schemas parse them: both fields required, every failing check reported with its path.
//! The app's pages show these issues under the fields by `path[0]`, so paths and messages are
//! what its users read.

use serde_json::Value;

use super::update::{Fields, field};
use super::{BodyError, CurrentPassword, Email, Issue, NewPassword, PasswordRules};

/// A sign-in: an address to look up and a password to check.
#[derive(Debug)]
pub struct SignIn {
    /// The address as typed (looked up case-insensitively).
    pub email: Email,
    /// The password to verify: any 1..=256 characters.
    pub password: CurrentPassword,
}

/// A sign-up: a new account's address and password.
#[derive(Debug)]
pub struct SignUp {
    /// The new account's address.
    pub email: Email,
    /// Its password, which met every rule of a new password.
    pub password: NewPassword,
}

impl SignIn {
    /// Parses raw body bytes; unknown keys are ignored.
    pub fn from_json(body: &[u8]) -> Result<Self, BodyError> {
        let fields = Fields::parse(body)?;
        let mut issues = Vec::new();
        let email = required(&fields, "email", Email::parse, &mut issues);
        let password = required(
            &fields,
            "password",
            CurrentPassword::parse_sign_in,
            &mut issues,
        );
        match (email, password) {
            (Some(email), Some(password)) if issues.is_empty() => Ok(Self { email, password }),
            _ => Err(BodyError::Invalid(issues)),
        }
    }
}

impl SignUp {
    /// Parses raw body bytes: the address, the password under `rules` and the blocklist (with
    /// the new address), and `confirmPassword`, which must equal it. As with zod's refinement
    /// of the whole object, a mismatch is reported only when every field is valid on its own.
    pub fn from_json(body: &[u8], rules: PasswordRules) -> Result<Self, BodyError> {
        let fields = Fields::parse(body)?;
        let mut issues = Vec::new();
        let email = required(&fields, "email", Email::parse, &mut issues);
        let new_email = fields.get("email").and_then(Value::as_str);
        let password = required(
            &fields,
            "password",
            |raw| NewPassword::parse_with(raw, rules, new_email),
            &mut issues,
        );
        let confirm = required(&fields, "confirmPassword", Ok, &mut issues);
        let (Some(email), Some(password), Some(confirm)) = (email, password, confirm) else {
            return Err(BodyError::Invalid(issues));
        };
        if !issues.is_empty() {
            return Err(BodyError::Invalid(issues));
        }
        if confirm != password.expose() {
            return Err(BodyError::Invalid(vec![
                Issue::custom_at("Password must match", "password"),
                Issue::custom_at("Password must match", "confirmPassword"),
            ]));
        }
        Ok(Self { email, password })
    }
}

/// A required string field: zod's `Required` when absent, else as [`field`].
fn required<'v, T>(
    fields: &'v Fields,
    name: &'static str,
    parse: impl FnOnce(&'v str) -> Result<T, Vec<Issue>>,
    issues: &mut Vec<Issue>,
) -> Option<T> {
    if !fields.contains_key(name) {
        issues.push(Issue::required(name));
        return None;
    }
    field(fields, name, parse, issues)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sign_in_issues(body: &str) -> Value {
        match SignIn::from_json(body.as_bytes()) {
            Err(BodyError::Invalid(issues)) => json!(issues),
            other => panic!("expected issues for {body}, got {other:?}"),
        }
    }

    fn sign_up_issues(body: &str, rules: PasswordRules) -> Value {
        match SignUp::from_json(body.as_bytes(), rules) {
            Err(BodyError::Invalid(issues)) => json!(issues),
            other => panic!("expected issues for {body}, got {other:?}"),
        }
    }

    fn required_issue(field: &str) -> Value {
        json!({"code":"invalid_type","validation":"invalid_type","expected":"string","received":"undefined","message":"Required","path":[field]})
    }

    #[test]
    fn sign_in_reports_every_failing_field_like_zod() {
        let cases = [
            (
                "{}",
                json!([required_issue("email"), required_issue("password")]),
                "both missing",
            ),
            (
                r#"{"email":"a@b.co"}"#,
                json!([required_issue("password")]),
                "no password",
            ),
            (
                r#"{"email":"a@b.co","password":""}"#,
                json!([{"code":"too_small","validation":"min","minimum":1,"type":"string","inclusive":true,"exact":false,"message":"Password must be at least 1 character","path":["password"]}]),
                "an empty password",
            ),
            (
                r#"{"email":null,"password":7}"#,
                json!([
                    {"code":"invalid_type","validation":"type","expected":"string","received":"null","message":"Expected string, received null","path":["email"]},
                    {"code":"invalid_type","validation":"type","expected":"string","received":"number","message":"Expected string, received number","path":["password"]}
                ]),
                "wrong types",
            ),
            (
                r#"{"email":"nope","password":"x"}"#,
                json!([
                    {"code":"too_small","validation":"min","minimum":5,"type":"string","inclusive":true,"exact":false,"message":"Email must be at least 5 characters","path":["email"]},
                    {"code":"invalid_string","validation":"email","message":"Invalid email","path":["email"]}
                ]),
                "a malformed address",
            ),
            (
                "[]",
                json!([{"code":"invalid_type","validation":"type","expected":"object","received":"array","message":"Expected object, received array","path":[]}]),
                "not an object",
            ),
        ];
        for (body, expected, why) in cases {
            assert_eq!(sign_in_issues(body), expected, "{why}");
        }
        let ok = SignIn::from_json(br#"{"email":"A@b.co","password":"x","extra":1}"#).unwrap();
        assert_eq!(ok.email.as_str(), "A@b.co");
        assert!(matches!(
            SignIn::from_json(b"{"),
            Err(BodyError::Unparseable)
        ));
    }

    #[test]
    fn sign_up_checks_every_rule_of_a_new_password_and_the_confirmation() {
        let mismatch = json!([
            {"code":"custom","validation":"custom","message":"Password must match","path":["password"]},
            {"code":"custom","validation":"custom","message":"Password must match","path":["confirmPassword"]}
        ]);
        let cases = [
            (
                r#"{"email":"a@b.co","password":"Quartz-lamp-88"}"#,
                PasswordRules::Neptun,
                json!([required_issue("confirmPassword")]),
                "no confirmation",
            ),
            (
                r#"{"email":"a@b.co","password":"Quartz-lamp-88","confirmPassword":"Quartz-lamp-89"}"#,
                PasswordRules::Neptun,
                mismatch.clone(),
                "a different confirmation",
            ),
            (
                r#"{"email":"a@b.co","password":"quartzlamp-river-88","confirmPassword":"quartzlamp-river-88"}"#,
                PasswordRules::Neptun,
                json!([{"code":"custom","validation":"custom","message":"Password must contain at least one uppercase letter","path":["password"]}]),
                "the web app's rules",
            ),
            (
                r#"{"email":"river@b.co","password":"quartzlamp-river-88","confirmPassword":"x"}"#,
                PasswordRules::Nist,
                json!([{"code":"custom","validation":"custom","message":"Password must not contain your email address.","path":["password"]}]),
                "the new address in the password; no mismatch before the fields are valid",
            ),
            (
                r#"{"email":"a@b.co","password":"password","confirmPassword":"password"}"#,
                PasswordRules::Nist,
                json!([{"code":"custom","validation":"custom","message":"Password is too common.","path":["password"]}]),
                "a common password",
            ),
        ];
        for (body, rules, expected, why) in cases {
            assert_eq!(sign_up_issues(body, rules), expected, "{why}");
        }
        let ok = SignUp::from_json(
            br#"{"email":"a@b.co","password":"quartzlamp-river-88","confirmPassword":"quartzlamp-river-88"}"#,
            PasswordRules::Nist,
        )
        .unwrap();
        assert_eq!(ok.password.expose(), "quartzlamp-river-88");
    }
}
