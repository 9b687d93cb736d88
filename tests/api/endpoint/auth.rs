//! `POST /api/auth/login` and `POST /api/auth/sign-up`, black-box through the real server, in
//! both session formats; a module of [`super`] so the test command's second run over DynamoDB
//! (`endpoint::`) runs these too.

use crate::common::*;

use neptun_users::clock::unix_now_ms;
use neptun_users::domain::{Email, UserId};
use neptun_users::store::StoredUser;
use serde_json::{Value, json};

const SIGN_IN: &str = "/api/auth/login";
const SIGN_UP: &str = "/api/auth/sign-up";
const WRONG: &str = "Invalid email or password.";
/// A password every rule accepts, the web app's included.
const GOOD: &str = "Quartz-lamp-88";

fn signed_config() -> neptun_users::Config {
    config(&[])
}

/// Both formats: the signed one and the Nuxt one (under its default, refusing unstamped
/// sessions).
fn formats() -> [(&'static str, neptun_users::Config); 2] {
    [("signed", signed_config()), ("nuxt", nuxt_config())]
}

fn credentials(email: &str, password: &str) -> String {
    json!({"email": email, "password": password}).to_string()
}

fn sign_up_body(email: &str, password: &str) -> String {
    json!({"email": email, "password": password, "confirmPassword": password}).to_string()
}

/// Checks a sign-in's or sign-up's 200: the body the format promises, and a cookie that the
/// update accepts. Returns the cookie.
async fn assert_signed_in(
    app: &TestApp,
    format: &str,
    response: &TestResponse,
    address: &str,
) -> (u64, String) {
    assert_eq!(response.status, 200, "{format}: {response:?}");
    let body = response.json();
    let id = body["user"]["id"].as_u64().expect("a numeric id");
    match format {
        "signed" => assert_eq!(
            body,
            json!({"user": {"id": id, "primary_email": address}}),
            "{format}"
        ),
        _ => {
            let logged_in_at = body["user"]["logged_in_at"].as_i64().expect("the stamp");
            assert!((unix_now_ms() - logged_in_at).abs() < 10_000, "{body}");
            assert_eq!(
                body,
                json!({
                    "user": {"id": id, "primary_email": address, "session_version": 1, "logged_in_at": logged_in_at},
                    "loggedInAt": neptun_users::clock::format_time_ms(logged_in_at),
                }),
                "{format}: the session's data, as the web app's own route answers"
            );
        }
    }
    let set_cookie = response.set_cookies()[0];
    for attribute in [
        "Path=/",
        "HttpOnly",
        "Secure",
        "SameSite=Lax",
        "Max-Age=604800",
    ] {
        assert!(
            set_cookie.split("; ").any(|a| a == attribute),
            "{format}: {set_cookie}"
        );
    }
    let cookie = response.session_cookie();
    let moved = app
        .patch(
            id,
            &cookie,
            r#"{"email":"moved.after.sign.in@example.com"}"#,
        )
        .await;
    assert_eq!(
        moved.status, 200,
        "{format}: the new session works: {moved:?}"
    );
    let back = app
        .patch(
            id,
            &moved.session_cookie(),
            &json!({"email": address}).to_string(),
        )
        .await;
    assert_eq!(back.status, 200, "{format}");
    (id, back.session_cookie())
}

#[tokio::test]
async fn sign_up_then_sign_in_answer_as_the_web_app_does_in_both_formats() {
    for (format, config) in formats() {
        let app = spawn_app_with(config).await;
        let signed_up = app
            .post(SIGN_UP, "", &sign_up_body("Ada@Example.com", GOOD))
            .await;
        let (id, _) = assert_signed_in(&app, format, &signed_up, "Ada@Example.com").await;
        let stored = app.stored(id).await;
        assert!(
            stored
                .password_hash
                .as_ref()
                .unwrap()
                .as_str()
                .starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{format}"
        );
        let signed_in = app
            .post(SIGN_IN, "", &credentials("ada@EXAMPLE.com", GOOD))
            .await;
        let (again, _) = assert_signed_in(&app, format, &signed_in, "Ada@Example.com").await;
        assert_eq!(again, id, "{format}: the address is looked up in any case");
    }
}

#[tokio::test]
async fn an_unknown_address_a_wrong_password_and_no_password_answer_alike_after_equal_work() {
    let app = spawn_app().await;
    let user = app.seed("known@example.com", "right-password-1").await;
    let id = UserId::new(9_000).unwrap();
    let no_password = StoredUser::new(id, &Email::parse("oauth@example.com").unwrap(), None, 1);
    app.store.import_user(&no_password).await.unwrap();
    let cases = [
        (
            "unknown@example.com",
            "right-password-1",
            "an unknown address",
        ),
        ("known@example.com", "wrong-password-1", "a wrong password"),
        (
            "KNOWN@example.com",
            "Right-password-1",
            "a password in another case",
        ),
        (
            "oauth@example.com",
            "anything-at-all",
            "a user without a password",
        ),
    ];
    for (address, password, why) in cases {
        let hashes = app.ctx.hasher.jobs_started();
        let response = app.post(SIGN_IN, "", &credentials(address, password)).await;
        assert_eq!(
            (response.status, response.json()),
            (401, error_body(401, WRONG, None)),
            "{why}"
        );
        assert_eq!(
            app.ctx.hasher.jobs_started(),
            hashes + 1,
            "{why}: exactly one verification, a real one or the dummy"
        );
    }
    assert_eq!(
        app.stored(user.id).await.sign_in_attempts.count,
        2,
        "the known account's wrong attempts are counted"
    );
}

#[tokio::test]
async fn bad_bodies_get_the_web_apps_issues_under_their_fields() {
    let app = spawn_app_with(nuxt_config()).await;
    let required = |field: &str| json!({"code":"invalid_type","validation":"invalid_type","expected":"string","received":"undefined","message":"Required","path":[field]});
    let custom = |message: &str, field: &str| json!({"code":"custom","validation":"custom","message":message,"path":[field]});
    let sign_in_message = "Invalid body(email, password).";
    let sign_up_message = "Invalid body(email, password, confirmPassword).";
    let cases: Vec<(&str, String, u16, Value, &str)> = vec![
        (
            SIGN_IN,
            "{}".into(),
            400,
            error_body(
                400,
                sign_in_message,
                Some(json!([required("email"), required("password")])),
            ),
            "nothing",
        ),
        (
            SIGN_IN,
            r#"{"email":"a@b.co","password":""}"#.into(),
            400,
            error_body(
                400,
                sign_in_message,
                Some(
                    json!([{"code":"too_small","validation":"min","minimum":1,"type":"string","inclusive":true,"exact":false,"message":"Password must be at least 1 character","path":["password"]}]),
                ),
            ),
            "an empty password",
        ),
        (
            SIGN_IN,
            r#"{"email":"not an address","password":"x"}"#.into(),
            400,
            error_body(
                400,
                sign_in_message,
                Some(
                    json!([{"code":"invalid_string","validation":"email","message":"Invalid email","path":["email"]}]),
                ),
            ),
            "a malformed address",
        ),
        (
            SIGN_IN,
            "[1]".into(),
            400,
            error_body(
                400,
                sign_in_message,
                Some(
                    json!([{"code":"invalid_type","validation":"type","expected":"object","received":"array","message":"Expected object, received array","path":[]}]),
                ),
            ),
            "not an object",
        ),
        (
            SIGN_IN,
            "{".into(),
            400,
            error_body(400, "Invalid JSON body", None),
            "not JSON",
        ),
        (
            SIGN_UP,
            sign_up_body("a@b.co", "quartzlamp-river-88"),
            400,
            error_body(
                400,
                sign_up_message,
                Some(json!([custom(
                    "Password must contain at least one uppercase letter",
                    "password"
                )])),
            ),
            "the web app's rules in Nuxt mode",
        ),
        (
            SIGN_UP,
            sign_up_body("a@b.co", "Ab1-"),
            400,
            error_body(
                400,
                sign_up_message,
                Some(
                    json!([{"code":"too_small","validation":"min","minimum":8,"type":"string","inclusive":true,"exact":false,"message":"Password must be at least 8 characters","path":["password"]}]),
                ),
            ),
            "too short",
        ),
        (
            SIGN_UP,
            sign_up_body("a@b.co", "P@ssw0rd"),
            400,
            error_body(
                400,
                sign_up_message,
                Some(json!([custom("Password is too common.", "password")])),
            ),
            "a common password",
        ),
        (
            SIGN_UP,
            json!({"email":"a@b.co","password":GOOD,"confirmPassword":"Quartz-lamp-89"})
                .to_string(),
            400,
            error_body(
                400,
                sign_up_message,
                Some(json!([
                    custom("Password must match", "password"),
                    custom("Password must match", "confirmPassword")
                ])),
            ),
            "a confirmation that differs",
        ),
        (
            SIGN_UP,
            json!({"email":"a@b.co","password":GOOD}).to_string(),
            400,
            error_body(
                400,
                sign_up_message,
                Some(json!([required("confirmPassword")])),
            ),
            "no confirmation",
        ),
    ];
    for (path, body, status, expected, why) in cases {
        let response = app.post(path, "", &body).await;
        assert_eq!(
            (response.status, response.json()),
            (status, expected),
            "{path}: {why}"
        );
    }
    assert_eq!(
        app.store
            .find_user_id(&Email::parse("a@b.co").unwrap())
            .await,
        Ok(None),
        "nothing was written"
    );
}

#[tokio::test]
async fn a_taken_address_is_409_in_any_case_and_writes_nothing() {
    for (format, config) in formats() {
        let app = spawn_app_with(config).await;
        let user = app.seed("taken@example.com", GOOD).await;
        let response = app
            .post(SIGN_UP, "", &sign_up_body("TAKEN@example.com", GOOD))
            .await;
        assert_eq!(
            (response.status, response.json()),
            (
                409,
                error_body(409, "A user with this email already exists.", None)
            ),
            "{format}"
        );
        let fresh = app
            .post(SIGN_UP, "", &sign_up_body("fresh@example.com", GOOD))
            .await;
        assert_eq!(
            fresh.json()["user"]["id"],
            json!(user.id + 1),
            "{format}: the refused sign-up spent no id"
        );
    }
}

#[tokio::test]
async fn sign_up_ids_start_at_the_floor() {
    let app = spawn_app_with(config(&[("USER_ID_FLOOR", "700000")])).await;
    let response = app
        .post(SIGN_UP, "", &sign_up_body("floor@example.com", GOOD))
        .await;
    assert_eq!(
        response.json(),
        json!({"user": {"id": 700000, "primary_email": "floor@example.com"}})
    );
}

/// A browser whose session the update would accept is refused; every other cookie is
/// ignored, and the success replaces it.
#[tokio::test]
async fn a_signed_in_browser_is_refused_and_any_other_cookie_is_ignored() {
    for (format, config) in formats() {
        let app = spawn_app_with(config).await;
        let user = app.seed("someone@example.com", GOOD).await;
        let signed_in = app.post(SIGN_IN, "", &credentials(&user.email, GOOD)).await;
        let valid = signed_in.session_cookie();
        for (path, message) in [
            (
                SIGN_IN,
                "Please log out before logging in as a different user.",
            ),
            (SIGN_UP, "Please log out before creating a new account."),
        ] {
            let body = if path == SIGN_IN {
                credentials(&user.email, GOOD)
            } else {
                sign_up_body("another@example.com", GOOD)
            };
            let response = app.post(path, &valid, &body).await;
            assert_eq!(
                (response.status, response.json()),
                (403, error_body(403, message, None)),
                "{format}: {path}"
            );
        }
        let now = unix_now_ms();
        let nobody = app.keys.cookie_pair(&app.keys.issue(
            UserId::new(424_242).unwrap(),
            "ghost@example.com",
            1,
            now,
            None,
        ));
        let revoked = app.keys.cookie_pair(&app.keys.issue(
            UserId::new(user.id).unwrap(),
            &user.email,
            0,
            now,
            None,
        ));
        let mut ignored = vec![
            ("neptun-session=".to_owned(), "what a logout leaves"),
            ("neptun-session=forged".to_owned(), "a forged cookie"),
            (revoked, "a revoked session"),
            (nobody, "a session whose user has no record"),
        ];
        if format == "nuxt" {
            ignored.push((
                nuxt_login_cookie(NUXT_PASSWORD, user.id, &user.email, now),
                "an unstamped session of the app's own login",
            ));
            let visitor = json!({"id": "v", "createdAt": now, "data": {"loggedInAt": neptun_users::clock::format_time_ms(now)}});
            let password = neptun_users::iron::IronPassword::new(NUXT_PASSWORD).unwrap();
            ignored.push((
                format!(
                    "neptun-session={}",
                    neptun_users::iron::seal(visitor.to_string().as_bytes(), &password, None)
                ),
                "a signed-out visitor's session",
            ));
        }
        for (cookie, why) in ignored {
            app.remember(&cookie);
            let response = app
                .post(SIGN_IN, &cookie, &credentials(&user.email, GOOD))
                .await;
            assert_eq!(response.status, 200, "{format}: {why}: {response:?}");
            assert_ne!(
                response.session_cookie(),
                cookie,
                "{format}: {why}: replaced"
            );
        }
    }
}

#[tokio::test]
async fn ten_wrong_passwords_lock_the_account_until_the_window_ends() {
    let app = spawn_app().await;
    let user = app.seed("locked@example.com", GOOD).await;
    for n in 1..=10 {
        let response = app
            .post(
                SIGN_IN,
                "",
                &credentials(&user.email, &format!("guess-{n}")),
            )
            .await;
        assert_eq!(response.status, 401, "wrong attempt {n}");
    }
    let hashes = app.ctx.hasher.jobs_started();
    for (password, why) in [
        ("guess-11", "an eleventh guess"),
        (GOOD, "even the right password"),
    ] {
        let response = app
            .post(SIGN_IN, "", &credentials(&user.email, password))
            .await;
        assert_locked(&response, why);
    }
    assert_eq!(
        app.ctx.hasher.jobs_started(),
        hashes,
        "a 429 does no hashing"
    );
    let other = app.seed("other@example.com", GOOD).await;
    let response = app
        .post(SIGN_IN, "", &credentials(&other.email, GOOD))
        .await;
    assert_eq!(response.status, 200, "another account is not locked");
    // The update's current_password counts are apart from these.
    let update = app
        .patch(
            user.id,
            &user.cookie,
            &json!({"email": "moved@example.com", "current_password": GOOD}).to_string(),
        )
        .await;
    assert_eq!(update.status, 200, "{update:?}");
    app.ctx.clock.advance(15 * 60 * 1000);
    let response = app
        .post(SIGN_IN, "", &credentials("moved@example.com", GOOD))
        .await;
    assert_eq!(
        response.status, 200,
        "allowed again once the window has passed"
    );
    assert_eq!(app.stored(user.id).await.sign_in_attempts.count, 0, "reset");
}

#[tokio::test]
async fn the_http_rules_of_the_update_hold_on_both_routes() {
    let app = spawn_app_with(config(&[("ALLOWED_ORIGINS", ALLOWED_ORIGIN)])).await;
    for path in [SIGN_IN, SIGN_UP] {
        let get = app.request("GET", path, &[], "").await;
        assert_eq!(
            (get.status, get.header("allow"), get.json()),
            (
                405,
                Some("POST"),
                error_body(405, "Method not allowed.", None)
            ),
            "{path}"
        );
        let patch = app
            .request("PATCH", path, &[("content-type", "application/json")], "{}")
            .await;
        assert_eq!(patch.status, 405, "{path}");
        let preflight = app
            .request(
                "OPTIONS",
                path,
                &[
                    ("origin", ALLOWED_ORIGIN),
                    ("access-control-request-method", "POST"),
                ],
                "",
            )
            .await;
        assert_eq!(
            (
                preflight.status,
                preflight.header("access-control-allow-methods"),
                preflight.header("access-control-allow-origin"),
            ),
            (204, Some("POST"), Some(ALLOWED_ORIGIN)),
            "{path}"
        );
        let text = app
            .request("POST", path, &[("content-type", "text/plain")], "{}")
            .await;
        assert_eq!(
            (text.status, text.json()),
            (
                415,
                error_body(415, "Content-Type must be application/json.", None)
            ),
            "{path}"
        );
        // Padding in a field of its own: a 17,000-character "password" would be remembered as
        // a secret, and the log scan's automaton over it takes minutes in a debug build.
        let big = format!(r#"{{"email":"a@b.co","pad":"{}"}}"#, "x".repeat(17_000));
        let large = app.post(path, "", &big).await;
        assert_eq!(
            (large.status, large.json()),
            (
                413,
                error_body(413, "Request body must be at most 16384 bytes.", None)
            ),
            "{path}"
        );
        let cross = app
            .request(
                "POST",
                path,
                &[
                    ("content-type", "application/json"),
                    ("origin", "https://evil.example"),
                ],
                &credentials("a@b.co", GOOD),
            )
            .await;
        assert_eq!(
            (cross.status, cross.json()),
            (
                403,
                error_body(403, "You do not have access to this resource.", None)
            ),
            "{path}"
        );
    }
}

/// A verified password whose stored hash is weaker than the contract's (an imported bcrypt
/// hash) is hashed again in the same write, on sign-in and on `current_password`; nothing is
/// revoked by it.
#[tokio::test]
async fn a_weaker_hash_is_upgraded_when_its_password_is_verified() {
    let app = spawn_app().await;
    let password = "imported-password-1";
    app.remember(password);
    let bcrypt = bcrypt::hash(password, 4).unwrap();
    let sign_in = credentials("first@example.com", password);
    let update = json!({"email": "second.moved@example.com", "current_password": password});
    let cases = [
        ("first@example.com", SIGN_IN, sign_in, "a sign-in"),
        (
            "second@example.com",
            "patch",
            update.to_string(),
            "a current_password",
        ),
    ];
    for (address, route, body, why) in cases {
        let user = app.seed_with_hash(address, &bcrypt).await;
        let response = match route {
            "patch" => app.patch(user.id, &user.cookie, &body).await,
            path => app.post(path, "", &body).await,
        };
        assert_eq!(response.status, 200, "{why}: {response:?}");
        let stored = app.stored(user.id).await;
        let hash = stored.password_hash.unwrap();
        assert!(
            hash.as_str().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{why}: upgraded"
        );
        assert!(neptun_users::password::verify(password, &hash), "{why}");
        assert_eq!(
            stored.session_version, 1,
            "{why}: an upgrade revokes nothing"
        );
        let before = app
            .patch(
                user.id,
                &user.cookie,
                r#"{"email":"still.valid@example.com"}"#,
            )
            .await;
        assert_eq!(
            before.status, 200,
            "{why}: a session from before the upgrade works"
        );
        let back = json!({ "email": address }).to_string();
        app.patch(user.id, &before.session_cookie(), &back).await;
    }
}

/// Re-seals a Nuxt cookie as the web app's session plugin does on every session fetch:
/// `{user, loggedInAt: now}` merged into the session h3 read from the request (same `id`,
/// `createdAt`, `data.user`), sealed without an expiration.
fn app_reseal(cookie: &str, now_ms: i64) -> String {
    let password = neptun_users::iron::IronPassword::new(NUXT_PASSWORD).unwrap();
    let value = cookie.strip_prefix("neptun-session=").unwrap();
    let opened =
        neptun_users::iron::unseal(value, std::slice::from_ref(&password), now_ms).unwrap();
    let mut object: Value = serde_json::from_slice(&opened.plaintext).unwrap();
    object["data"]["loggedInAt"] = json!(neptun_users::clock::format_time_ms(now_ms));
    format!(
        "neptun-session={}",
        neptun_users::iron::seal(object.to_string().as_bytes(), &password, None)
    )
}

#[tokio::test]
async fn revocation_and_the_lifetime_hold_against_the_apps_session_refresh() {
    let app = spawn_app_with(nuxt_config()).await;
    let user = app.seed("two.browsers@example.com", GOOD).await;
    let body = credentials(&user.email, GOOD);
    let first = app.post(SIGN_IN, "", &body).await.session_cookie();
    let second = app.post(SIGN_IN, "", &body).await.session_cookie();
    let resealed = app_reseal(&second, unix_now_ms());
    app.remember(&resealed);
    let fine = app
        .patch(
            user.id,
            &resealed,
            r#"{"email":"two.browsers@example.com"}"#,
        )
        .await;
    assert_eq!(
        fine.status, 200,
        "a re-sealed current session is valid: {fine:?}"
    );

    let changed = app
        .patch(user.id, &first, r#"{"password":"Brand-new-secret-9"}"#)
        .await;
    assert_eq!(changed.status, 200, "{changed:?}");
    for (why, cookie) in [
        ("the other browser's session", second.clone()),
        ("the same, re-sealed by the app before the change", resealed),
        (
            "the same, re-sealed by the app after the change",
            app_reseal(&second, unix_now_ms()),
        ),
    ] {
        app.remember(&cookie);
        let response = app
            .patch(user.id, &cookie, r#"{"email":"x@example.com"}"#)
            .await;
        assert_eq!(
            (response.status, response.json()),
            (401, error_body(401, "Unauthorized", None)),
            "{why}"
        );
    }
    let kept = changed.session_cookie();
    let response = app
        .patch(
            user.id,
            &app_reseal(&kept, unix_now_ms()),
            r#"{"email":"kept@example.com"}"#,
        )
        .await;
    assert_eq!(response.status, 200, "the changer's own session, re-sealed");

    // A stamp a month old is past the maximum age, however fresh `loggedInAt` says it is.
    let month_old = unix_now_ms() - 31 * 86_400_000;
    let old = json!({
        "id": "old",
        "createdAt": month_old,
        "data": {
            "user": {"id": user.id, "primary_email": "kept@example.com", "session_version": 2, "logged_in_at": month_old},
            "loggedInAt": neptun_users::clock::format_time_ms(unix_now_ms()),
        },
    });
    let password = neptun_users::iron::IronPassword::new(NUXT_PASSWORD).unwrap();
    let old = format!(
        "neptun-session={}",
        neptun_users::iron::seal(old.to_string().as_bytes(), &password, None)
    );
    app.remember(&old);
    let response = app
        .patch(user.id, &old, r#"{"email":"y@example.com"}"#)
        .await;
    assert_eq!(
        response.status, 401,
        "past the maximum age from the stamped login"
    );
}

#[tokio::test]
async fn the_apps_own_unstamped_sessions_are_refused_by_default() {
    let app = spawn_app_with(nuxt_config()).await;
    let user = app.seed("unstamped@example.com", GOOD).await;
    let cookie = app.nuxt_login(&user, unix_now_ms() - 1_000);
    let response = app
        .patch(user.id, &cookie, r#"{"email":"x@example.com"}"#)
        .await;
    assert_eq!(
        (response.status, response.json()),
        (401, error_body(401, "Unauthorized", None))
    );
    let request_id = response.header("x-request-id").unwrap().to_owned();
    let lines = logged("request", &request_id);
    assert_eq!(lines[0]["outcome"], "session_unstamped", "{lines:?}");
}

#[tokio::test]
async fn the_web_apps_password_rules_apply_to_the_update_in_nuxt_mode_only() {
    let body = r#"{"password":"quartzlamp-river-88"}"#;
    let nuxt = spawn_app_with(nuxt_config()).await;
    let user = nuxt.seed("rules@example.com", GOOD).await;
    let signed_in = nuxt
        .post(SIGN_IN, "", &credentials(&user.email, GOOD))
        .await;
    let response = nuxt.patch(user.id, &signed_in.session_cookie(), body).await;
    assert_eq!(
        (response.status, response.json()),
        (
            400,
            error_body(
                400,
                "Invalid body(?email, ?password). At least one of email or password is required.",
                Some(
                    json!([{"code":"custom","validation":"custom","message":"Password must contain at least one uppercase letter","path":["password"]}])
                )
            )
        )
    );
    let signed = spawn_app().await;
    let user = signed.seed("rules@example.com", GOOD).await;
    assert_eq!(
        signed.patch(user.id, &user.cookie, body).await.status,
        200,
        "nist by default"
    );
}
