//! `SESSION_FORMAT=nuxt`: the Nuxt app's own sessions, under `NUXT_UNSTAMPED_SESSIONS=accept` (a
//! deployment whose sign-in is still the app's); the default refuses them ([`super::auth`]).

use crate::common::*;
use neptun_users::clock::unix_now_ms;
use neptun_users::domain::UserId;
use serde_json::{Value, json};

use super::user_body;

#[tokio::test]
async fn a_nuxt_login_updates_and_gets_its_session_back_in_the_apps_format() {
    let app = handler_app_with(nuxt_config_accepting()).await;
    let user = app.seed("old@example.com", "old-password").await;
    let login = app.nuxt_login(&user, unix_now_ms() - 60_000);

    let response = app
        .patch(user.id, &login, r#"{"email":"new@example.com"}"#)
        .await;

    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(response.text, user_body(user.id, "new@example.com"));
    let set_cookie = response.set_cookies()[0].to_owned();
    let value = response.session_cookie();
    assert!(value.starts_with("neptun-session=Fe26.2**"), "{value}");
    let attributes: Vec<&str> = set_cookie.split("; ").skip(1).collect();
    assert_eq!(
        attributes,
        [
            "Max-Age=604800",
            "Path=/",
            "HttpOnly",
            "Secure",
            "SameSite=Lax"
        ],
        "h3's attributes, in h3's order"
    );
    let session = app.keys.verify([value.as_str()], unix_now_ms()).unwrap();
    // The refresh stamps the stored version, over either store (a DynamoDB transaction returns
    // nothing: the store reads it back for a session judged by its login time).
    let version = Some(1);
    assert_eq!(
        (
            session.session.user_id.get(),
            session.session.email.as_str(),
            session.session.version
        ),
        (user.id, "new@example.com", version)
    );
    let again = app
        .patch(user.id, &value, r#"{"email":"newer@example.com"}"#)
        .await;
    assert_eq!(again.text, user_body(user.id, "newer@example.com"));
}

#[tokio::test]
async fn a_nuxt_password_change_keeps_the_caller_and_a_later_login_and_revokes_the_rest() {
    let app = handler_app_with(nuxt_config_accepting()).await;
    let user = app.seed("a@example.com", "old-password").await;
    let before = unix_now_ms() - 60_000;
    let other_device = app.nuxt_login(&user, before);
    let this_device = app.nuxt_login(&user, before + 1);
    let unauthorized = (401, error_body(401, "Unauthorized", None).to_string());
    let email = |address: &str| json!({ "email": address }).to_string();

    let changed = app
        .patch(user.id, &this_device, r#"{"password":"New-password-1"}"#)
        .await;
    assert_eq!(
        (changed.status, changed.text.as_str()),
        (200, user_body(user.id, "a@example.com").as_str())
    );
    let refreshed = changed.session_cookie();

    for (why, cookie) in [
        ("a Nuxt login from before the change", &other_device),
        (
            "the caller's own login, replaced by its refresh",
            &this_device,
        ),
    ] {
        let response = app.patch(user.id, cookie, &email("x@example.com")).await;
        assert_eq!((response.status, response.text), unauthorized, "{why}");
    }
    let kept = app
        .patch(user.id, &refreshed, &email("b@example.com"))
        .await;
    assert_eq!(
        kept.text,
        user_body(user.id, "b@example.com"),
        "the refreshed cookie"
    );

    let later = app.nuxt_login(&user, unix_now_ms() + 1);
    let second = app
        .patch(user.id, &later, r#"{"password":"New-password-2"}"#)
        .await;
    assert_eq!(
        second.text,
        user_body(user.id, "b@example.com"),
        "a login after the change"
    );
    let older_refresh = app
        .patch(user.id, &refreshed, &email("y@example.com"))
        .await;
    assert_eq!(
        (older_refresh.status, older_refresh.text),
        unauthorized,
        "a refreshed cookie from before the second change"
    );
    let stored = app.stored(user.id).await;
    assert_eq!(
        (stored.email.as_str(), stored.session_version),
        ("b@example.com", 3)
    );
}

#[tokio::test]
async fn nuxt_cookies_that_are_not_the_apps_sessions_get_401_and_write_nothing() {
    let app = handler_app_with(nuxt_config_accepting()).await;
    let user = app.seed("a@example.com", "old-password").await;
    let now = unix_now_ms();
    let good = app.nuxt_login(&user, now - 1000);
    let seal = |object: Value, expires_at_ms: Option<i64>| {
        let password = neptun_users::iron::IronPassword::new(NUXT_PASSWORD).unwrap();
        let sealed =
            neptun_users::iron::seal(object.to_string().as_bytes(), &password, expires_at_ms);
        format!("neptun-session={sealed}")
    };
    let session = |user: Value| json!({"id": "s", "createdAt": now - 1000, "data": {"user": user}});
    let signed = neptun_users::SessionKeys::new(&config(&[]));
    let cases = [
        (
            "sealed with another password",
            nuxt_login_cookie(
                "another-password-another-password-0001",
                user.id,
                &user.email,
                now,
            ),
        ),
        (
            "tampered",
            // Another last character: a MAC's last base64url character is one of 16, `A`
            // among them.
            format!(
                "{}{}",
                &good[..good.len() - 1],
                if good.ends_with('A') { 'E' } else { 'A' }
            ),
        ),
        (
            "expired by iron's expiration (past the 60 s skew)",
            seal(session(json!({"id": user.id})), Some(now - 61_000)),
        ),
        ("truncated", good[..good.len() - 10].to_owned()),
        ("not base64", good.replacen("Fe26.2**", "Fe26.2**%%%", 1)),
        ("wrong prefix", good.replacen("Fe26.2", "Fe26.1", 1)),
        (
            "a user id that is a string",
            seal(session(json!({"id": user.id.to_string()})), None),
        ),
        (
            "older than the maximum age",
            app.nuxt_login(&user, now - 31 * 86_400_000),
        ),
        (
            "a signed-format cookie",
            signed.cookie_pair(&signed.issue(
                UserId::new(user.id).unwrap(),
                &user.email,
                1,
                now,
                None,
            )),
        ),
    ];
    app.assert_all_unauthorized(&user, cases).await;
    assert_eq!(app.stored(user.id).await.email.as_str(), "a@example.com");
}

#[tokio::test]
async fn a_nuxt_login_over_a_revoked_session_works_though_it_carries_the_old_version() {
    let app = handler_app_with(nuxt_config_accepting()).await;
    let user = app.seed("a@example.com", "old-password").await;
    // The Nuxt app's login merges its data into the session it finds in the browser
    // (`defu(data, session.data)`), so a login over a session this function refreshed keeps
    // that session's stamp in `data.user`.
    let relogin = |version: u64, logged_in_at_ms: i64| {
        let object = json!({
            "id": "0e4c2a1b-7d1f-4f2e-8c3a-9b5d6e7f8a90",
            "createdAt": logged_in_at_ms,
            "data": {
                "user": {
                    "id": user.id,
                    "primary_email": user.email,
                    "session_version": version,
                    "logged_in_at": logged_in_at_ms - 1_000,
                },
                "loggedInAt": neptun_users::clock::format_time_ms(logged_in_at_ms),
            },
        });
        let password = neptun_users::iron::IronPassword::new(NUXT_PASSWORD).unwrap();
        format!(
            "neptun-session={}",
            neptun_users::iron::seal(object.to_string().as_bytes(), &password, None)
        )
    };
    let before = unix_now_ms() - 60_000;
    let changed = app
        .patch(
            user.id,
            &relogin(1, before),
            r#"{"password":"New-password-1"}"#,
        )
        .await;
    assert_eq!(changed.status, 200, "{changed:?}");

    let stale = app
        .patch(user.id, &relogin(1, before), r#"{"email":"b@example.com"}"#)
        .await;
    assert_eq!(
        (stale.status, stale.json()),
        (401, error_body(401, "Unauthorized", None)),
        "the old version and a login from before the change"
    );
    let fresh = app
        .patch(
            user.id,
            &relogin(1, unix_now_ms()),
            r#"{"email":"b@example.com"}"#,
        )
        .await;
    assert_eq!(
        (fresh.status, fresh.text.as_str()),
        (200, user_body(user.id, "b@example.com").as_str()),
        "the old version, but a login after the change"
    );
}
