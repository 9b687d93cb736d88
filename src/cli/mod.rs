//! The local command line (docs/contract.md, "Command line"): `serve`, `session mint`,
//! `table create`, `user create`, `user import`.
//!
//! Machine-readable lines go to stdout (one JSON object each, or the minted cookie); human
//! text goes to stderr. Bad arguments print the command's help and exit with status 2
//! (`args`); a command that fails says why on one line and exits with status 1.

pub(crate) mod args;

use std::ffi::OsString;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use serde_json::json;

pub use args::{Command, Seed, StoreKind, UsageError, parse};

use crate::clock::{unix_now, unix_now_ms};
use crate::config::{Config, ConfigError, secret_variable};
use crate::context::{AppContext, Scheme};
use crate::domain::{Email, INITIAL_SESSION_VERSION, NewPassword, UserId};
use crate::password::Hasher;
use crate::session::SessionKeys;
use crate::store::{DynamoStore, MemoryStore, StoreError, StoredUser, UserStore};

/// Why a command that parsed could not do its work; printed as one line, exit status 1.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CliError {
    /// A setting is missing or unusable (names the variable, never its value).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The store refused or failed.
    #[error("store unavailable: {0}")]
    Store(String),
    /// The address of a user to create is taken.
    #[error("{0} is already in use")]
    EmailTaken(String),
    /// Hashing a password failed.
    #[error("hashing the password failed")]
    Hash,
    /// A file could not be read.
    #[error("cannot read {path}: {reason}")]
    Read {
        path: String,
        /// The operating system's reason.
        reason: std::io::Error,
    },
    /// The server could not listen or failed.
    #[error("{0}")]
    Server(String),
    /// `user import` refused lines (each already reported on stderr).
    #[error("{0} line(s) refused")]
    Refused(u64),
}

impl From<StoreError> for CliError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Unavailable(reason) => Self::Store(reason),
            other => Self::Store(other.to_string()),
        }
    }
}

/// Runs the command line (the arguments after the program name); the process's exit status.
pub fn main(args: Vec<OsString>) -> ExitCode {
    let command = match parse(args) {
        Ok(Command::Help(usage)) => {
            println!("{usage}");
            return ExitCode::SUCCESS;
        }
        Ok(command) => command,
        Err(error) => {
            eprintln!("error: {error}\n\n{}", error.usage);
            return ExitCode::from(2);
        }
    };
    crate::telemetry::init(false);
    // One thread runs every connection; Argon2id runs on the hasher's own threads, one per
    // core (src/password.rs). This is the event-loop-plus-worker-pool shape: the request work
    // left on the loop is a few microseconds, and a work-stealing runtime's cross-thread
    // wake-ups cost more than that. Measured with wrk on 2 cores (`scripts/bench`): ~9.3 µs
    // of server CPU per email-only update here against ~12 µs on the multi-threaded runtime.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> Result<(), CliError> {
    match command {
        Command::Serve {
            addr,
            store,
            seeds,
            demo,
        } => serve(addr, store, seeds, demo).await,
        Command::MintSession {
            user_id,
            email,
            version,
            expires_in,
        } => {
            let keys = SessionKeys::new(&Config::from_env()?);
            let session = keys.issue(user_id, email.as_str(), version, unix_now_ms(), expires_in);
            println!("{}", keys.cookie_pair(&session));
            Ok(())
        }
        Command::CreateTable => {
            let config = Config::from_env()?;
            let store = DynamoStore::from_env(&config.users_table).await?;
            let created = store.create_table().await?;
            reserve_below_floor(&store, &config).await?;
            let table = &config.users_table;
            eprintln!(
                "table {table} {}",
                if created { "created" } else { "already exists" }
            );
            println!("{}", json!({"table": table, "created": created}));
            Ok(())
        }
        Command::CreateUser {
            email,
            password,
            store,
        } => {
            let config = Config::from_env()?;
            let store = build_store(store, &config).await?;
            let hasher = Hasher::new(1);
            let user = create_user(store.as_ref(), &config, &hasher, &email, password).await?;
            println!("{}", user_json(&user));
            Ok(())
        }
        Command::ImportUsers { file, store } => {
            let config = Config::from_env()?;
            let store = build_store(store, &config).await?;
            reserve_below_floor(store.as_ref(), &config).await?;
            let input: Box<dyn std::io::BufRead> = match &file {
                None => Box::new(std::io::stdin().lock()),
                Some(path) => Box::new(std::io::BufReader::new(
                    std::fs::File::open(path).map_err(|reason| CliError::Read {
                        path: path.display().to_string(),
                        reason,
                    })?,
                )),
            };
            let summary = crate::import::run(store.as_ref(), input, unix_now(), |refusal| {
                eprintln!("line {}: refused: {}", refusal.line, refusal.reason);
            })
            .await?;
            println!("{}", json!(summary));
            match summary.refused {
                0 => Ok(()),
                refused => Err(CliError::Refused(refused)),
            }
        }
        Command::Help(usage) => {
            println!("{usage}");
            Ok(())
        }
    }
}

