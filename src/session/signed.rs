//! The signed format of `neptun-session`: a signed (not encrypted) record of who is signed in.
//!
//! The value is `base64url(JSON)` signed with HMAC-SHA256 in the `cookie` crate's signed-jar
//! format (`base64(mac)` then the payload), with keys derived by the `cookie` crate from
//! `SESSION_SECRET` (new cookies) and `SESSION_SECRET_PREVIOUS` (still accepted, for
//! rotation). The MAC is computed here rather than through a `CookieJar`: each key's HMAC
//! state is keyed once at start, which saves two of the six SHA-256 blocks per signature and
//! the jar's allocations, on every request. The tests hold the output byte-identical to the
//! signed jar's. The payload's times are Unix seconds.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use cookie::Key;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::{COOKIE_NAME, FormatFields, Session};
use crate::domain::UserId;

/// The signed JSON, field for field (times in Unix seconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Payload<'a> {
    uid: u64,
    #[serde(borrow)]
    email: std::borrow::Cow<'a, str>,
    login: i64,
    iat: i64,
    exp: i64,
    ver: u64,
    /// The session's random id, set at sign-in and kept by every refresh (absent from
    /// cookies made before it existed).
    #[serde(borrow, default, skip_serializing_if = "Option::is_none")]
    sid: Option<std::borrow::Cow<'a, str>>,
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

/// The signed format's keys: the current one signs, every one verifies.
pub(super) struct Signing {
    current: Signer,
    previous: Vec<Signer>,
}

impl Signing {
    /// Derives the keys once, at start.
    pub(super) fn new(current: &[u8], previous: &[&[u8]]) -> Self {
        Self {
            current: Signer::derive(current),
            previous: previous.iter().map(|s| Signer::derive(s)).collect(),
        }
    }

