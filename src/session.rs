//! The `neptun-session` cookie: a signed (not encrypted) record of who is signed in.
//!
//! The value is `base64url(JSON)` signed with HMAC-SHA256 in the `cookie` crate's signed-jar
//! format (`base64(mac)` then the payload), with keys derived by the `cookie` crate from
//! `SESSION_SECRET` (new cookies) and `SESSION_SECRET_PREVIOUS` (still accepted, for
//! rotation). The MAC is computed here rather than through a `CookieJar`: each key's HMAC
//! state is keyed once at start, which saves two of the six SHA-256 blocks per signature and
//! the jar's allocations, on every request. The tests hold the output byte-identical to the
//! signed jar's. A cookie is valid while it is authentic, unexpired and younger
//! than the absolute maximum age from its login; revocation (the session version) is the
//! store's condition, checked in the same write that applies the update.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use cookie::{Cookie, Key};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

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

/// Length of the base64 (padded) HMAC-SHA256 tag in front of the payload.
const TAG_LEN: usize = 44;

/// One signing key, its HMAC state keyed once.
struct Signer(Hmac<Sha256>);

impl Signer {
    /// The signing half of the `cookie` crate's key derived from `secret`.
    fn derive(secret: &[u8]) -> Self {
        let key = Key::derive_from(secret);
        Self(Hmac::new_from_slice(key.signing()).expect("HMAC takes keys of any length"))
    }

    /// The keyed state, fed `payload`.
    fn mac(&self, payload: &[u8]) -> Hmac<Sha256> {
        let mut mac = self.0.clone();
        mac.update(payload);
        mac
    }

    fn tag(&self, payload: &[u8]) -> [u8; 32] {
        self.mac(payload).finalize().into_bytes().into()
    }

    /// Constant-time comparison of `tag` with the payload's MAC.
    fn verifies(&self, payload: &[u8], tag: &[u8]) -> bool {
        self.mac(payload).verify_slice(tag).is_ok()
    }
}

/// Signs and verifies session cookies, and knows their lifetimes and attributes.
pub struct SessionKeys {
    current: Signer,
    previous: Vec<Signer>,
    ttl_seconds: i64,
    max_age_seconds: i64,
    secure: bool,
}

