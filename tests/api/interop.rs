//! `SESSION_FORMAT=nuxt` against the real npm packages: cookies sealed by h3's own
//! `useSession` (what the Nuxt app's `nuxt-auth-utils` runs) are accepted by the server, and the
//! cookies the server and `session mint` seal are read back by h3.
//!
//! h3 runs through `tests/interop/h3-session.mjs` (`npm ci` there; the README's test command
//! does it). Without node or those packages the tests say SKIPPED, unless
//! `NEPTUN_REQUIRE_BROWSER=1` (set by the test command), which makes that a failure.

use crate::common;

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use common::*;
use serde_json::{Value, json};

fn interop_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop")
}

/// Whether h3 can be run; a missing install is a failure where the test command asked for it.
fn h3_available() -> bool {
    let installed = interop_dir().join("node_modules/h3").is_dir()
        && Command::new("node").arg("--version").output().is_ok();
    if !installed {
        assert!(
            std::env::var("NEPTUN_REQUIRE_BROWSER").as_deref() != Ok("1"),
            "NEPTUN_REQUIRE_BROWSER=1 but node or tests/interop/node_modules is missing"
        );
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: h3 interop (run `npm ci` in tests/interop; scripts/test does)"
        );
    }
    installed
}

/// `node h3-session.mjs COMMAND` with `input` on stdin: h3's answer.
fn h3(command: &str, input: &Value) -> Value {
    let mut child = Command::new("node")
        .arg(interop_dir().join("h3-session.mjs"))
        .arg(command)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("node runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "h3-session.mjs {command} failed");
    serde_json::from_slice(&output.stdout).expect("one JSON line")
}

/// A session the Nuxt app's login would make: h3 seals `{user, loggedInAt}` as its data.
fn nuxt_app_login(user: Value, logged_in_at: &str, max_age: Option<i64>) -> (String, Value) {
    let sealed = h3(
        "seal",
        &json!({
            "password": NUXT_PASSWORD,
            "data": {"user": user, "loggedInAt": logged_in_at},
            "maxAge": max_age,
        }),
    );
    let cookie = format!("neptun-session={}", sealed["cookie"].as_str().unwrap());
    (cookie, sealed)
}

/// What h3 reads from a `neptun-session=…` pair.
fn h3_reads(pair: &str) -> Value {
    let sealed = pair.strip_prefix("neptun-session=").unwrap();
    h3(
        "unseal",
        &json!({"password": NUXT_PASSWORD, "cookie": sealed}),
    )
}

#[tokio::test]
async fn a_session_sealed_by_h3_is_accepted_and_its_refresh_is_read_back_by_h3() {
    if !h3_available() {
        return;
    }
    let app = spawn_app_with(nuxt_config()).await;
    let user = app.seed("ada@example.com", "old-password").await;
    let now = neptun_users::session::unix_now_ms();
    let (cookie, sealed) = nuxt_app_login(
        json!({"id": user.id, "primary_email": "ada@example.com", "name": "Ada"}),
        &neptun_users::session::nuxt::format_time_ms(now - 60_000),
        None,
    );

    let response = app
        .patch(user.id, &cookie, r#"{"email":"countess@example.com"}"#)
        .await;

    assert_eq!(
        (response.status, response.json()),
        (
            200,
            json!({"user": {"id": user.id, "primary_email": "countess@example.com"}})
        )
    );
    let before = h3_reads(&cookie);
    let after = h3_reads(&response.session_cookie());
    assert_eq!(after["id"], sealed["id"], "the same session id");
    assert_eq!(after["createdAt"], sealed["createdAt"]);
    assert_eq!(after["data"]["loggedInAt"], before["data"]["loggedInAt"]);
    assert_eq!(
        after["data"]["user"],
        json!({"id": user.id, "primary_email": "countess@example.com", "name": "Ada"}),
        "the new address, every other key kept"
    );
    assert!(after["data"]["sessionVersion"].is_u64(), "{after}");
}

#[tokio::test]
async fn a_session_minted_by_the_command_line_is_read_by_h3() {
    if !h3_available() {
        return;
    }
    let output = Command::new(env!("CARGO_BIN_EXE_neptun"))
        .args(["session", "mint", "--user-id", "7", "--email", "a@b.co"])
        .env("SESSION_FORMAT", "nuxt")
        .env("NUXT_SESSION_PASSWORD", NUXT_PASSWORD)
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    let pair = String::from_utf8(output.stdout).unwrap();
    let session = h3_reads(pair.trim());
    assert_eq!(
        session["data"]["user"],
        json!({"id": 7, "primary_email": "a@b.co"})
    );
    assert!(session["id"].as_str().is_some_and(|id| id.len() == 36));
    assert!(session["data"]["loggedInAt"].is_string());
}

#[tokio::test]
async fn cookies_h3_would_not_open_or_that_name_no_user_get_401() {
    if !h3_available() {
        return;
    }
    let app = spawn_app_with(nuxt_config()).await;
    let user = app.seed("a@example.com", "old-password").await;
    let now = neptun_users::session::nuxt::format_time_ms(neptun_users::session::unix_now_ms());
    let (good, _) = nuxt_app_login(json!({"id": user.id}), &now, None);
    let other_password = h3(
        "seal",
        &json!({
            "password": "somebody-elses-password-somebody-elses-01",
            "data": {"user": {"id": user.id}, "loggedInAt": now},
        }),
    );
    let parts: Vec<&str> = good.split('*').collect();
    let with_part = |index: usize, value: &str| {
        let mut parts = parts.clone();
        parts[index] = value;
        parts.join("*")
    };
    let cases = [
        (
            "sealed with another password",
            format!(
                "neptun-session={}",
                other_password["cookie"].as_str().unwrap()
            ),
        ),
        (
            "tampered ciphertext",
            with_part(4, &format!("A{}", &parts[4][1..])),
        ),
        (
            "expired (iron's expiration, past the skew)",
            nuxt_app_login(json!({"id": user.id}), &now, Some(-120)).0,
        ),
        ("truncated", good[..good.len() - 20].to_owned()),
        ("not base64", with_part(3, "!!!!")),
        ("wrong prefix", good.replacen("Fe26.2", "Fe27.2", 1)),
        (
            "a user id that is a string",
            nuxt_app_login(json!({"id": user.id.to_string()}), &now, None).0,
        ),
    ];
    app.assert_all_unauthorized(&user, cases).await;
    let response = app
        .patch(user.id, &good, r#"{"email":"b@example.com"}"#)
        .await;
    assert_eq!(response.status, 200, "the untouched one: {response:?}");
}