    /// The session in an authentic, parseable value; expiry is the caller's check.
    pub(super) fn open(&self, value: &str) -> Option<Session> {
        let (tag, payload) = (value.get(..TAG_LEN)?, value.get(TAG_LEN..)?);
        // 44 base64 characters may decode to 33 bytes in general; a MAC is exactly 32.
        let mut decoded = [0u8; 33];
        let length = STANDARD.decode_slice(tag, &mut decoded).ok()?;
        let tag = &decoded[..length];
        std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|key| key.verifies(payload.as_bytes(), tag))?;
        let json = URL_SAFE_NO_PAD.decode(payload).ok()?;
        let payload: Payload<'_> = serde_json::from_slice(&json).ok()?;
        let ms = |seconds: i64| seconds.saturating_mul(1000);
        let id = match payload.sid {
            Some(sid) if !sid.is_empty() => sid.into_owned(),
            _ => format!("login:{}", payload.login),
        };
        Some(Session {
            user_id: UserId::new(payload.uid)?,
            email: payload.email.into_owned(),
            login_at_ms: ms(payload.login),
            issued_at_ms: ms(payload.iat),
            expires_at_ms: ms(payload.exp),
            version: Some(payload.ver),
            id,
            format_fields: FormatFields::Signed,
        })
    }

    /// `neptun-session=<signed value>`, signed with the current key.
    pub(super) fn cookie_pair(&self, session: &Session) -> String {
        let payload = Payload {
            uid: session.user_id.get(),
            email: std::borrow::Cow::Borrowed(&session.email),
            login: session.login_at_ms.div_euclid(1000),
            iat: session.issued_at_ms.div_euclid(1000),
            exp: session.expires_at_ms.div_euclid(1000),
            ver: session.version.unwrap_or(super::INITIAL_SESSION_VERSION),
            sid: (!session.id.starts_with("login:"))
                .then_some(std::borrow::Cow::Borrowed(session.id.as_str())),
        };
        let json = serde_json::to_vec(&payload).expect("BUG: a payload always serializes");
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

#[cfg(test)]
mod tests {
    use super::super::{NoSession, SessionKeys};
    use super::*;
    use crate::config::Config;

    const NOW: i64 = 1_800_000_000_000;

    fn keys(secret: &str, previous: &str) -> SessionKeys {
        let config = Config::from_lookup(|name| match name {
            "SESSION_SECRET" => Some(secret.to_owned()),
            "SESSION_SECRET_PREVIOUS" if !previous.is_empty() => Some(previous.to_owned()),
            _ => None,
        })
        .unwrap();
        SessionKeys::new(&config)
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
        let header = format!("theme=dark; {}", keys.cookie_pair(&session));
        assert_eq!(
            keys.verify([header.as_str()], NOW + 1).map(|v| v.session),
            Ok(session)
        );
    }

    #[test]
    fn each_sign_in_gets_its_own_session_id_which_a_refresh_keeps() {
        let keys = keys(NEW, "");
        let (a, b) = (session(&keys), session(&keys));
        assert_ne!(
            a.id, b.id,
            "two sign-ins in the same second are two sessions"
        );
        let refreshed = keys.refresh(a.clone(), "b@example.com", Some(2), NOW + 5_000);
        let pair = keys.cookie_pair(&refreshed);
        let reopened = keys.verify([pair.as_str()], NOW + 6_000).unwrap();
        assert_eq!(reopened.session.id, a.id);
        // A cookie from before session ids existed still opens, with an id of its own.
        let legacy = Payload {
            uid: 7,
            email: "a@example.com".into(),
            login: NOW / 1000,
            iat: NOW / 1000,
            exp: NOW / 1000 + 60,
            ver: 1,
            sid: None,
        };
        let json = serde_json::to_vec(&legacy).unwrap();
        let value = URL_SAFE_NO_PAD.encode(json);
        let signing = Signing::new(NEW.as_bytes(), &[]);
        let tag = STANDARD.encode(signing.current.tag(value.as_bytes()));
        let header = format!("{COOKIE_NAME}={tag}{value}");
        let opened = keys.verify([header.as_str()], NOW).unwrap();
        assert_eq!(opened.session.id, format!("login:{}", NOW / 1000));
    }

    #[test]
    fn a_login_or_issue_time_more_than_a_minute_ahead_is_refused() {
        let keys = keys(NEW, "");
        let cases = [
            (61_000, 0, Err(NoSession::FromTheFuture), "login ahead"),
            (0, 61_000, Err(NoSession::FromTheFuture), "issued ahead"),
            (
                253_402_300_799_000 - NOW,
                0,
                Err(NoSession::FromTheFuture),
                "logged in on 9999-12-31",
            ),
            (59_000, 59_000, Ok(()), "within the skew"),
        ];
        for (login_ahead, issued_ahead, expected, why) in cases {
            let mut session = session(&keys);
            session.login_at_ms = NOW + login_ahead;
            session.issued_at_ms = NOW + issued_ahead;
            session.expires_at_ms = NOW + 3_600_000;
            let pair = keys.cookie_pair(&session);
            assert_eq!(
                keys.verify([pair.as_str()], NOW).map(|_| ()),
                expected,
                "{why}"
            );
        }
    }

    /// What the `cookie` crate's signed jar makes of the same session and secret: the
    /// reference this module's own signing must match byte for byte.
    fn jar_signed(secret: &str, session: &Session) -> cookie::Cookie<'static> {
        let key = Key::derive_from(secret.as_bytes());
        let json = serde_json::to_vec(&serde_json::json!({
            "uid": session.user_id.get(),
            "email": session.email,
            "login": session.login_at_ms / 1000,
            "iat": session.issued_at_ms / 1000,
            "exp": session.expires_at_ms / 1000,
            "ver": session.version,
            "sid": session.id,
        }))
        .unwrap();
        let mut jar = cookie::CookieJar::new();
        jar.signed_mut(&key).add(cookie::Cookie::new(
            COOKIE_NAME,
            URL_SAFE_NO_PAD.encode(json),
        ));
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
        late.expires_at_ms = NOW + 17_000;
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
                    (session.expires_at_ms - NOW).max(0) / 1000,
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
                rotated.verify([header.as_str()], NOW).map(|v| v.session),
                Ok(session.clone()),
                "signed with {secret}"
            );
        }
    }

    #[test]
    fn refuses_cookies_that_are_forged_tampered_or_expired() {
        let keys = keys(NEW, "");
        let good = keys.cookie_pair(&session(&keys));
        let tampered = format!("{}A", &good[..good.len() - 1]);
        let other_key = self::keys(OLD, "").cookie_pair(&session(&keys));
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
        let invalid = Err(NoSession::Invalid);
        let cases = [
            (tampered.as_str(), NOW, invalid, "a changed byte"),
            (
                other_key.as_str(),
                NOW,
                invalid,
                "signed with a key we do not hold",
            ),
            (unsigned.as_str(), NOW, invalid, "no signature"),
            (
                good.as_str(),
                NOW + 604_800_000,
                Err(NoSession::Expired),
                "expired exactly at its expiry",
            ),
            ("neptun-session=", NOW, invalid, "empty"),
            (
                &format!("{COOKIE_NAME}={}", &good[COOKIE_NAME.len() + 1 + TAG_LEN..]),
                NOW,
                invalid,
                "the tag cut off",
            ),
            (
                &format!("{COOKIE_NAME}=a{}", "é".repeat(30)),
                NOW,
                invalid,
                "a character boundary missing where the tag should end",
            ),
            (
                &truncated_tag,
                NOW,
                invalid,
                "the first 31 bytes of the right tag",
            ),
            (
                &format!("{COOKIE_NAME}={}", "QUFB".repeat(11)),
                NOW,
                invalid,
                "a 33-byte tag and nothing else",
            ),
            ("other=1", NOW, Err(NoSession::Missing), "no session cookie"),
        ];
        for (header, now, expected, why) in cases {
            assert_eq!(keys.verify([header], now).map(|_| ()), expected, "{why}");
        }
    }

    #[test]
    fn previous_secrets_are_accepted_and_refresh_signs_with_the_current_one() {
        let old = keys(OLD, "");
        let rotated = keys(NEW, OLD);
        let session = session(&old);
        let header = old.cookie_pair(&session);
        assert_eq!(
            rotated.verify([header.as_str()], NOW).map(|v| v.session),
            Ok(session.clone())
        );
        let refreshed = rotated.refresh(session.clone(), "a@example.com", Some(1), NOW);
        let set_cookie = rotated.set_cookie(&refreshed, NOW);
        let pair = set_cookie.split(';').next().unwrap();
        assert!(
            keys(NEW, "").verify([pair], NOW).is_ok(),
            "signed with the current key"
        );
        assert!(old.verify([pair], NOW).is_err(), "not with the old one");
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