/// Builds the chosen store once. DynamoDB settings come from the SDK's own variables.
pub(crate) async fn build_store(
    kind: StoreKind,
    config: &Config,
) -> Result<Arc<dyn UserStore>, CliError> {
    Ok(match kind {
        StoreKind::Memory => Arc::new(MemoryStore::new()),
        StoreKind::DynamoDb => Arc::new(DynamoStore::from_env(&config.users_table).await?),
    })
}

/// `{"user":{"id":…,"primary_email":…}}`.
fn user_json(user: &StoredUser) -> serde_json::Value {
    json!({"user": {"id": user.id.get(), "primary_email": user.email.as_str()}})
}

/// Moves the id counter up to just below `USER_ID_FLOOR`, so the ids below it stay free for
/// the users the web app creates itself.
async fn reserve_below_floor(store: &dyn UserStore, config: &Config) -> Result<(), CliError> {
    if let Some(below) = UserId::new(config.user_id_floor.get() - 1) {
        store.reserve_ids_through(below).await?;
    }
    Ok(())
}

/// Hashes and stores one user.
async fn create_user(
    store: &dyn UserStore,
    config: &Config,
    hasher: &Hasher,
    email: &Email,
    password: NewPassword,
) -> Result<StoredUser, CliError> {
    let hash = hasher.hash(password).await.map_err(|_| CliError::Hash)?;
    store
        .create_user(email, &hash, unix_now(), config.user_id_floor)
        .await
        .map_err(|error| match error {
            StoreError::EmailTaken => CliError::EmailTaken(email.as_str().to_owned()),
            other => other.into(),
        })
}

/// The settings for `serve`. The session secret (`SESSION_SECRET`, or
/// `NUXT_SESSION_PASSWORD` with `SESSION_FORMAT=nuxt`) is required, except over the memory
/// store, where a missing one is made up for this run.
fn serve_config(store: StoreKind) -> Result<Config, ConfigError> {
    let env = |name: &str| std::env::var(name).ok();
    let variable = secret_variable(env);
    let configured = env(variable).is_some_and(|s| !s.is_empty());
    if configured || store == StoreKind::DynamoDb {
        return Config::from_env();
    }
    eprintln!(
        "warning: {variable} is not set; using a random secret for this run (cookies die with the process)"
    );
    let random = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        cookie::Key::generate().master(),
    );
    Config::from_lookup(|name| {
        if name == variable {
            Some(random.clone())
        } else {
            env(name)
        }
    })
}

async fn serve(
    addr: SocketAddr,
    kind: StoreKind,
    seeds: Vec<Seed>,
    demo: bool,
) -> Result<(), CliError> {
    let config = serve_config(kind)?;
    let store = build_store(kind, &config).await?;
    let ctx = Arc::new(AppContext::new(config, store, Scheme::Http));
    let mut demo_cookie = None;
    for Seed { email, password } in seeds {
        let user = create_user(
            ctx.store.as_ref(),
            &ctx.config,
            &ctx.hasher,
            &email,
            password,
        )
        .await?;
        let session = ctx.keys.issue(
            user.id,
            user.email.as_str(),
            INITIAL_SESSION_VERSION,
            unix_now_ms(),
            None,
        );
        let cookie = ctx.keys.cookie_pair(&session);
        let mut line = user_json(&user);
        line["cookie"] = json!(cookie);
        println!("{line}");
        demo_cookie = Some((user.id, cookie));
    }
    let (listener, local) = crate::server::bind(addr)
        .await
        .map_err(|e| CliError::Server(format!("cannot listen on {addr}: {e}")))?;
    let url = format!("http://{local}");
    println!("{}", json!({"listening": url}));
    eprintln!(
        "serving PATCH {url}/api/users/{{user_id}}, POST {url}/api/auth/login and POST {url}/api/auth/sign-up ({kind:?} store); Ctrl-C stops"
    );
    if let (true, Some((id, cookie))) = (demo, demo_cookie) {
        eprintln!(
            "\ntry it:\n\n  curl -i -X PATCH {url}/api/users/{id} \\\n    -H 'Content-Type: application/json' \\\n    -H 'Cookie: {cookie}' \\\n    -d '{{\"email\":\"new@example.com\"}}'\n"
        );
    }
    crate::server::serve(listener, ctx, shutdown_signal())
        .await
        .map_err(|e| CliError::Server(format!("server failed: {e}")))
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
