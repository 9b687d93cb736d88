//! The `neptun-session` cookie: a signed (not encrypted) record of who is signed in.
//!
//! The value is `base64url(JSON)` signed with HMAC-SHA256 by the `cookie` crate's signed jar.
//! Keys are derived from `SESSION_SECRET` (new cookies) and `SESSION_SECRET_PREVIOUS` (still
//! accepted, for rotation). A cookie is valid while it is authentic, unexpired and younger
//! than the absolute maximum age from its login; revocation (the session version) is the
//! store's condition, checked in the same write that applies the update.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cookie::{Cookie, CookieJar, Key, SameSite};
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::domain::UserId;

/// The cookie's name.
pub const COOKIE_NAME: &str = "neptun-session";

/// The session version every new user starts with; a password change increments it.
pub const INITIAL_SESSION_VERSION: u64 = 1;

/// What a session cookie says about its holder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// The signed-in user.
    #[serde(rename = "uid")]
    pub user_id: u64,
    /// The user's primary email when the cookie was issued.
    pub email: String,
    /// When the user logged in (Unix seconds); refreshes keep it.
    #[serde(rename = "login")]
    pub login_at: i64,
    /// When this cookie was issued (Unix seconds).
    #[serde(rename = "iat")]
    pub issued_at: i64,
    /// When this cookie stops being accepted (Unix seconds).
    #[serde(rename = "exp")]
    pub expires_at: i64,
    /// The user's session version at issue; valid only while it equals the stored one.
    #[serde(rename = "ver")]
    pub version: u64,
}

/// Signs and verifies session cookies, and knows their lifetimes and attributes.
pub struct SessionKeys {
    current: Key,
    previous: Vec<Key>,
    ttl_seconds: i64,
    max_age_seconds: i64,
    secure: bool,
}

impl SessionKeys {
    /// Derives the keys once, at start.
    pub fn new(config: &Config) -> Self {
        Self {
            current: Key::derive_from(&config.session_secret),
            previous: config
                .previous_secrets
                .iter()
                .map(|s| Key::derive_from(s))
                .collect(),
            ttl_seconds: i64::try_from(config.session_ttl_seconds).unwrap_or(i64::MAX / 4),
            max_age_seconds: i64::try_from(config.session_max_age_seconds).unwrap_or(i64::MAX / 4),
            secure: config.cookie_secure,
        }
    }

    /// The first authentic, parseable, unexpired session among the request's `Cookie` headers.
    pub fn verify<'a>(
        &self,
        cookie_headers: impl IntoIterator<Item = &'a str>,
        now: i64,
    ) -> Option<Session> {
        cookie_headers
            .into_iter()
            .flat_map(Cookie::split_parse)
            .filter_map(Result::ok)
            .filter(|cookie| cookie.name() == COOKIE_NAME)
            .find_map(|cookie| self.open(cookie.into_owned(), now))
    }

    fn open(&self, cookie: Cookie<'static>, now: i64) -> Option<Session> {
        let mut jar = CookieJar::new();
        jar.add_original(cookie);
        let verified = std::iter::once(&self.current)
            .chain(&self.previous)
            .find_map(|key| jar.signed(key).get(COOKIE_NAME))?;
        let json = URL_SAFE_NO_PAD.decode(verified.value()).ok()?;
        let session: Session = serde_json::from_slice(&json).ok()?;
        let alive = now < session.expires_at
            && now < session.login_at.saturating_add(self.max_age_seconds)
            && UserId::new(session.user_id).is_some();
        alive.then_some(session)
    }

    /// A session for a fresh login: issued now, expiring after the TTL or `expires_in`.
    pub fn issue(
        &self,
        user_id: UserId,
        email: &str,
        version: u64,
        now: i64,
        expires_in: Option<i64>,
    ) -> Session {
        Session {
            user_id: user_id.get(),
            email: email.to_owned(),
            login_at: now,
            issued_at: now,
            expires_at: now.saturating_add(expires_in.unwrap_or(self.ttl_seconds)),
            version,
        }
    }

    /// The session a 200 hands back: same login, new email and version, new expiry capped at
    /// the absolute limit from login.
    pub fn refresh(&self, session: &Session, email: &str, version: u64, now: i64) -> Session {
        let limit = session.login_at.saturating_add(self.max_age_seconds);
        Session {
            user_id: session.user_id,
            email: email.to_owned(),
            login_at: session.login_at,
            issued_at: now,
            expires_at: now.saturating_add(self.ttl_seconds).min(limit),
            version,
        }
    }

    /// The signed `Set-Cookie` value, with `Max-Age` counting down to the session's expiry.
    pub fn set_cookie(&self, session: &Session, now: i64) -> String {
        let mut cookie = self.signed(session);
        cookie.set_path("/");
        cookie.set_http_only(true);
        cookie.set_secure(self.secure);
        cookie.set_same_site(SameSite::Lax);
        cookie.set_max_age(cookie::time::Duration::seconds(
            session.expires_at.saturating_sub(now).max(0),
        ));
        cookie.to_string()
    }

    /// `neptun-session=<signed value>`, as a `Cookie` request header carries it.
    pub fn cookie_pair(&self, session: &Session) -> String {
        let cookie = self.signed(session);
        format!("{}={}", cookie.name(), cookie.value())
    }

    fn signed(&self, session: &Session) -> Cookie<'static> {
        let json = serde_json::to_vec(session).expect("BUG: a Session always serializes");
        let mut jar = CookieJar::new();
        jar.signed_mut(&self.current)
            .add(Cookie::new(COOKIE_NAME, URL_SAFE_NO_PAD.encode(json)));
        jar.get(COOKIE_NAME)
            .cloned()
            .expect("BUG: the cookie was just added")
    }
}

