//! Property tests of everything a client controls: the body parser, the email check, the
//! `user_id` parser, the cookie decoder and the whole handler. Never a panic; always a result
//! in the contract's shape.

use crate::common;

use std::sync::Arc;

use bytes::Bytes;
use neptun_users::clock::unix_now_ms;
use neptun_users::context::Scheme;
use neptun_users::domain::{BodyError, Email, UserId, UserUpdate};
use neptun_users::store::MemoryStore;
use neptun_users::{AppContext, handle};
use proptest::prelude::*;
use serde_json::Value;

/// Strings biased towards the characters that matter to each parser.
fn tricky_string() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[a-zA-Z0-9@._+'\\-]{0,40}",
        "[a-z]{1,10}@[a-z]{1,10}\\.[a-z]{2,5}",
        "[0-9]{0,20}",
        "[ \\t\\n.@\"\\[\\]%\\\\]{0,12}",
    ]
}

fn check_issue_shape(issue: &Value) {
    let code = issue["code"].as_str().expect("code");
    assert!(
        [
            "invalid_type",
            "too_small",
            "too_big",
            "invalid_string",
            "custom"
        ]
        .contains(&code),
        "{issue}"
    );
    assert!(issue["message"].is_string(), "{issue}");
    assert!(
        issue["path"]
            .as_array()
            .is_some_and(|p| p.iter().all(Value::is_string)),
        "{issue}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn the_body_parser_never_panics_and_reports_zod_issues(body in prop_oneof![
        any::<Vec<u8>>(),
        tricky_string().prop_map(String::into_bytes),
        (tricky_string(), tricky_string()).prop_map(|(e, p)| serde_json::json!({"email": e, "password": p}).to_string().into_bytes()),
        tricky_string().prop_map(|e| format!(r#"{{"email":{e:?},"x":[1,{{}}]}}"#).into_bytes()),
    ]) {
        match UserUpdate::from_json(&body, &Default::default()) {
            Ok(update) => prop_assert!(update.email.is_some() || update.password.is_some()),
            Err(BodyError::Unparseable) => prop_assert!(serde_json::from_slice::<Value>(&body).is_err()),
            Err(BodyError::Invalid(issues)) => {
                prop_assert!(!issues.is_empty());
                for issue in &issues {
                    check_issue_shape(&serde_json::to_value(issue).unwrap());
                }
            }
        }
    }

    #[test]
    fn accepted_emails_are_ascii_and_within_bounds(raw in tricky_string()) {
        if let Ok(email) = Email::parse(&raw) {
            prop_assert!(email.as_str().is_ascii());
            prop_assert!((5..=256).contains(&email.as_str().len()));
            prop_assert_eq!(email.as_str(), raw.as_str(), "stored as given");
            prop_assert_eq!(email.normalized(), raw.to_ascii_lowercase());
        }
    }

    #[test]
    fn user_ids_parse_exactly_when_canonical_and_safe(raw in tricky_string()) {
        let canonical = !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit()) && !raw.starts_with('0');
        let safe = canonical && raw.len() <= 16 && raw.parse::<u64>().is_ok_and(|n| n < 1 << 53);
        match UserId::parse(&raw) {
            Ok(id) => {
                prop_assert!(safe);
                prop_assert_eq!(id.to_string(), raw);
            }
            Err(issues) => {
                prop_assert!(!safe);
                prop_assert_eq!(issues.len(), 1);
                check_issue_shape(&serde_json::to_value(&issues[0]).unwrap());
            }
        }
    }

    #[test]
    fn only_the_exact_signed_cookie_is_accepted(
        header in tricky_string(),
        position in any::<prop::sample::Index>(),
        replacement in any::<char>(),
    ) {
        let keys = neptun_users::SessionKeys::new(&common::config(&[]));
        let now = unix_now_ms();
        prop_assert!(keys.verify([header.as_str()], now).is_err(), "arbitrary text is never a session");
        let session = keys.issue(UserId::new(7).unwrap(), "a@example.com", 1, now, None);
        let cookie = keys.cookie_pair(&session);
        let mut chars: Vec<char> = cookie.chars().collect();
        let at = position.index(chars.len());
        let changed = chars[at] != replacement;
        chars[at] = replacement;
        let mutated: String = chars.into_iter().collect();
        let verified = keys.verify([mutated.as_str()], now);
        if changed && at >= "neptun-session=".len() {
            prop_assert!(verified.is_err(), "a changed character breaks the signature: {mutated}");
        }
    }
}

/// A context over an empty memory store, for driving the handler directly.
fn context() -> Arc<AppContext> {
    Arc::new(AppContext::new(
        common::config(&[]),
        Arc::new(MemoryStore::new()),
        Scheme::Http,
    ))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn the_handler_always_answers_in_the_contracts_shape(
        method in prop::sample::select(vec!["PATCH", "GET", "OPTIONS", "POST", "DELETE"]),
        path in prop_oneof![
            "/api/users/[0-9a-z%\\[\\]._+-]{0,12}",
            "/api/users/\\[user_id\\]\\?user_id=[0-9a-z%]{0,8}",
            "/[a-z/]{0,12}",
        ],
        cookie in prop_oneof![Just(String::new()), tricky_string().prop_map(|c| format!("neptun-session={c}"))],
        content_type in prop::sample::select(vec!["", "application/json", "text/plain", "APPLICATION/JSON; charset=x"]),
        origin in prop::sample::select(vec!["", "null", "https://evil.example", "http://127.0.0.1:3000"]),
        body in prop_oneof![any::<Vec<u8>>(), tricky_string().prop_map(String::into_bytes)],
    ) {
        let ctx = context();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let mut request = http::Request::builder().method(method).uri(path).header("host", "127.0.0.1:3000");
        for (name, value) in [("cookie", cookie.as_str()), ("content-type", content_type), ("origin", origin)] {
            if !value.is_empty()
                && let Ok(value) = http::HeaderValue::from_str(value)
            {
                request = request.header(name, value);
            }
        }
        let request = request.body(Bytes::from(body)).unwrap();
        let response = runtime.block_on(handle(&ctx, request));
        let status = response.status().as_u16();
        prop_assert!([204, 400, 401, 403, 404, 405, 413, 415].contains(&status), "{status}");
        prop_assert!(response.headers().get("set-cookie").is_none(), "no session could be valid here");
        if status != 204 {
            let body: Value = serde_json::from_str(response.body()).unwrap();
            prop_assert_eq!(body["statusCode"].as_u64(), Some(u64::from(status)));
            prop_assert!(body["statusMessage"].as_str().is_some_and(|m| m.ends_with('.')));
            if let Some(issues) = body["data"]["issues"].as_array() {
                for issue in issues {
                    check_issue_shape(issue);
                }
            }
        }
    }
}
