//! `SESSION_FORMAT=nuxt` against the real npm packages: cookies sealed by h3's own
//! `useSession` (what the Nuxt app's `nuxt-auth-utils` runs) are accepted by the server, and the
//! cookies the server and `session mint` seal are read back by h3. The sessions the sign-in and
//! sign-up issue open in h3, keep their stamp (`data.user.session_version`,
//! `data.user.logged_in_at`) through the re-seal the app's session fetch does with `loggedInAt`
//! set to now, and are judged by that stamp: accepted while current, refused once revoked.
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

/// The Nuxt app's session fetch (`GET /api/_auth/session`) on a request carrying `pair`: its
/// server plugin re-seals `{user, loggedInAt: now}` through h3. Returns the new pair and the
/// whole `Set-Cookie` header h3 wrote.
fn app_session_fetch(pair: &str) -> (String, String) {
    let sealed = pair.strip_prefix("neptun-session=").unwrap();
    let answer = h3(
        "reseal",
        &json!({"password": NUXT_PASSWORD, "cookie": sealed}),
    );
    (
        format!("neptun-session={}", answer["cookie"].as_str().unwrap()),
        answer["setCookie"].as_str().unwrap().to_owned(),
    )
}

/// Signs up through the function; asserts the 200 and returns the session pair.
async fn sign_up(app: &TestApp, email: &str, password: &str) -> (String, Value) {
    let body = json!({"email": email, "password": password, "confirmPassword": password});
    let response = app.post("/api/auth/sign-up", "", &body.to_string()).await;
    assert_eq!(response.status, 200, "sign-up: {response:?}");
    (response.session_cookie(), response.json())
}

/// Signs in through the function; asserts the 200 and returns the session pair.
async fn log_in(app: &TestApp, cookie: &str, email: &str, password: &str) -> (String, Value) {
    let body = json!({"email": email, "password": password});
    let response = app.post("/api/auth/login", cookie, &body.to_string()).await;
    assert_eq!(response.status, 200, "login: {response:?}");
    (response.session_cookie(), response.json())
}

/// The keys of a JSON object, sorted.
fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = value
        .as_object()
        .unwrap_or_else(|| panic!("not an object: {value}"))
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    keys
}

/// Asserts that h3 opens a session the function issued at a time within `[from, to]` (epoch
/// ms) for `email`, stamped as the contract says; returns what h3 read.
fn assert_issued_session(pair: &str, body: &Value, email: &str, (from, to): (i64, i64)) -> Value {
    let session = h3_reads(pair);
    assert!(
        session.get("error").is_none(),
        "h3 cannot open it: {session}"
    );
    assert_eq!(&session["data"], body, "the body is the session's data");
    assert_eq!(keys(&session["data"]), ["loggedInAt", "user"], "{session}");
    let user = &session["data"]["user"];
    assert_eq!(
        keys(user),
        ["id", "logged_in_at", "primary_email", "session_version"],
        "{session}"
    );
    assert!(user["id"].as_u64().is_some_and(|id| id > 0), "{session}");
    assert_eq!(user["primary_email"], email);
    assert!(user["session_version"].is_u64(), "an integer: {session}");
    let stamped = user["logged_in_at"].as_i64().expect("integer epoch ms");
    assert!((from..=to).contains(&stamped), "logged in now: {session}");
    let logged_in_at = neptun_users::clock::parse_time_ms(
        session["data"]["loggedInAt"].as_str().expect("an ISO time"),
    )
    .expect("an ISO time");
    assert!((from..=to).contains(&logged_in_at), "{session}");
    let created_at = session["createdAt"].as_i64().expect("createdAt in ms");
    assert!(
        (from..=to).contains(&created_at),
        "a new session: {session}"
    );
    assert!(
        session["id"].as_str().is_some_and(|id| id.len() == 36),
        "a new session id: {session}"
    );
    session
}

