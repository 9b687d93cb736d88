//! `Config`: everything the function reads from the environment, read once at cold start.

use std::fmt;
use std::time::Duration;

use crate::domain::{MAX_SAFE_INTEGER, Origin, PasswordRules, UserId};

/// The shortest secret accepted: HMAC-SHA256 key material needs at least 32 bytes.
pub const MIN_SECRET_BYTES: usize = 32;
const DEFAULT_TTL_SECONDS: u64 = 7 * 24 * 60 * 60;
const DEFAULT_MAX_AGE_SECONDS: u64 = 30 * 24 * 60 * 60;
/// The longest session lifetime accepted: browsers cap a cookie's `Max-Age` at 400 days
/// anyway (RFC 6265bis), and a longer one would only make an odd cookie.
pub const MAX_SESSION_SECONDS: u64 = 400 * 24 * 60 * 60;
const DEFAULT_TABLE: &str = "neptun-users";
/// Below the platforms' 10 s function limits, so the function answers before it is cut off.
const DEFAULT_REQUEST_DEADLINE_MS: u64 = 8_000;

/// The shortest Nuxt session password iron accepts.
pub const MIN_NUXT_PASSWORD_CHARS: usize = 32;

/// Which cookie format `neptun-session` is read and written in, with its secrets.
#[derive(Clone, PartialEq, Eq)]
pub enum SessionSecrets {
    /// The function's own format (`SESSION_FORMAT=signed`): HMAC-SHA256 signed JSON.
    Signed {
        /// `SESSION_SECRET`: new cookies are always signed with it.
        current: Vec<u8>,
        /// `SESSION_SECRET_PREVIOUS`: still accepted during a rotation.
        previous: Vec<Vec<u8>>,
    },
    /// The Nuxt app's format (`SESSION_FORMAT=nuxt`): h3 sessions sealed with iron.
    Nuxt {
        /// `NUXT_SESSION_PASSWORD`: new cookies are always sealed with it.
        current: String,
        /// `NUXT_SESSION_PASSWORD_PREVIOUS`: still accepted during a rotation.
        previous: Vec<String>,
    },
}

impl std::fmt::Debug for SessionSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (format, previous) = match self {
            Self::Signed { previous, .. } => ("Signed", previous.len()),
            Self::Nuxt { previous, .. } => ("Nuxt", previous.len()),
        };
        write!(
            f,
            "{format} {{ current: <redacted>, previous: {previous} <redacted> }}"
        )
    }
}

impl SessionSecrets {
    /// Every secret, current first, as text: for tests and log scans that must never find them.
    pub fn all(&self) -> Vec<String> {
        match self {
            Self::Signed { current, previous } => std::iter::once(current)
                .chain(previous)
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect(),
            Self::Nuxt { current, previous } => {
                std::iter::once(current).chain(previous).cloned().collect()
            }
        }
    }
}

/// The variable that holds the current session secret for the `SESSION_FORMAT` that `lookup`
/// names: `SESSION_SECRET` or `NUXT_SESSION_PASSWORD`. An unknown format is reported by
/// [`Config::from_lookup`].
pub fn secret_variable(lookup: impl Fn(&str) -> Option<String>) -> &'static str {
    match lookup("SESSION_FORMAT").as_deref().map(str::trim) {
        Some("nuxt") => "NUXT_SESSION_PASSWORD",
        _ => "SESSION_SECRET",
    }
}

/// The function's settings. See the README's configuration table.
#[derive(Clone)]
pub struct Config {
    /// The session cookie's format and the secrets it is signed or sealed with.
    pub session: SessionSecrets,
    /// Lifetime of a cookie from each refresh.
    pub session_ttl_seconds: u64,
    /// Absolute lifetime of a session from its login.
    pub session_max_age_seconds: u64,
    /// DynamoDB table holding users and email claims.
    pub users_table: String,
    /// Origins allowed to call cross-origin with credentials, normalized for comparison.
    pub allowed_origins: Vec<Origin>,
    /// Whether the session cookie carries `Secure`.
    pub cookie_secure: bool,
    /// The most one request may take, store retries included (`REQUEST_DEADLINE_MS`).
    pub request_deadline: Duration,
    /// Whether the local server believes `X-Forwarded-Host`/`-Proto` (a reverse proxy in front
    /// of it sets them); the deployed entry points decide for themselves.
    pub trust_forwarded_headers: bool,
    /// `REQUIRE_CURRENT_PASSWORD`: every update must carry a verified `current_password`.
    pub require_current_password: bool,
    /// `PASSWORD_RULES`: what every new password meets (default: `nist` in the signed format,
    /// `neptun` in the Nuxt one).
    pub password_rules: PasswordRules,
    /// `NUXT_UNSTAMPED_SESSIONS`: what becomes of a Nuxt session the function never stamped.
    pub unstamped_sessions: UnstampedSessions,
    /// `USER_ID_FLOOR`: the smallest id a new user may get.
    pub user_id_floor: UserId,
}

