//! The `neptun-session` cookie: who is signed in, in either of the two formats it comes in.
//!
//! - **signed** (`SESSION_FORMAT=signed`, the default; `signed`): the function's own
//!   format, base64url JSON signed with HMAC-SHA256 under `SESSION_SECRET`.
//! - **nuxt** (`SESSION_FORMAT=nuxt`; [`nuxt`]): the session object of the Neptun web app's
//!   Nuxt login (`nuxt-auth-utils` on h3), sealed with iron under `NUXT_SESSION_PASSWORD`.
//!
//! [`SessionKeys`] is the one interface the handler sees: it opens a request's cookie into a
//! [`Session`] and writes the refreshed one back, in whichever format was chosen at start. The
//! rules are the same for both: a cookie is valid while it is authentic (under the current or
//! a previous secret), unexpired, and younger than the absolute maximum age from its login;
//! a refresh keeps the login, moves the expiry (never past that limit) and is always made with
//! the current secret. Revocation is the store's condition, checked in the same write that
//! applies the update (see [`SessionCheck`]).

use secrecy::ExposeSecret;

use crate::config::{Config, SessionSecrets, UnstampedSessions};
use crate::domain::{INITIAL_SESSION_VERSION, SessionCheck, UserId};

pub mod nuxt;
pub(crate) mod signed;

/// The cookie's name, in both formats.
pub(crate) const COOKIE_NAME: &str = "neptun-session";

/// How far ahead of this server's clock a session's times may be (clock skew between
/// instances): a session from further in the future never expires, and is refused.
pub(crate) const MAX_CLOCK_SKEW_MS: i64 = 60_000;

/// What a session cookie says about its holder, whatever its format.
#[derive(Clone, PartialEq)]
pub struct Session {
    /// The signed-in user.
    pub user_id: UserId,
    /// The user's primary email as the cookie remembers it (a hint: it may be stale or
    /// empty; the store holds the truth).
    pub email: String,
    /// When the user logged in (Unix milliseconds); refreshes keep it.
    pub login_at_ms: i64,
    /// When this cookie was issued (Unix milliseconds).
    pub issued_at_ms: i64,
    /// When this cookie stops being accepted (Unix milliseconds).
    pub expires_at_ms: i64,
    /// The user's session version when the cookie was issued. `None` for a Nuxt session
    /// the function never stamped (the web app's own login knows nothing of versions).
    pub version: Option<u64>,
    /// The session's own id, kept through every refresh: wrong current passwords are
    /// counted per session. The Nuxt session's `id`; the signed session's `sid`.
    pub id: String,
    /// What only this cookie's format has, kept verbatim through a refresh.
    format_fields: FormatFields,
}

#[derive(Clone, PartialEq)]
enum FormatFields {
    /// The signed format carries nothing else.
    Signed,
    /// The whole h3 session object (`{id, createdAt, data}`), every key of it kept, and the
    /// login time the web app wrote in it (`loggedInAt`, else `createdAt`), which judges it
    /// under `NUXT_UNSTAMPED_SESSIONS=accept` only.
    Nuxt {
        object: Box<nuxt::SessionObject>,
        app_login_ms: i64,
    },
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The Nuxt app may keep anything in its session data: never print it.
        f.debug_struct("Session")
            .field("user_id", &self.user_id)
            .field("email", &self.email)
            .field("login_at_ms", &self.login_at_ms)
            .field("issued_at_ms", &self.issued_at_ms)
            .field("expires_at_ms", &self.expires_at_ms)
            .field("version", &self.version)
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl Session {
    /// The condition the store checks for this session under `unstamped`: its version, the
    /// one a signed session carries or the function stamped into a Nuxt one; under
    /// `NUXT_UNSTAMPED_SESSIONS=accept`, a Nuxt session also passes by the web app's login
    /// time (the app's login merges into an old session and can keep a stale stamp).
    fn check(&self, unstamped: UnstampedSessions) -> Option<SessionCheck> {
        match (&self.format_fields, self.version, unstamped) {
            (FormatFields::Signed, Some(version), _) => Some(SessionCheck::Version(version)),
            (FormatFields::Nuxt { .. }, Some(version), UnstampedSessions::Refuse) => {
                Some(SessionCheck::Version(version))
            }
            (FormatFields::Nuxt { app_login_ms, .. }, Some(version), UnstampedSessions::Accept) => {
                Some(SessionCheck::VersionOrLoggedInAt(version, *app_login_ms))
            }
            (FormatFields::Nuxt { app_login_ms, .. }, None, UnstampedSessions::Accept) => {
                Some(SessionCheck::LoggedInAt(*app_login_ms))
            }
            (_, None, _) => None,
        }
    }
}

/// A session that passed every check the cookie alone can answer, with the condition the
/// store must still find true.
#[derive(Debug, Clone, PartialEq)]
pub struct Verified {
    /// What the cookie says.
    pub session: Session,
    /// What makes it still valid: checked against the user record.
    pub check: SessionCheck,
}

/// Why a request has no usable session. Every case answers 401; the log tells them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoSession {
    /// No `neptun-session` cookie at all.
    Missing,
    /// More than one `neptun-session` cookie: one may have been planted by a sibling
    /// subdomain (cookie tossing), so none is believed.
    Duplicate,
    /// Not authentic under any key, or not a session.
    Invalid,
    /// Authentic, but past its expiry or its maximum age from login.
    Expired,
    /// Authentic, but its login or issue time is in the future.
    FromTheFuture,
    /// A Nuxt session the function never stamped, under `NUXT_UNSTAMPED_SESSIONS=refuse`.
    Unstamped,
}

