//! `Config`: everything the function reads from the environment, read once at cold start.

use std::time::Duration;

use secrecy::SecretString;

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

/// `SESSION_FORMAT`: which cookie format `neptun-session` is read and written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionFormat {
    /// The function's own format (`signed`, the default): HMAC-SHA256 signed JSON.
    Signed,
    /// The Nuxt app's format (`nuxt`): h3 sessions sealed with iron.
    Nuxt,
}

impl SessionFormat {
    /// `SESSION_FORMAT`; unset or empty is [`SessionFormat::Signed`].
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        match lookup("SESSION_FORMAT").as_deref().map(str::trim) {
            None | Some("") | Some("signed") => Ok(Self::Signed),
            Some("nuxt") => Ok(Self::Nuxt),
            Some(_) => Err(ConfigError("SESSION_FORMAT must be signed or nuxt".into())),
        }
    }

    /// The variable that holds the current secret: `SESSION_SECRET` or
    /// `NUXT_SESSION_PASSWORD`.
    pub fn secret_variable(self) -> &'static str {
        match self {
            Self::Signed => "SESSION_SECRET",
            Self::Nuxt => "NUXT_SESSION_PASSWORD",
        }
    }

    /// The variable that lists the previous secrets, still accepted during a rotation.
    fn previous_variable(self) -> &'static str {
        match self {
            Self::Signed => "SESSION_SECRET_PREVIOUS",
            Self::Nuxt => "NUXT_SESSION_PASSWORD_PREVIOUS",
        }
    }
}

/// The session cookie's format with its secrets: new cookies are always signed or sealed with
/// `current`; `previous` are still accepted during a rotation. Secrets are zeroed when dropped
/// and shown as `[REDACTED]` by `Debug`.
#[derive(Debug, Clone)]
pub enum SessionSecrets {
    /// `SESSION_FORMAT=signed`: `SESSION_SECRET` and `SESSION_SECRET_PREVIOUS`.
    Signed {
        /// `SESSION_SECRET`.
        current: SecretString,
        /// `SESSION_SECRET_PREVIOUS`.
        previous: Vec<SecretString>,
    },
    /// `SESSION_FORMAT=nuxt`: `NUXT_SESSION_PASSWORD` and `NUXT_SESSION_PASSWORD_PREVIOUS`.
    Nuxt {
        /// `NUXT_SESSION_PASSWORD`.
        current: SecretString,
        /// `NUXT_SESSION_PASSWORD_PREVIOUS`.
        previous: Vec<SecretString>,
    },
}

impl SessionSecrets {
    /// The secrets `format` needs, from `lookup`; a missing or short one is an error.
    pub fn from_lookup(
        format: SessionFormat,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let (variable, previous_variable) = (format.secret_variable(), format.previous_variable());
        let hint = match format {
            SessionFormat::Signed => &format!(
                "set it to a random string of at least {MIN_SECRET_BYTES} bytes (e.g. `openssl rand -base64 48`)"
            ),
            SessionFormat::Nuxt => {
                "with SESSION_FORMAT=nuxt, set it to the Nuxt app's own NUXT_SESSION_PASSWORD"
            }
        };
        let current = lookup(variable)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| ConfigError(format!("{variable} is not set: {hint}")))?;
        let previous = list(lookup(previous_variable));
        let check = |name: &str, secret: &str| match format {
            SessionFormat::Signed => check_secret(name, secret),
            SessionFormat::Nuxt => check_password(name, secret),
        };
        check(variable, &current)?;
        for secret in &previous {
            check(&format!("each {previous_variable} entry"), secret)?;
        }
        let current = SecretString::from(current);
        let previous = previous.into_iter().map(SecretString::from).collect();
        Ok(match format {
            SessionFormat::Signed => Self::Signed { current, previous },
            SessionFormat::Nuxt => Self::Nuxt { current, previous },
        })
    }

    /// The format these secrets are for.
    pub fn format(&self) -> SessionFormat {
        match self {
            Self::Signed { .. } => SessionFormat::Signed,
            Self::Nuxt { .. } => SessionFormat::Nuxt,
        }
    }

    /// Every secret, current first, as text: for tests and log scans that must never find them.
    #[cfg(any(test, feature = "test-util"))]
    pub fn all(&self) -> Vec<String> {
        use secrecy::ExposeSecret;
        let (Self::Signed { current, previous } | Self::Nuxt { current, previous }) = self;
        std::iter::once(current)
            .chain(previous)
            .map(|secret| secret.expose_secret().to_owned())
            .collect()
    }
}

/// The variable that holds the current session secret for the `SESSION_FORMAT` that `lookup`
/// names: `SESSION_SECRET` or `NUXT_SESSION_PASSWORD`. An unknown format is reported by
/// [`Config::from_lookup`].
pub fn secret_variable(lookup: impl Fn(&str) -> Option<String>) -> &'static str {
    SessionFormat::from_lookup(lookup)
        .unwrap_or(SessionFormat::Signed)
        .secret_variable()
}