/// Seconds since the Unix epoch, from the system clock.
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn keys(secret: &str, previous: &str) -> SessionKeys {
        let config = Config::with_secret(secret.as_bytes().to_vec(), |name| {
            (name == "SESSION_SECRET_PREVIOUS" && !previous.is_empty()).then(|| previous.to_owned())
        })
        .unwrap();
        SessionKeys::new(&config)
    }

    fn cookie_header(keys: &SessionKeys, session: &Session) -> String {
        keys.cookie_pair(session)
    }

    fn session(keys: &SessionKeys) -> Session {
        keys.issue(UserId::new(7).unwrap(), "a@example.com", 1, NOW, None)
    }

    const NEW: &str = "new-secret-new-secret-new-secret-1";
    const OLD: &str = "old-secret-old-secret-old-secret-1";

    #[test]
    fn a_minted_cookie_verifies_and_round_trips() {
        let keys = keys(NEW, "");
        let session = session(&keys);
        let header = format!("theme=dark; {}", cookie_header(&keys, &session));
        assert_eq!(keys.verify([header.as_str()], NOW + 1), Some(session));
    }

    #[test]
    fn refuses_cookies_that_are_forged_tampered_or_expired() {
        let keys = keys(NEW, "");
        let good = cookie_header(&keys, &session(&keys));
        let tampered = format!("{}A", &good[..good.len() - 1]);
        let other_key = cookie_header(&self::keys(OLD, ""), &session(&keys));
        let unsigned = format!("{COOKIE_NAME}={}", URL_SAFE_NO_PAD.encode(b"{\"uid\":7}"));
        let cases = [
            (tampered.as_str(), NOW, "a changed byte"),
            (other_key.as_str(), NOW, "signed with a key we do not hold"),
            (unsigned.as_str(), NOW, "no signature"),
            (
                good.as_str(),
                NOW + 604_800,
                "expired exactly at its expiry",
            ),
            ("neptun-session=", NOW, "empty"),
            ("other=1", NOW, "no session cookie"),
        ];
        for (header, now, why) in cases {
            assert_eq!(keys.verify([header], now), None, "{why}");
        }
    }

    #[test]
    fn previous_secrets_are_accepted_and_refresh_signs_with_the_current_one() {
        let old = keys(OLD, "");
        let rotated = keys(NEW, OLD);
        let session = session(&old);
        let header = cookie_header(&old, &session);
        assert_eq!(
            rotated.verify([header.as_str()], NOW),
            Some(session.clone())
        );
        let refreshed = rotated.refresh(&session, "a@example.com", 1, NOW);
        let set_cookie = rotated.set_cookie(&refreshed, NOW);
        let pair = set_cookie.split(';').next().unwrap();
        assert!(
            keys(NEW, "").verify([pair], NOW).is_some(),
            "signed with the current key"
        );
        assert!(old.verify([pair], NOW).is_none(), "not with the old one");
    }

    #[test]
    fn a_session_never_outlives_the_maximum_age_from_login() {
        let keys = keys(NEW, "");
        let mut session = session(&keys);
        session.login_at = NOW - 2_592_000 + 100;
        let refreshed = keys.refresh(&session, "a@example.com", 1, NOW);
        assert_eq!(refreshed.expires_at, NOW + 100, "capped at login + max age");
        assert!(keys.set_cookie(&refreshed, NOW).contains("Max-Age=100"));
        session.expires_at = NOW + 1000;
        let header = cookie_header(&keys, &session);
        assert!(
            keys.verify([header.as_str()], NOW + 100).is_none(),
            "past max age"
        );
    }

    #[test]
    fn set_cookie_has_the_contracts_attributes() {
        let keys = keys(NEW, "");
        let cookie = keys.set_cookie(&session(&keys), NOW);
        assert!(cookie.starts_with("neptun-session="));
        for attribute in [
            "HttpOnly",
            "SameSite=Lax",
            "Secure",
            "Path=/",
            "Max-Age=604800",
        ] {
            assert!(
                cookie.split("; ").any(|a| a == attribute),
                "{attribute} in {cookie}"
            );
        }
    }
}
