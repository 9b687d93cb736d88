//! `AppContext`: what one cold start builds once and every request shares.

use std::sync::Arc;

use crate::config::Config;
use crate::password::Hasher;
use crate::session::SessionKeys;
use crate::store::UserStore;

/// The scheme a door's server speaks, used for the request's own origin when no
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

/// Settings, keys, store and hasher, shared by every request of one process.
pub struct AppContext {
    /// Settings read at start.
    pub config: Config,
    /// Session signing keys derived from the settings.
    pub keys: SessionKeys,
    /// Where users live.
    pub store: Arc<dyn UserStore>,
    /// The bounded Argon2id hasher.
    pub hasher: Hasher,
    /// The scheme of the door's own server.
    pub scheme: Scheme,
    /// `ALLOWED_ORIGINS`, normalized once (lower case, no default port) for comparison.
    pub allowed_origins: Vec<String>,
}

impl AppContext {
    /// Builds the shared context, deriving the session keys once.
    pub fn new(config: Config, store: Arc<dyn UserStore>, scheme: Scheme) -> Self {
        let allowed_origins = config
            .allowed_origins
            .iter()
            .filter_map(|origin| crate::handler::normalize_origin(origin))
            .collect();
        Self {
            keys: SessionKeys::new(&config),
            allowed_origins,
            config,
            store,
            hasher: Hasher::per_core(),
            scheme,
        }
    }
}