/// The function's settings. See the README's configuration table.
///
/// `Config<SessionFormat>` holds every setting but the session secrets, read and checked:
/// what a deployed function checks before it reads the secrets from Secrets Manager, and then
/// completes with [`Config::with_secrets`].
#[derive(Debug, Clone)]
pub struct Config<Session = SessionSecrets> {
    /// The session cookie's format and, once read, the secrets it is signed or sealed with.
    pub session: Session,
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
        Config::without_secrets(&lookup)?.with_secrets(&lookup)
    }
}

impl Config<SessionFormat> {
    /// Every setting but the session secrets, through `lookup`.
    pub fn without_secrets(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let session = SessionFormat::from_lookup(&lookup)?;
        let session_ttl_seconds = positive(
            &lookup,
            "SESSION_TTL_SECONDS",
            DEFAULT_TTL_SECONDS,
            SESSION_SECONDS,
        )?;
        let session_max_age_seconds = positive(
            &lookup,
            "SESSION_MAX_AGE_SECONDS",
            DEFAULT_MAX_AGE_SECONDS,
            SESSION_SECONDS,
        )?;
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
            Bound::unbounded("milliseconds"),
        )?);
        let trust_forwarded_headers = switch(&lookup, "TRUST_FORWARDED_HEADERS", false)?;
        let require_current_password = switch(&lookup, "REQUIRE_CURRENT_PASSWORD", false)?;
        let password_rules = match lookup("PASSWORD_RULES").as_deref().map(str::trim) {
            None | Some("") => match session {
                SessionFormat::Signed => PasswordRules::Nist,
                SessionFormat::Nuxt => PasswordRules::Neptun,
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

    /// The whole configuration, with the secrets of this format read through `lookup`.
    pub fn with_secrets(
        self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        Ok(Config {
            session: SessionSecrets::from_lookup(self.session, lookup)?,
            session_ttl_seconds: self.session_ttl_seconds,
            session_max_age_seconds: self.session_max_age_seconds,
            users_table: self.users_table,
            allowed_origins: self.allowed_origins,
            cookie_secure: self.cookie_secure,
            request_deadline: self.request_deadline,
            trust_forwarded_headers: self.trust_forwarded_headers,
            require_current_password: self.require_current_password,
            password_rules: self.password_rules,
            unstamped_sessions: self.unstamped_sessions,
            user_id_floor: self.user_id_floor,
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

/// iron counts a password's length in UTF-16 code units, as JavaScript does.
fn check_password(name: &str, password: &str) -> Result<(), ConfigError> {
    if password.encode_utf16().count() < MIN_NUXT_PASSWORD_CHARS {
        return Err(ConfigError(format!(
            "{name} is too short: it must be at least {MIN_NUXT_PASSWORD_CHARS} characters"
        )));
    }
    Ok(())
}

fn check_secret(name: &str, secret: &str) -> Result<(), ConfigError> {
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

/// How large a [`positive`] setting may be, and the unit its message names.
struct Bound {
    unit: &'static str,
    /// The largest value, with the words that describe it; `None`: anything up to `u64::MAX`.
    max: Option<(u64, &'static str)>,
}

impl Bound {
    const fn unbounded(unit: &'static str) -> Self {
        Self { unit, max: None }
    }
}

/// A session lifetime: whole seconds, at most [`MAX_SESSION_SECONDS`].
const SESSION_SECONDS: Bound = Bound {
    unit: "seconds",
    max: Some((MAX_SESSION_SECONDS, "400 days")),
};

/// A whole number from 1 up to `bound` in `name`, else (unset) `default`. A number past the
/// bound, even past `u64`, is told the bound.
fn positive(
    lookup: &impl Fn(&str) -> Option<String>,
    name: &str,
    default: u64,
    bound: Bound,
) -> Result<u64, ConfigError> {
    let Some(raw) = lookup(name) else {
        return Ok(default);
    };
    let digits = raw.trim();
    let positive = format!("{name} must be a positive number of {}", bound.unit);
    let max = bound.max.map_or(u64::MAX, |(max, _)| max);
    match digits.parse::<u64>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        Ok(0) => Err(ConfigError(positive)),
        _ if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
            Err(ConfigError(match bound.max {
                Some((max, words)) => format!("{positive}, at most {max} ({words})"),
                None => positive,
            }))
        }
        _ => Err(ConfigError(positive)),
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
        assert_eq!(signed.session.format(), SessionFormat::Signed);
        assert_eq!(signed.session.all(), [SECRET]);
        let vars = [
            ("SESSION_FORMAT", "nuxt"),
            ("NUXT_SESSION_PASSWORD", SECRET),
            ("NUXT_SESSION_PASSWORD_PREVIOUS", OLD),
        ];
        let nuxt = config(&vars).unwrap();
        assert_eq!(nuxt.session.format(), SessionFormat::Nuxt);
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