/// The values of every `neptun-session` pair in one `Cookie` header, read as the `cookie`
/// crate's `Cookie::split_parse` reads them (pairs split at `;`, name and value trimmed,
/// nothing decoded; a pair without `=` is skipped), without building a cookie per pair: a
/// request's cookie header is scanned on every request. A unit test holds the two equal.
fn session_cookie_values(header: &str) -> impl Iterator<Item = &str> {
    header.split(';').filter_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        (name.trim() == COOKIE_NAME).then(|| value.trim())
    })
}

/// How cookies are opened and sealed: the format chosen at start, its keys derived once.
enum Codec {
    Signed(signed::Signing),
    Nuxt(nuxt::Sealing),
}

/// Opens and refreshes session cookies, and knows their lifetimes and attributes.
pub struct SessionKeys {
    codec: Codec,
    ttl_ms: i64,
    max_age_ms: i64,
    secure: bool,
    unstamped: UnstampedSessions,
}

impl SessionKeys {
    /// Derives the keys once, at start, for the configured format.
    pub fn new(config: &Config) -> Self {
        let ms = |seconds: u64| {
            i64::try_from(seconds)
                .unwrap_or(i64::MAX)
                .saturating_mul(1000)
                .min(i64::MAX / 4)
        };
        let codec = match &config.session {
            SessionSecrets::Signed { current, previous } => {
                let previous: Vec<&[u8]> = previous
                    .iter()
                    .map(|secret| secret.expose_secret().as_bytes())
                    .collect();
                Codec::Signed(signed::Signing::new(
                    current.expose_secret().as_bytes(),
                    &previous,
                ))
            }
            SessionSecrets::Nuxt { current, previous } => {
                let previous: Vec<&str> = previous.iter().map(|p| p.expose_secret()).collect();
                Codec::Nuxt(nuxt::Sealing::new(current.expose_secret(), &previous))
            }
        };
        Self {
            codec,
            ttl_ms: ms(config.session_ttl_seconds),
            max_age_ms: ms(config.session_max_age_seconds),
            secure: config.cookie_secure,
            unstamped: config.unstamped_sessions,
        }
    }