#[tokio::test]
async fn an_unstamped_session_sealed_by_h3_is_accepted_under_accept_and_its_refresh_stamped() {
    if !h3_available() {
        return;
    }
    let app = spawn_app_with(nuxt_config_accepting()).await;
    let user = app.seed("ada@example.com", "old-password").await;
    let now = neptun_users::clock::unix_now_ms();
    let logged_in_at = now - 60_000;
    let (cookie, sealed) = nuxt_app_login(
        json!({"id": user.id, "primary_email": "ada@example.com", "name": "Ada"}),
        &neptun_users::clock::format_time_ms(logged_in_at),
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
    let version = app.stored(user.id).await.session_version;
    assert_eq!(
        after["data"]["user"],
        json!({
            "id": user.id,
            "primary_email": "countess@example.com",
            "name": "Ada",
            "session_version": version,
            "logged_in_at": logged_in_at,
        }),
        "the new address, every other key kept, and the stamp: its loggedInAt as the login time"
    );
    assert_eq!(keys(&after["data"]), ["loggedInAt", "user"], "{after}");
}

#[tokio::test]
async fn an_unstamped_session_sealed_by_h3_is_refused_by_default() {
    if !h3_available() {
        return;
    }
    let app = spawn_app_with(nuxt_config()).await;
    let user = app.seed("ada@example.com", "old-password").await;
    let now = neptun_users::clock::format_time_ms(neptun_users::clock::unix_now_ms());
    let (cookie, _) = nuxt_app_login(
        json!({"id": user.id, "primary_email": "ada@example.com"}),
        &now,
        None,
    );
    let (resealed, _) = app_session_fetch(&cookie);
    app.assert_all_unauthorized(
        &user,
        [
            ("the app's own login's session", cookie),
            ("the same, after the app's session fetch", resealed),
        ],
    )
    .await;
}

#[tokio::test]
async fn sessions_the_sign_up_and_sign_in_issue_open_in_h3_and_survive_the_apps_reseal() {
    if !h3_available() {
        return;
    }
    let app = spawn_app_with(nuxt_config()).await;
    let from = neptun_users::clock::unix_now_ms();
    let (signed_up, body) = sign_up(&app, "ada@example.com", "Quartz-lamp-88").await;
    let to = neptun_users::clock::unix_now_ms();
    let first = assert_issued_session(&signed_up, &body, "ada@example.com", (from, to));
    let id = first["data"]["user"]["id"].as_u64().unwrap();
    let version = app.stored(id).await.session_version;
    assert_eq!(first["data"]["user"]["session_version"], version);

    let from = neptun_users::clock::unix_now_ms();
    let (logged_in, body) = log_in(&app, "", "ADA@example.com", "Quartz-lamp-88").await;
    let to = neptun_users::clock::unix_now_ms();
    let login = assert_issued_session(&logged_in, &body, "ada@example.com", (from, to));
    assert_eq!(login["data"]["user"]["id"], id);
    assert_eq!(login["data"]["user"]["session_version"], version);
    assert_ne!(login["id"], first["id"], "a new session");

    // The app's session fetch: same session, same stamp, `loggedInAt` now, no Max-Age.
    let (resealed, header) = app_session_fetch(&logged_in);
    assert!(
        header.ends_with("; Path=/; HttpOnly; Secure; SameSite=Lax")
            && !header.contains("Max-Age")
            && !header.contains("Expires"),
        "h3's re-sealed cookie: {}",
        header.split(';').skip(1).collect::<Vec<_>>().join(";")
    );
    let after = h3_reads(&resealed);
    assert_eq!(
        (&after["id"], &after["createdAt"], &after["data"]["user"]),
        (&login["id"], &login["createdAt"], &login["data"]["user"]),
        "the re-seal keeps the session and its stamp"
    );
    assert_ne!(
        after["data"]["loggedInAt"], login["data"]["loggedInAt"],
        "the re-seal moved loggedInAt to now"
    );

    // The re-sealed cookie is the function's session still: accepted, and refreshed with the
    // stamp of the sign-in (not the re-seal's loggedInAt).
    let response = app
        .patch(id, &resealed, r#"{"email":"countess@example.com"}"#)
        .await;
    assert_eq!(
        (response.status, response.json()),
        (
            200,
            json!({"user": {"id": id, "primary_email": "countess@example.com"}})
        )
    );
    let refreshed = h3_reads(&response.session_cookie());
    assert_eq!(
        refreshed,
        json!({
            "id": after["id"],
            "createdAt": after["createdAt"],
            "data": {
                "user": {
                    "id": id,
                    "primary_email": "countess@example.com",
                    "session_version": version,
                    "logged_in_at": login["data"]["user"]["logged_in_at"],
                },
                "loggedInAt": after["data"]["loggedInAt"],
            },
        }),
        "the refresh, as h3 reads it"
    );
}

#[tokio::test]
async fn a_session_resealed_by_the_app_after_a_password_change_stays_revoked() {
    if !h3_available() {
        return;
    }
    let app = spawn_app_with(nuxt_config()).await;
    // Two browsers: one signed up, one signed in; the app's client fetched the session in
    // each (it does after every sign-in and sign-up).
    let (first, body) = sign_up(&app, "ada@example.com", "Quartz-lamp-88").await;
    let id = body["user"]["id"].as_u64().unwrap();
    let (first, _) = app_session_fetch(&first);
    let (second, _) = log_in(&app, "", "ada@example.com", "Quartz-lamp-88").await;
    let (second, _) = app_session_fetch(&second);
    let version = app.stored(id).await.session_version;

    // The second changes the password: it stays signed in, with the next version.
    let response = app
        .patch(id, &second, r#"{"password":"Granite-kite-47"}"#)
        .await;
    assert_eq!(
        (response.status, response.json()),
        (
            200,
            json!({"user": {"id": id, "primary_email": "ada@example.com"}})
        )
    );
    let changed = response.session_cookie();
    assert_eq!(
        h3_reads(&changed)["data"]["user"]["session_version"],
        version + 1
    );
    assert_eq!(app.stored(id).await.session_version, version + 1);

    // The first fetches its session through the app after the change: "logged in now",
    // which proves nothing; its stamp is stale, so it is refused, before and after.
    let (first_resealed, _) = app_session_fetch(&first);
    let read = h3_reads(&first_resealed);
    assert_eq!(read["data"]["user"]["session_version"], version);
    let logged_in_at =
        neptun_users::clock::parse_time_ms(read["data"]["loggedInAt"].as_str().unwrap()).unwrap();
    let changed_at = app.stored(id).await.password_changed_at_ms.unwrap();
    assert!(logged_in_at > changed_at, "{logged_in_at} > {changed_at}");
    let user = TestUser {
        id,
        email: "ada@example.com".to_owned(),
        cookie: first.clone(),
    };
    app.assert_all_unauthorized(
        &user,
        [
            ("the revoked session", first),
            (
                "the revoked session, re-sealed by the app",
                first_resealed.clone(),
            ),
        ],
    )
    .await;

    // It is no sign-in either: the login ignores it and replaces it.
    let (new_session, body) =
        log_in(&app, &first_resealed, "ada@example.com", "Granite-kite-47").await;
    assert_eq!(body["user"]["session_version"], version + 1);
    assert_ne!(h3_reads(&new_session)["id"], read["id"], "a new session");

    // The current one survives the app's re-seal.
    let (changed_resealed, _) = app_session_fetch(&changed);
    let response = app
        .patch(id, &changed_resealed, r#"{"email":"countess@example.com"}"#)
        .await;
    assert_eq!(
        (response.status, response.json()),
        (
            200,
            json!({"user": {"id": id, "primary_email": "countess@example.com"}})
        )
    );
}

#[tokio::test]
async fn a_stamped_session_is_judged_by_its_stamp_whatever_its_logged_in_at_says() {
    if !h3_available() {
        return;
    }
    let max_age_s = 3_600;
    let app = spawn_app_with(config(&[
        ("SESSION_FORMAT", "nuxt"),
        ("NUXT_SESSION_PASSWORD", NUXT_PASSWORD),
        ("SESSION_TTL_SECONDS", "600"),
        ("SESSION_MAX_AGE_SECONDS", &max_age_s.to_string()),
    ]))
    .await;
    let user = app.seed("ada@example.com", "old-password").await;
    let version = app.stored(user.id).await.session_version;
    let now = neptun_users::clock::unix_now_ms();
    let iso_now = neptun_users::clock::format_time_ms(now);
    // A session another sign-in would seal through h3, with the stamp the contract documents.
    let stamped = |version: u64, logged_in_at: i64| {
        nuxt_app_login(
            json!({
                "id": user.id,
                "primary_email": "ada@example.com",
                "session_version": version,
                "logged_in_at": logged_in_at,
            }),
            &iso_now,
            None,
        )
        .0
    };
    app.assert_all_unauthorized(
        &user,
        [
            (
                "logged in past the absolute lifetime, loggedInAt now",
                stamped(version, now - max_age_s * 1000 - 60_000),
            ),
            ("a stale version, loggedInAt now", stamped(version + 1, now)),
            ("logged in in the future", stamped(version, now + 120_000)),
        ],
    )
    .await;
    let response = app
        .patch(
            user.id,
            &stamped(version, now - 60_000),
            r#"{"email":"countess@example.com"}"#,
        )
        .await;
    assert_eq!(
        (response.status, response.json()),
        (
            200,
            json!({"user": {"id": user.id, "primary_email": "countess@example.com"}})
        ),
        "the current stamp, within the lifetime"
    );
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
    let user = &session["data"]["user"];
    assert_eq!(
        (&user["id"], &user["primary_email"]),
        (&json!(7), &json!("a@b.co"))
    );
    // Stamped, or the function itself would refuse it by default.
    assert_eq!(
        keys(user),
        ["id", "logged_in_at", "primary_email", "session_version"]
    );
    assert!(
        user["session_version"].is_u64() && user["logged_in_at"].is_i64(),
        "{session}"
    );
    assert!(session["id"].as_str().is_some_and(|id| id.len() == 36));
    assert!(session["data"]["loggedInAt"].is_string());
}

#[tokio::test]
async fn cookies_h3_would_not_open_or_that_name_no_user_get_401() {
    if !h3_available() {
        return;
    }
    // Accepting unstamped sessions, so that the untouched one passes and each case fails for
    // its own reason.
    let app = spawn_app_with(nuxt_config_accepting()).await;
    let user = app.seed("a@example.com", "old-password").await;
    let now = neptun_users::clock::format_time_ms(neptun_users::clock::unix_now_ms());
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
            // Another first character: one in 64 seals already starts with `A`.
            with_part(
                4,
                &format!(
                    "{}{}",
                    if parts[4].starts_with('A') { 'B' } else { 'A' },
                    &parts[4][1..]
                ),
            ),
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