/// `NUXT_UNSTAMPED_SESSIONS`: a Nuxt session that carries no stamp of the function's (made by
/// the web app's own sign-in) is refused, or judged by its login time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnstampedSessions {
    /// 401: the default, for a deployment whose sign-in is the function's.
    #[default]
    Refuse,
    /// Valid while its `loggedInAt` (else `createdAt`) is at or after the last password
    /// change: for a deployment whose sign-in is still the app's. The app's session plugin
    /// re-seals `loggedInAt` as "now" on every session fetch, so revocation does not hold.
    Accept,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let format = match &self.session {
            SessionSecrets::Signed { previous, .. } => ("signed", previous.len()),
            SessionSecrets::Nuxt { previous, .. } => ("nuxt", previous.len()),
        };
        f.debug_struct("Config")
            .field("session_format", &format.0)
            .field("session_secret", &"<redacted>")
            .field("previous_secrets", &format.1)
            .field("session_ttl_seconds", &self.session_ttl_seconds)
            .field("session_max_age_seconds", &self.session_max_age_seconds)
            .field("users_table", &self.users_table)
            .field("allowed_origins", &self.allowed_origins)
            .field("cookie_secure", &self.cookie_secure)
            .field("request_deadline", &self.request_deadline)
            .field("trust_forwarded_headers", &self.trust_forwarded_headers)
            .field("require_current_password", &self.require_current_password)
            .field("password_rules", &self.password_rules)
            .field("unstamped_sessions", &self.unstamped_sessions)
            .field("user_id_floor", &self.user_id_floor)
            .finish()
    }
}

/// A setting that cannot be used; the message names the variable and never its value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

impl Config {
    /// Reads the process environment. A missing or short session secret is an error.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let session = session_secrets(&lookup)?;
        let session_ttl_seconds = seconds(&lookup, "SESSION_TTL_SECONDS", DEFAULT_TTL_SECONDS)?;
        let session_max_age_seconds =
            seconds(&lookup, "SESSION_MAX_AGE_SECONDS", DEFAULT_MAX_AGE_SECONDS)?;
        // A refresh never extends a session past its maximum age, so a longer TTL is a
        // mistake in one of the two.
        if session_ttl_seconds > session_max_age_seconds {
            return Err(ConfigError(
                "SESSION_TTL_SECONDS must not be above SESSION_MAX_AGE_SECONDS".into(),
            ));
        }
        let users_table = lookup("USERS_TABLE")
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| DEFAULT_TABLE.to_owned());
        let cookie_secure = switch(&lookup, "COOKIE_SECURE", true)?;
        let allowed_origins = list(lookup("ALLOWED_ORIGINS"))
            .iter()
            .map(|entry| Origin::parse_setting(entry))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| ConfigError(
                "ALLOWED_ORIGINS has an entry that is not an origin: each must be http(s)://host[:port], with no path, query or user name".into(),
            ))?;
        let request_deadline = Duration::from_millis(positive(
            &lookup,
            "REQUEST_DEADLINE_MS",
            DEFAULT_REQUEST_DEADLINE_MS,
            "a positive number of milliseconds",
        )?);
        let trust_forwarded_headers = switch(&lookup, "TRUST_FORWARDED_HEADERS", false)?;
        let require_current_password = switch(&lookup, "REQUIRE_CURRENT_PASSWORD", false)?;
        let password_rules = match lookup("PASSWORD_RULES").as_deref().map(str::trim) {
            None | Some("") => match session {
                SessionSecrets::Signed { .. } => PasswordRules::Nist,
                SessionSecrets::Nuxt { .. } => PasswordRules::Neptun,
            },
            Some("nist") => PasswordRules::Nist,
            Some("neptun") => PasswordRules::Neptun,
            Some(_) => return Err(ConfigError("PASSWORD_RULES must be nist or neptun".into())),
        };
        let unstamped_sessions = match lookup("NUXT_UNSTAMPED_SESSIONS").as_deref().map(str::trim) {
            None | Some("") | Some("refuse") => UnstampedSessions::Refuse,
            Some("accept") => UnstampedSessions::Accept,
            Some(_) => {
                return Err(ConfigError(
                    "NUXT_UNSTAMPED_SESSIONS must be refuse or accept".into(),
                ));
            }
        };
        let user_id_floor = match lookup("USER_ID_FLOOR").as_deref().map(str::trim) {
            None | Some("") => UserId::new(1).expect("BUG: 1 is a user id"),
            Some(raw) => raw.parse().ok().and_then(UserId::new).ok_or_else(|| {
                ConfigError(format!(
                    "USER_ID_FLOOR must be a whole number from 1 to {MAX_SAFE_INTEGER}"
                ))
            })?,
        };
        Ok(Self {
            session,
            session_ttl_seconds,
            session_max_age_seconds,
            users_table,
            allowed_origins,
            cookie_secure,
            request_deadline,
            trust_forwarded_headers,
            require_current_password,
            password_rules,
            unstamped_sessions,
            user_id_floor,
        })
    }
}