impl SessionKeys {
    /// Derives the keys once, at start.
    pub fn new(config: &Config) -> Self {
        Self {
            current: Signer::derive(&config.session_secret),
            previous: config
                .previous_secrets
                .iter()
                .map(|s| Signer::derive(s))
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
            .find_map(|cookie| self.open(cookie.value(), now))
    }

    fn open(&self, value: &str, now: i64) -> Option<Session> {
        let (tag, payload) = (value.get(..TAG_LEN)?, value.get(TAG_LEN..)?);
        // 44 base64 characters may decode to 33 bytes in general; a MAC is exactly 32.
        let mut decoded = [0u8; 33];
        let length = STANDARD.decode_slice(tag, &mut decoded).ok()?;
        let tag = &decoded[..length];
        std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|key| key.verifies(payload.as_bytes(), tag))?;
        let json = URL_SAFE_NO_PAD.decode(payload).ok()?;
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
    /// Attributes in the order the `cookie` crate writes them.
    pub fn set_cookie(&self, session: &Session, now: i64) -> String {
        use std::fmt::Write as _;
        let mut cookie = self.cookie_pair(session);
        cookie.push_str("; HttpOnly; SameSite=Lax");
        if self.secure {
            cookie.push_str("; Secure");
        }
        let max_age = session.expires_at.saturating_sub(now).max(0);
        write!(cookie, "; Path=/; Max-Age={max_age}").expect("writing to a String");
        cookie
    }

    /// `neptun-session=<signed value>`, as a `Cookie` request header carries it.
    pub fn cookie_pair(&self, session: &Session) -> String {
        let json = serde_json::to_vec(session).expect("BUG: a Session always serializes");
        let mut cookie =
            String::with_capacity(COOKIE_NAME.len() + 1 + TAG_LEN + json.len() * 4 / 3 + 64);
        cookie.push_str(COOKIE_NAME);
        cookie.push('=');
        // The tag precedes the payload it signs: hold its place, append the payload, fill it in.
        let tag_at = cookie.len();
        cookie.extend(std::iter::repeat_n('.', TAG_LEN));
        URL_SAFE_NO_PAD.encode_string(json, &mut cookie);
        let tag = self.current.tag(&cookie.as_bytes()[tag_at + TAG_LEN..]);
        let mut encoded = [0u8; TAG_LEN];
        let written = STANDARD
            .encode_slice(tag, &mut encoded)
            .expect("32 bytes are 44 base64 characters");
        debug_assert_eq!(written, TAG_LEN);
        cookie.replace_range(
            tag_at..tag_at + TAG_LEN,
            std::str::from_utf8(&encoded).expect("base64 is ASCII"),
        );
        cookie
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

    /// What the `cookie` crate's signed jar makes of the same session and secret: the
    /// reference this module's own signing must match byte for byte.
    fn jar_signed(secret: &str, session: &Session) -> cookie::Cookie<'static> {
        let key = Key::derive_from(secret.as_bytes());
        let json = serde_json::to_vec(session).unwrap();
        let mut jar = cookie::CookieJar::new();
        jar.signed_mut(&key)
            .add(Cookie::new(COOKIE_NAME, URL_SAFE_NO_PAD.encode(json)));
        jar.get(COOKIE_NAME).unwrap().clone()
    }

    #[test]
    fn cookies_are_byte_identical_to_the_cookie_crates_signed_jar() {
        let keys = keys(NEW, "");
        let mut sessions = vec![session(&keys)];
        sessions.push(keys.issue(
            UserId::new(9_007_199_254_740_991).unwrap(),
            "Ünïcode+tag@例え.jp",
            u64::MAX,
            NOW,
            Some(-5),
        ));
        let mut late = session(&keys);
        late.expires_at = NOW + 17;
        sessions.push(late);
        for session in &sessions {
            let reference = jar_signed(NEW, session);
            assert_eq!(
                keys.cookie_pair(session),
                format!("{}={}", reference.name(), reference.value())
            );
            for secure in [true, false] {
                let mut reference = reference.clone();
                reference.set_path("/");
                reference.set_http_only(true);
                reference.set_secure(secure);
                reference.set_same_site(cookie::SameSite::Lax);
                reference.set_max_age(cookie::time::Duration::seconds(
                    session.expires_at.saturating_sub(NOW).max(0),
                ));
                let mut keys = self::keys(NEW, "");
                keys.secure = secure;
                assert_eq!(keys.set_cookie(session, NOW), reference.to_string());
            }
        }
    }

    #[test]
    fn cookies_signed_by_the_cookie_crates_jar_verify_under_current_and_previous_keys() {
        let rotated = keys(NEW, OLD);
        let session = session(&rotated);
        for secret in [NEW, OLD] {
            let reference = jar_signed(secret, &session);
            let header = format!("{}={}", reference.name(), reference.value());
            assert_eq!(
                rotated.verify([header.as_str()], NOW),
                Some(session.clone()),
                "signed with {secret}"
            );
        }
    }

    #[test]
    fn refuses_cookies_that_are_forged_tampered_or_expired() {
        let keys = keys(NEW, "");
        let good = cookie_header(&keys, &session(&keys));
        let tampered = format!("{}A", &good[..good.len() - 1]);
        let other_key = cookie_header(&self::keys(OLD, ""), &session(&keys));
        let unsigned = format!("{COOKIE_NAME}={}", URL_SAFE_NO_PAD.encode(b"{\"uid\":7}"));
        let value = &good[COOKIE_NAME.len() + 1..];
        let (tag, payload) = value.split_at(TAG_LEN);
        let tag = STANDARD.decode(tag).unwrap();
        let truncated_tag = format!("{COOKIE_NAME}={}{payload}", STANDARD.encode(&tag[..31]));
        assert_eq!(
            truncated_tag.len(),
            good.len(),
            "31 bytes are 44 characters too"
        );
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
            (
                &format!("{COOKIE_NAME}={}", &good[COOKIE_NAME.len() + 1 + TAG_LEN..]),
                NOW,
                "the tag cut off",
            ),
            (
                &format!("{COOKIE_NAME}=a{}", "é".repeat(30)),
                NOW,
                "a character boundary missing where the tag should end",
            ),
            (&truncated_tag, NOW, "the first 31 bytes of the right tag"),
            (
                &format!("{COOKIE_NAME}={}", "QUFB".repeat(11)),
                NOW,
                "a 33-byte tag and nothing else",
            ),
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
