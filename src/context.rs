//! `AppContext`: what one cold start builds once and every request shares.

use std::sync::Arc;

use crate::clock::Clock;
use crate::config::Config;
use crate::credentials::UserLocks;
use crate::password::Hasher;
use crate::session::SessionKeys;
use crate::store::UserStore;

/// The scheme an entry point's server speaks, used for the request's own origin when no
/// `X-Forwarded-Proto` says otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// The local command's plain-HTTP server.
    Http,
    /// Vercel and API Gateway terminate TLS in front of the function.
    Https,
}

impl Scheme {
    /// `http` or `https`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Https => "https",
        }
    }
}

/// Whether an entry point's platform itself writes `X-Forwarded-Host` and `X-Forwarded-Proto`, so the
/// request's own origin may be read from them. Where it does not, a client could send them to
/// pass the cross-site check with a foreign `Origin`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwardedHeaders {
    /// Believed: Vercel's edge overwrites them, and a local reverse proxy does with
    /// `TRUST_FORWARDED_HEADERS=true`.
    Trusted,
    /// Ignored: the local server by default, and API Gateway, which passes a client's copies
    /// through (the Lambda entry point hands the handler the host API Gateway saw instead).
    Ignored,
}

/// Settings, keys, store and hasher, shared by every request of one process.
pub struct AppContext {
    /// Settings read at start.
    pub config: Config,
    /// Session signing keys derived from the settings.
    pub keys: SessionKeys,
    /// The user table: DynamoDB when deployed; DynamoDB or memory locally.
    pub store: Arc<dyn UserStore>,
    /// The bounded Argon2id hasher.
    pub hasher: Hasher,
    /// The scheme of the entry point's own server.
    pub scheme: Scheme,
    /// Whether the entry point's platform sets the forwarding headers; from `TRUST_FORWARDED_HEADERS`
    /// unless the entry point says otherwise (`AppContext::with_forwarded_headers`).
    pub forwarded_headers: ForwardedHeaders,
    /// The time requests are judged by (tests move it).
    pub clock: Arc<Clock>,
    /// One credential check per user at a time.
    pub user_locks: UserLocks,
}

impl AppContext {
    /// Builds the shared context, deriving the session keys once.
    pub fn new(config: Config, store: Arc<dyn UserStore>, scheme: Scheme) -> Self {
        let forwarded_headers = if config.trust_forwarded_headers {
            ForwardedHeaders::Trusted
        } else {
            ForwardedHeaders::Ignored
        };
        Self {
            keys: SessionKeys::new(&config),
            config,
            store,
            hasher: Hasher::per_core(),
            scheme,
            forwarded_headers,
            clock: Arc::default(),
            user_locks: UserLocks::default(),
        }
    }

    /// The entry point's own knowledge of its platform's forwarding headers, over the setting.
    pub(crate) fn with_forwarded_headers(mut self, forwarded_headers: ForwardedHeaders) -> Self {
        self.forwarded_headers = forwarded_headers;
        self
    }
}