/// A `true`/`false` (or `1`/`0`) setting; unset or empty is `default`.
fn switch(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &str,
    default: bool,
) -> Result<bool, ConfigError> {
    match lookup(name).as_deref().map(str::trim) {
        None | Some("") => Ok(default),
        Some("true") | Some("1") => Ok(true),
        Some("false") | Some("0") => Ok(false),
        Some(_) => Err(ConfigError(format!("{name} must be true or false"))),
    }
}

/// `SESSION_FORMAT` and the secrets it needs.
fn session_secrets(
    lookup: &impl Fn(&str) -> Option<String>,
) -> Result<SessionSecrets, ConfigError> {
    let required = |name: &str, hint: &str| {
        lookup(name)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ConfigError(format!("{name} is not set: {hint}")))
    };
    match lookup("SESSION_FORMAT").as_deref().map(str::trim) {
        None | Some("") | Some("signed") => {
            let current = required(
                "SESSION_SECRET",
                &format!("set it to a random string of at least {MIN_SECRET_BYTES} bytes (e.g. `openssl rand -base64 48`)"),
            )?
            .into_bytes();
            check_secret("SESSION_SECRET", &current)?;
            let previous = list(lookup("SESSION_SECRET_PREVIOUS"))
                .into_iter()
                .map(String::into_bytes)
                .collect::<Vec<_>>();
            for secret in &previous {
                check_secret("each SESSION_SECRET_PREVIOUS entry", secret)?;
            }
            Ok(SessionSecrets::Signed { current, previous })
        }
        Some("nuxt") => {
            let current = required(
                "NUXT_SESSION_PASSWORD",
                "with SESSION_FORMAT=nuxt, set it to the Nuxt app's own NUXT_SESSION_PASSWORD",
            )?;
            check_password("NUXT_SESSION_PASSWORD", &current)?;
            let previous = list(lookup("NUXT_SESSION_PASSWORD_PREVIOUS"));
            for password in &previous {
                check_password("each NUXT_SESSION_PASSWORD_PREVIOUS entry", password)?;
            }
            Ok(SessionSecrets::Nuxt { current, previous })
        }
        Some(_) => Err(ConfigError("SESSION_FORMAT must be signed or nuxt".into())),
    }
}

/// iron counts a password's length in UTF-16 code units, as JavaScript does.
fn check_password(name: &str, password: &str) -> Result<(), ConfigError> {
    if password.encode_utf16().count() < MIN_NUXT_PASSWORD_CHARS {
        return Err(ConfigError(format!(
            "{name} is too short: it must be at least {MIN_NUXT_PASSWORD_CHARS} characters"
        )));
    }
    Ok(())
}

fn check_secret(name: &str, secret: &[u8]) -> Result<(), ConfigError> {
    if secret.len() < MIN_SECRET_BYTES {
        return Err(ConfigError(format!(
            "{name} is too short: it must be at least {MIN_SECRET_BYTES} bytes"
        )));
    }
    Ok(())
}