    /// The request's one session. Looks at every `Cookie` header; more than one
    /// `neptun-session` is refused before any of them is opened, so a flood of fake cookies
    /// buys no cryptography.
    pub fn verify<'a>(
        &self,
        cookie_headers: impl IntoIterator<Item = &'a str>,
        now_ms: i64,
    ) -> Result<Verified, NoSession> {
        let mut ours = cookie_headers.into_iter().flat_map(session_cookie_values);
        let value = ours.next().ok_or(NoSession::Missing)?;
        if ours.next().is_some() {
            return Err(NoSession::Duplicate);
        }
        let session = match &self.codec {
            Codec::Signed(signing) => signing.open(value),
            Codec::Nuxt(sealing) => sealing.open(value, now_ms, self.max_age_ms),
        }
        .ok_or(NoSession::Invalid)?;
        let ahead = now_ms.saturating_add(MAX_CLOCK_SKEW_MS);
        if session.login_at_ms > ahead || session.issued_at_ms > ahead {
            return Err(NoSession::FromTheFuture);
        }
        let limit = session.login_at_ms.saturating_add(self.max_age_ms);
        if now_ms >= session.expires_at_ms || now_ms >= limit {
            return Err(NoSession::Expired);
        }
        let check = session.check(self.unstamped).ok_or(NoSession::Unstamped)?;
        Ok(Verified { session, check })
    }

    /// A session for a fresh login: issued now, expiring after the TTL or `expires_in`
    /// seconds (negative: already expired).
    pub fn issue(
        &self,
        user_id: UserId,
        email: &str,
        version: u64,
        now_ms: i64,
        expires_in: Option<i64>,
    ) -> Session {
        let lifetime = expires_in.map_or(self.ttl_ms, |s| s.saturating_mul(1000));
        let id = uuid::Uuid::new_v4().to_string();
        let format_fields = match &self.codec {
            Codec::Signed(_) => FormatFields::Signed,
            Codec::Nuxt(_) => FormatFields::Nuxt {
                object: Box::new(nuxt::new_session_object(
                    &id, user_id, email, version, now_ms,
                )),
                app_login_ms: now_ms,
            },
        };
        Session {
            user_id,
            email: email.to_owned(),
            login_at_ms: now_ms,
            issued_at_ms: now_ms,
            expires_at_ms: now_ms.saturating_add(lifetime),
            version: Some(version),
            id,
            format_fields,
        }
    }

    /// The body a sign-in or sign-up answers with: in the Nuxt format the session's `data`
    /// (what the web app's own route returns), in the signed one `{"user":{"id","primary_email"}}`.
    pub(crate) fn sign_in_body(&self, session: &Session) -> String {
        match &session.format_fields {
            FormatFields::Nuxt { object, .. } => object.data_json(),
            FormatFields::Signed => serde_json::json!({
                "user": {"id": session.user_id.get(), "primary_email": session.email}
            })
            .to_string(),
        }
    }

    /// The session a 200 hands back: same login (and, for Nuxt, the same session object),
    /// the stored email and version, a new expiry capped at the absolute limit from login.
    /// `version` is `None` only when the store could not say it (then the session keeps
    /// proving itself by its login time, which stays valid until the next password change).
    pub fn refresh(
        &self,
        session: Session,
        email: &str,
        version: Option<u64>,
        now_ms: i64,
    ) -> Session {
        let limit = session.login_at_ms.saturating_add(self.max_age_ms);
        let version = version.or(session.version);
        let format_fields = match session.format_fields {
            FormatFields::Signed => FormatFields::Signed,
            FormatFields::Nuxt {
                mut object,
                app_login_ms,
            } => {
                object.refresh(email, version, session.login_at_ms);
                FormatFields::Nuxt {
                    object,
                    app_login_ms,
                }
            }
        };
        Session {
            user_id: session.user_id,
            email: email.to_owned(),
            login_at_ms: session.login_at_ms,
            issued_at_ms: now_ms,
            expires_at_ms: now_ms.saturating_add(self.ttl_ms).min(limit),
            version,
            id: session.id,
            format_fields,
        }
    }

    /// The `Set-Cookie` value, with `Max-Age` counting down to the session's expiry, in the
    /// attribute order the format's own writer uses (the `cookie` crate's, or h3's).
    pub fn set_cookie(&self, session: &Session, now_ms: i64) -> String {
        use std::fmt::Write as _;
        let max_age = session.expires_at_ms.saturating_sub(now_ms).max(0) / 1000;
        let secure = if self.secure { "; Secure" } else { "" };
        // Appended to the pair's own string, which has room for them.
        let mut cookie = self.cookie_pair(session);
        cookie.reserve(64);
        match self.codec {
            Codec::Signed(_) => {
                cookie.push_str("; HttpOnly; SameSite=Lax");
                cookie.push_str(secure);
                let _ = write!(cookie, "; Path=/; Max-Age={max_age}");
            }
            Codec::Nuxt(_) => {
                let _ = write!(cookie, "; Max-Age={max_age}; Path=/; HttpOnly");
                cookie.push_str(secure);
                cookie.push_str("; SameSite=Lax");
            }
        }
        cookie
    }

    /// `neptun-session=<value>`, as a `Cookie` request header carries it, made with the
    /// current secret.
    pub fn cookie_pair(&self, session: &Session) -> String {
        match (&self.codec, &session.format_fields) {
            (Codec::Nuxt(sealing), FormatFields::Nuxt { object, .. }) => {
                sealing.seal(object, session.expires_at_ms)
            }
            (Codec::Nuxt(sealing), FormatFields::Signed) => {
                // A session opened in the other format cannot reach here (the codec is
                // chosen once); build the object rather than fail.
                let version = session.version.unwrap_or(INITIAL_SESSION_VERSION);
                let object = nuxt::new_session_object(
                    &session.id,
                    session.user_id,
                    &session.email,
                    version,
                    session.login_at_ms,
                );
                sealing.seal(&object, session.expires_at_ms)
            }
            (Codec::Signed(signing), _) => signing.cookie_pair(session),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000_000;
    const SECRET: &str = "new-secret-new-secret-new-secret-1";

    fn keys(format: &str) -> SessionKeys {
        let config = Config::from_lookup(|name| match name {
            "SESSION_FORMAT" => Some(format.to_owned()),
            "SESSION_SECRET" | "NUXT_SESSION_PASSWORD" => Some(SECRET.to_owned()),
            _ => None,
        })
        .unwrap();
        SessionKeys::new(&config)
    }

    #[test]
    fn the_cookie_scan_reads_pairs_as_the_cookie_crate_does() {
        let headers = [
            "neptun-session=abc",
            " neptun-session = abc ; theme=dark",
            "theme=dark;neptun-session=a=b=c;x",
            "neptun-session=; other=1",
            "neptun-session=\"quoted\"",
            "a=1;;  ; neptun-session=2;neptun-session=3",
            "neptun-session",
            "=neptun-session; neptun-sessionx=1; xneptun-session=2",
            "Neptun-Session=1",
            "\u{a0}neptun-session\u{a0}=\u{2003}é\u{2003}",
            "",
            ";;;",
        ];
        for header in headers {
            let expected: Vec<&str> = cookie::Cookie::split_parse(header)
                .filter_map(Result::ok)
                .filter(|cookie| cookie.name() == COOKIE_NAME)
                .map(|cookie| cookie.value_raw().expect("parsed from a borrowed string"))
                .collect();
            let found: Vec<&str> = session_cookie_values(header).collect();
            assert_eq!(found, expected, "{header:?}");
        }
    }

    #[test]
    fn more_than_one_session_cookie_is_refused_before_any_is_opened() {
        for format in ["signed", "nuxt"] {
            let keys = keys(format);
            let session = keys.issue(UserId::new(7).unwrap(), "a@example.com", 1, NOW, None);
            let good = keys.cookie_pair(&session);
            let other = keys.cookie_pair(&keys.issue(
                UserId::new(8).unwrap(),
                "b@example.com",
                1,
                NOW,
                None,
            ));
            let twice = format!("{good}; {good}");
            let other_first = format!("{other}; {good}");
            let cases: [(Vec<&str>, Result<UserId, NoSession>, &str); 7] = [
                (vec![good.as_str()], Ok(session.user_id), "one valid cookie"),
                (vec!["theme=dark"], Err(NoSession::Missing), "none"),
                (vec![], Err(NoSession::Missing), "no Cookie header"),
                (
                    vec![&twice],
                    Err(NoSession::Duplicate),
                    "the same cookie twice",
                ),
                (
                    vec![&other_first],
                    Err(NoSession::Duplicate),
                    "another user's first",
                ),
                (
                    vec!["neptun-session=garbage", good.as_str()],
                    Err(NoSession::Duplicate),
                    "garbage in another header, then a valid one",
                ),
                (
                    vec!["neptun-session=garbage"],
                    Err(NoSession::Invalid),
                    "garbage alone",
                ),
            ];
            for (headers, expected, why) in cases {
                assert_eq!(
                    keys.verify(headers, NOW + 1).map(|v| v.session.user_id),
                    expected,
                    "{format}: {why}"
                );
            }
        }
    }

    #[test]
    fn expired_sessions_are_told_apart_from_forged_ones() {
        for format in ["signed", "nuxt"] {
            let keys = keys(format);
            let session = keys.issue(UserId::new(7).unwrap(), "a@example.com", 1, NOW, None);
            let fresh = keys.cookie_pair(&session);
            assert!(keys.verify([fresh.as_str()], NOW).is_ok(), "{format}");
            let days = |n: i64| n * 86_400_000;
            let old = keys.issue(
                UserId::new(7).unwrap(),
                "a@example.com",
                1,
                NOW - days(30),
                Some(days(60) / 1000),
            );
            let old_login = keys.cookie_pair(&old);
            assert_eq!(
                keys.verify([old_login.as_str()], NOW)
                    .map(|v| v.session.user_id),
                Err(NoSession::Expired),
                "{format}: past the maximum age from login"
            );
        }
    }

    #[test]
    fn a_refresh_keeps_the_login_and_never_passes_the_maximum_age() {
        for format in ["signed", "nuxt"] {
            let keys = keys(format);
            let mut session = keys.issue(UserId::new(7).unwrap(), "a@example.com", 1, NOW, None);
            session.login_at_ms = NOW - 30 * 86_400_000 + 100_000;
            let refreshed = keys.refresh(session.clone(), "b@example.com", Some(2), NOW);
            assert_eq!(refreshed.login_at_ms, session.login_at_ms, "{format}");
            assert_eq!(refreshed.expires_at_ms, NOW + 100_000, "{format}");
            assert_eq!(
                (refreshed.email.as_str(), refreshed.version),
                ("b@example.com", Some(2))
            );
            let set_cookie = keys.set_cookie(&refreshed, NOW);
            assert!(set_cookie.contains("; Max-Age=100"), "{set_cookie}");
        }
    }
}