fn list(raw: Option<String>) -> Vec<String> {
    raw.unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn seconds(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &str,
    default: u64,
) -> Result<u64, ConfigError> {
    let raw = match lookup(name) {
        None => return Ok(default),
        Some(raw) => raw,
    };
    let digits = raw.trim();
    match digits.parse::<u64>() {
        Ok(n) if (1..=MAX_SESSION_SECONDS).contains(&n) => Ok(n),
        // Past u64 is as much too long as any other number past the bound.
        Ok(0) => Err(ConfigError(format!(
            "{name} must be a positive number of seconds"
        ))),
        _ if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
            Err(ConfigError(format!(
                "{name} must be a positive number of seconds, at most {MAX_SESSION_SECONDS} (400 days)"
            )))
        }
        _ => Err(ConfigError(format!(
            "{name} must be a positive number of seconds"
        ))),
    }
}

/// A positive whole number from `name`, else `default`; `what` says what it must be.
fn positive(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &str,
    default: u64,
    what: &str,
) -> Result<u64, ConfigError> {
    match lookup(name) {
        None => Ok(default),
        Some(raw) => match raw.trim().parse::<u64>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(ConfigError(format!("{name} must be {what}"))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";
    const OLD: &str = "fedcba9876543210fedcba9876543210";

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|name| vars.get(name).cloned())
    }

    #[test]
    fn defaults_apply_when_only_the_secret_is_set() {
        let config = config(&[("SESSION_SECRET", SECRET)]).unwrap();
        assert_eq!(config.session_ttl_seconds, 604_800);
        assert_eq!(config.session_max_age_seconds, 2_592_000);
        assert_eq!(config.users_table, "neptun-users");
        assert!(config.cookie_secure);
        assert!(config.allowed_origins.is_empty());
        assert!(
            !format!("{config:?}").contains(SECRET),
            "Debug must not show the secret"
        );
    }

    #[test]
    fn refuses_unusable_settings_with_a_message_naming_the_variable() {
        let cases: [(&[(&str, &str)], &str); 11] = [
            (&[], "SESSION_SECRET is not set"),
            (
                &[("SESSION_SECRET", "short")],
                "SESSION_SECRET is too short",
            ),
            (
                &[
                    ("SESSION_SECRET", SECRET),
                    ("SESSION_SECRET_PREVIOUS", "old"),
                ],
                "SESSION_SECRET_PREVIOUS",
            ),
            (
                &[("SESSION_SECRET", SECRET), ("SESSION_TTL_SECONDS", "soon")],
                "SESSION_TTL_SECONDS",
            ),
            (
                &[("SESSION_SECRET", SECRET), ("SESSION_MAX_AGE_SECONDS", "0")],
                "SESSION_MAX_AGE_SECONDS",
            ),
            (
                &[("SESSION_SECRET", SECRET), ("COOKIE_SECURE", "maybe")],
                "COOKIE_SECURE",
            ),
            (
                &[("SESSION_SECRET", SECRET), ("SESSION_FORMAT", "jwt")],
                "SESSION_FORMAT must be signed or nuxt",
            ),
            (
                &[("SESSION_SECRET", SECRET), ("SESSION_FORMAT", "nuxt")],
                "NUXT_SESSION_PASSWORD is not set",
            ),
            (
                &[
                    ("SESSION_FORMAT", "nuxt"),
                    ("NUXT_SESSION_PASSWORD", "short"),
                ],
                "NUXT_SESSION_PASSWORD is too short",
            ),
            (
                // 31 characters, 62 bytes: iron counts characters (UTF-16 units).
                &[
                    ("SESSION_FORMAT", "nuxt"),
                    ("NUXT_SESSION_PASSWORD", "ééééééééééééééééééééééééééééééé"),
                ],
                "NUXT_SESSION_PASSWORD is too short",
            ),
            (
                &[
                    ("SESSION_FORMAT", "nuxt"),
                    ("NUXT_SESSION_PASSWORD", SECRET),
                    ("NUXT_SESSION_PASSWORD_PREVIOUS", "old"),
                ],
                "NUXT_SESSION_PASSWORD_PREVIOUS",
            ),
        ];
        for (vars, expected) in cases {
            let error = config(vars).unwrap_err();
            assert!(error.0.contains(expected), "{vars:?}: {error}");
            assert!(
                !error.0.contains("short\""),
                "the message never echoes a value"
            );
        }
    }

    #[test]
    fn session_lifetimes_are_at_most_400_days_and_the_ttl_at_most_the_maximum_age() {
        let lifetimes = |vars: &[(&str, &str)]| {
            let mut vars = vars.to_vec();
            vars.push(("SESSION_SECRET", SECRET));
            config(&vars).map(|c| (c.session_ttl_seconds, c.session_max_age_seconds))
        };
        let too_long = |name: &str| {
            Err(ConfigError(format!(
                "{name} must be a positive number of seconds, at most 34560000 (400 days)"
            )))
        };
        let ttl_above = Err(ConfigError(
            "SESSION_TTL_SECONDS must not be above SESSION_MAX_AGE_SECONDS".into(),
        ));
        type Vars<'a> = &'a [(&'a str, &'a str)];
        type Lifetimes = Result<(u64, u64), ConfigError>;
        // (settings, expected (ttl, max age) or refusal, why)
        let cases: [(Vars, Lifetimes, &str); 9] = [
            (&[], Ok((604_800, 2_592_000)), "the defaults"),
            (
                &[
                    ("SESSION_TTL_SECONDS", "3600"),
                    ("SESSION_MAX_AGE_SECONDS", "3600"),
                ],
                Ok((3600, 3600)),
                "equal",
            ),
            (
                &[("SESSION_MAX_AGE_SECONDS", "34560000")],
                Ok((604_800, 34_560_000)),
                "400 days",
            ),
            (
                &[("SESSION_TTL_SECONDS", "18446744073709551615")],
                too_long("SESSION_TTL_SECONDS"),
                "u64::MAX",
            ),
            (
                &[("SESSION_MAX_AGE_SECONDS", "18446744073709551615")],
                too_long("SESSION_MAX_AGE_SECONDS"),
                "u64::MAX",
            ),
            (
                &[("SESSION_MAX_AGE_SECONDS", "34560001")],
                too_long("SESSION_MAX_AGE_SECONDS"),
                "one past 400 days",
            ),
            (
                &[("SESSION_TTL_SECONDS", "99999999999999999999999")],
                too_long("SESSION_TTL_SECONDS"),
                "past u64",
            ),
            (
                &[("SESSION_TTL_SECONDS", "2592001")],
                ttl_above.clone(),
                "a TTL past the default maximum age",
            ),
            (
                &[
                    ("SESSION_TTL_SECONDS", "600"),
                    ("SESSION_MAX_AGE_SECONDS", "599"),
                ],
                ttl_above,
                "a maximum age below the TTL",
            ),
        ];
        for (vars, expected, why) in cases {
            let found = lifetimes(vars);
            assert_eq!(found, expected, "{why}");
            if let Err(error) = found {
                assert!(!error.0.contains('\n'), "{why}: one line");
                for (_, value) in vars {
                    assert!(!error.0.contains(value), "{why}: no value echoed");
                }
            }
        }
    }

    #[test]
    fn allowed_origins_entries_must_be_origins() {
        let refused = [
            ("null", "the opaque origin"),
            ("app.example.com", "no scheme"),
            ("ftp://app.example.com", "not http or https"),
            ("https://app.example.com/", "a path, even /"),
            ("https://app.example.com/app", "a path"),
            ("https://app.example.com?x=1", "a query"),
            ("https://app.example.com#top", "a fragment"),
            ("https://user@app.example.com", "a user name"),
            ("https://", "no host"),
            ("https://app.example.com:", "an empty port"),
            (
                "https://app.example.com:https",
                "a port that is not a number",
            ),
            ("https://app.example.com:70000", "a port past 65535"),
            ("https://app..example.com", "an empty label"),
            ("https://[::1", "an unclosed IPv6 literal"),
            ("*", "a wildcard"),
        ];
        for (entry, why) in refused {
            let listed = format!("https://ok.example.com,{entry}");
            let error = config(&[("SESSION_SECRET", SECRET), ("ALLOWED_ORIGINS", &listed)])
                .err()
                .unwrap_or_else(|| panic!("{why}: {entry} was accepted"));
            assert!(error.0.starts_with("ALLOWED_ORIGINS "), "{why}: {error}");
            assert!(!error.0.contains(entry), "{why}: the value is not echoed");
            assert!(!error.0.contains('\n'), "{why}: one line");
        }
        let accepted = [
            "https://app.example.com",
            "HTTPS://App.Example.com:8443",
            "http://localhost:5173",
            "http://127.0.0.1:3000",
            "http://[::1]:3000",
        ];
        for entry in accepted {
            let config = config(&[("SESSION_SECRET", SECRET), ("ALLOWED_ORIGINS", entry)]);
            assert!(config.is_ok(), "{entry}: {:?}", config.err());
        }
    }

    #[test]
    fn the_request_deadline_is_8_seconds_unless_set_to_a_positive_number_of_milliseconds() {
        let deadline = |vars: &[(&str, &str)]| {
            let mut vars = vars.to_vec();
            vars.push(("SESSION_SECRET", SECRET));
            config(&vars).map(|c| c.request_deadline)
        };
        assert_eq!(deadline(&[]), Ok(Duration::from_secs(8)));
        assert_eq!(
            deadline(&[("REQUEST_DEADLINE_MS", " 2500 ")]),
            Ok(Duration::from_millis(2500))
        );
        let refused = [
            ("0", "zero"),
            ("-1", "negative"),
            ("8s", "a unit"),
            ("1.5", "a fraction"),
            ("", "empty"),
            ("99999999999999999999999", "past u64"),
        ];
        for (value, why) in refused {
            let error = deadline(&[("REQUEST_DEADLINE_MS", value)]).unwrap_err();
            assert_eq!(
                error.0, "REQUEST_DEADLINE_MS must be a positive number of milliseconds",
                "{why}"
            );
        }
    }

    #[test]
    fn forwarded_headers_are_believed_only_when_trust_forwarded_headers_says_so() {
        let trusted = |value: Option<&str>| {
            let mut vars = vec![("SESSION_SECRET", SECRET)];
            vars.extend(value.map(|v| ("TRUST_FORWARDED_HEADERS", v)));
            config(&vars).map(|c| c.trust_forwarded_headers)
        };
        let cases = [
            (None, Ok(false)),
            (Some("false"), Ok(false)),
            (Some("true"), Ok(true)),
            (Some(" 1 "), Ok(true)),
            (
                Some("yes"),
                Err(ConfigError(
                    "TRUST_FORWARDED_HEADERS must be true or false".into(),
                )),
            ),
        ];
        for (value, expected) in cases {
            assert_eq!(trusted(value), expected, "{value:?}");
        }
    }

    #[test]
    fn lists_are_comma_separated_and_trimmed() {
        let config = config(&[
            ("SESSION_SECRET", SECRET),
            (
                "ALLOWED_ORIGINS",
                "https://app.example.com, http://localhost:5173,",
            ),
            ("COOKIE_SECURE", "false"),
        ])
        .unwrap();
        let origins: Vec<&str> = config.allowed_origins.iter().map(Origin::as_str).collect();
        assert_eq!(
            origins,
            ["https://app.example.com", "http://localhost:5173"]
        );
        assert!(!config.cookie_secure);
    }

    #[test]
    fn the_format_chooses_which_secrets_are_read() {
        let signed = config(&[("SESSION_SECRET", SECRET), ("NUXT_SESSION_PASSWORD", OLD)]).unwrap();
        assert_eq!(
            signed.session,
            SessionSecrets::Signed {
                current: SECRET.into(),
                previous: vec![]
            }
        );
        let vars = [
            ("SESSION_FORMAT", "nuxt"),
            ("NUXT_SESSION_PASSWORD", SECRET),
            ("NUXT_SESSION_PASSWORD_PREVIOUS", OLD),
        ];
        let nuxt = config(&vars).unwrap();
        assert_eq!(
            nuxt.session,
            SessionSecrets::Nuxt {
                current: SECRET.into(),
                previous: vec![OLD.into()]
            }
        );
        assert_eq!(nuxt.session.all(), [SECRET, OLD]);
        let debug = format!("{nuxt:?}");
        assert!(!debug.contains(SECRET) && !debug.contains(OLD), "{debug}");
        let lookup = |vars: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                vars.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(
            secret_variable(lookup(&[("SESSION_FORMAT", "nuxt")])),
            "NUXT_SESSION_PASSWORD"
        );
        assert_eq!(secret_variable(lookup(&[])), "SESSION_SECRET");
    }
}
