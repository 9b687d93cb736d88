//! The local command line (SPEC §7): `serve`, `session mint`, `table create`, `user create`.
//!
//! Machine-readable lines go to stdout (one JSON object each, or the minted cookie); human
//! text goes to stderr. Bad arguments print the usage and exit with status 2.

use std::collections::HashMap;
use std::ffi::OsString;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use serde_json::json;

use crate::config::{Config, ConfigError, secret_variable};
use crate::context::{AppContext, Scheme};
use crate::domain::{Email, NewPassword, UserId};
use crate::password::Hasher;
use crate::session::{INITIAL_SESSION_VERSION, SessionKeys, unix_now, unix_now_ms};
use crate::store::{DynamoStore, MemoryStore, StoreError, UserStore};

const USAGE: &str = "\
usage:
  neptun [serve] [--addr HOST:PORT] [--store memory|dynamodb] [--seed EMAIL:PASSWORD]...
  neptun session mint --user-id N --email E [--version V] [--expires-in SECONDS]
  neptun table create
  neptun user create --email E --password P [--store dynamodb|memory]
  neptun user import [--file PATH|-] [--store dynamodb|memory]

With no arguments, serves http://127.0.0.1:3000 over the in-memory store with one demo user.
Every flag accepts both `--name value` and `--name=value`.";

const DEFAULT_ADDR: &str = "127.0.0.1:3000";
const DEMO_SEED: &str = "demo@example.com:correct-horse-battery-staple";

/// Which store a command uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// The embedded store: nothing to install, gone when the process ends.
    Memory,
    /// The DynamoDB table named by `USERS_TABLE`.
    DynamoDb,
}

/// A parsed command line.
#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    /// Serve the endpoint.
    Serve {
        addr: SocketAddr,
        store: StoreKind,
        seeds: Vec<String>,
        demo: bool,
    },
    /// Print a signed session cookie.
    MintSession {
        user_id: UserId,
        email: String,
        version: u64,
        expires_in: Option<i64>,
    },
    /// Create the DynamoDB table.
    CreateTable,
    /// Create one user.
    CreateUser {
        email: String,
        password: String,
        store: StoreKind,
    },
    /// Import users from JSON lines (a file, or `-`/none for standard input).
    ImportUsers {
        file: Option<std::path::PathBuf>,
        store: StoreKind,
    },
    /// Print the usage.
    Help,
}

/// A command line that cannot be run; printed with the usage.
#[derive(Debug, PartialEq, Eq)]
pub struct UsageError(pub String);

/// Parses the arguments after the program name.
pub fn parse(args: &[String]) -> Result<Command, UsageError> {
    let words: Vec<&str> = args.iter().map(String::as_str).collect();
    if words.iter().any(|w| *w == "-h" || *w == "--help") {
        return Ok(Command::Help);
    }
    match words.as_slice() {
        [] => Ok(Command::Serve {
            addr: parse_addr(DEFAULT_ADDR)?,
            store: StoreKind::Memory,
            seeds: vec![DEMO_SEED.to_owned()],
            demo: true,
        }),
        ["serve", rest @ ..] => {
            let mut flags = Flags::parse(rest, &["addr", "store"], &["seed"])?;
            Ok(Command::Serve {
                addr: parse_addr(flags.take("addr").as_deref().unwrap_or(DEFAULT_ADDR))?,
                store: parse_store(flags.take("store").as_deref().unwrap_or("memory"))?,
                seeds: flags.take_all("seed"),
                demo: false,
            })
        }
        ["session", "mint", rest @ ..] => {
            let mut flags =
                Flags::parse(rest, &["user-id", "email", "version", "expires-in"], &[])?;
            let user_id = flags.require("user-id")?;
            let user_id = UserId::parse(&user_id).map_err(|_| {
                UsageError(format!(
                    "--user-id must be a positive integer, not {user_id:?}"
                ))
            })?;
            Ok(Command::MintSession {
                user_id,
                email: flags.require("email")?,
                version: number(flags.take("version"), "--version")?
                    .unwrap_or(INITIAL_SESSION_VERSION),
                expires_in: number(flags.take("expires-in"), "--expires-in")?,
            })
        }
        ["table", "create", rest @ ..] => {
            Flags::parse(rest, &[], &[])?;
            Ok(Command::CreateTable)
        }
        ["user", "create", rest @ ..] => {
            let mut flags = Flags::parse(rest, &["email", "password", "store"], &[])?;
            Ok(Command::CreateUser {
                email: flags.require("email")?,
                password: flags.require("password")?,
                store: parse_store(flags.take("store").as_deref().unwrap_or("dynamodb"))?,
            })
        }
        ["user", "import", rest @ ..] => {
            let mut flags = Flags::parse(rest, &["file", "store"], &[])?;
            Ok(Command::ImportUsers {
                file: flags
                    .take("file")
                    .filter(|f| f != "-")
                    .map(std::path::PathBuf::from),
                store: parse_store(flags.take("store").as_deref().unwrap_or("dynamodb"))?,
            })
        }
        [first, ..] => Err(UsageError(format!("unknown command {first:?}"))),
    }
}

/// `--name value` and `--name=value` flags, each known name at most once unless repeatable.
struct Flags(HashMap<String, Vec<String>>);

impl Flags {
    fn parse(words: &[&str], single: &[&str], repeatable: &[&str]) -> Result<Self, UsageError> {
        let mut values: HashMap<String, Vec<String>> = HashMap::new();
        let mut words = words.iter();
        while let Some(word) = words.next() {
            let flag = word
                .strip_prefix("--")
                .ok_or_else(|| UsageError(format!("unexpected argument {word:?}")))?;
            let (name, value) = match flag.split_once('=') {
                Some((name, value)) => (name, value.to_owned()),
                None => {
                    let value = words
                        .next()
                        .ok_or_else(|| UsageError(format!("--{flag} needs a value")))?;
                    (flag, (*value).to_owned())
                }
            };
            if !single.contains(&name) && !repeatable.contains(&name) {
                return Err(UsageError(format!("unknown flag --{name}")));
            }
            let entry = values.entry(name.to_owned()).or_default();
            if single.contains(&name) && !entry.is_empty() {
                return Err(UsageError(format!("--{name} given twice")));
            }
            entry.push(value);
        }
        Ok(Self(values))
    }

    fn take(&mut self, name: &str) -> Option<String> {
        self.0.remove(name).and_then(|mut v| v.pop())
    }

    fn take_all(&mut self, name: &str) -> Vec<String> {
        self.0.remove(name).unwrap_or_default()
    }

    fn require(&mut self, name: &str) -> Result<String, UsageError> {
        self.take(name)
            .ok_or_else(|| UsageError(format!("--{name} is required")))
    }
}

fn parse_addr(raw: &str) -> Result<SocketAddr, UsageError> {
    raw.parse().map_err(|_| {
        UsageError(format!(
            "--addr must be HOST:PORT with an IP host, not {raw:?}"
        ))
    })
}

fn parse_store(raw: &str) -> Result<StoreKind, UsageError> {
    match raw {
        "memory" => Ok(StoreKind::Memory),
        "dynamodb" => Ok(StoreKind::DynamoDb),
        _ => Err(UsageError(format!(
            "--store must be memory or dynamodb, not {raw:?}"
        ))),
    }
}

fn number<T: std::str::FromStr>(raw: Option<String>, flag: &str) -> Result<Option<T>, UsageError> {
    raw.map(|raw| {
        raw.parse()
            .map_err(|_| UsageError(format!("{flag} must be a whole number, not {raw:?}")))
    })
    .transpose()
}

/// The arguments as text. One that is not UTF-8 is a usage error naming its position, and
/// its flag when it is a flag's value; the bytes themselves are never echoed.
pub fn utf8_args(args: Vec<OsString>) -> Result<Vec<String>, UsageError> {
    let mut words: Vec<String> = Vec::with_capacity(args.len());
    for (i, arg) in args.into_iter().enumerate() {
        let raw = match arg.into_string() {
            Ok(word) => {
                words.push(word);
                continue;
            }
            Err(raw) => raw,
        };
        let position = i + 1;
        let lossy = raw.to_string_lossy();
        let flag = match lossy.strip_prefix("--") {
            Some(inline) => inline.split_once('=').map(|(name, _)| name.to_owned()),
            None => words
                .last()
                .and_then(|previous| previous.strip_prefix("--"))
                .filter(|name| !name.contains('='))
                .map(str::to_owned),
        };
        return Err(UsageError(match flag {
            Some(name) => format!("the value of --{name} (argument {position}) is not valid UTF-8"),
            None => format!("argument {position} is not valid UTF-8"),
        }));
    }
    Ok(words)
}

/// Runs the command line (the arguments after the program name); the process's exit status.
pub fn main(args: Vec<OsString>) -> ExitCode {
    let command = match utf8_args(args).and_then(|args| parse(&args)) {
        Ok(Command::Help) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Ok(command) => command,
        Err(UsageError(message)) => {
            eprintln!("error: {message}\n\n{USAGE}");
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
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> Result<(), String> {
    match command {
        Command::Serve {
            addr,
            store,
            seeds,
            demo,
        } => serve(addr, store, &seeds, demo).await,
        Command::MintSession {
            user_id,
            email,
            version,
            expires_in,
        } => {
            let config = Config::from_env().map_err(|e| e.to_string())?;
            Email::parse(&email)
                .map_err(|_| format!("--email {email:?} is not a valid address"))?;
            let keys = SessionKeys::new(&config);
            let session = keys.issue(user_id, &email, version, unix_now_ms(), expires_in);
            println!("{}", keys.cookie_pair(&session));
            Ok(())
        }
        Command::CreateTable => {
            let config = Config::from_env().map_err(|e| e.to_string())?;
            let store = DynamoStore::from_env(&config.users_table)
                .await
                .map_err(store_message)?;
            let created = store.create_table().await.map_err(store_message)?;
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
            let config = Config::from_env().map_err(|e| e.to_string())?;
            let store = build_store(store, &config).await?;
            let user = create_user(store.as_ref(), &Hasher::new(1), &email, &password).await?;
            println!(
                "{}",
                json!({"user": {"id": user.0.get(), "primary_email": user.1}})
            );
            Ok(())
        }
        Command::ImportUsers { file, store } => {
            let config = Config::from_env().map_err(|e| e.to_string())?;
            let store = build_store(store, &config).await?;
            let input: Box<dyn std::io::BufRead> = match &file {
                None => Box::new(std::io::stdin().lock()),
                Some(path) => Box::new(std::io::BufReader::new(
                    std::fs::File::open(path)
                        .map_err(|e| format!("cannot read {}: {e}", path.display()))?,
                )),
            };
            let summary = crate::import::run(store.as_ref(), input, unix_now(), |refusal| {
                eprintln!("line {}: refused: {}", refusal.line, refusal.reason);
            })
            .await
            .map_err(store_message)?;
            println!("{}", json!(summary));
            if summary.refused > 0 {
                return Err(format!("{} line(s) refused", summary.refused));
            }
            Ok(())
        }
        Command::Help => Ok(()),
    }
}

/// Builds the chosen store once. DynamoDB settings come from the SDK's own variables.
pub async fn build_store(kind: StoreKind, config: &Config) -> Result<Arc<dyn UserStore>, String> {
    Ok(match kind {
        StoreKind::Memory => Arc::new(MemoryStore::new()),
        StoreKind::DynamoDb => Arc::new(
            DynamoStore::from_env(&config.users_table)
                .await
                .map_err(store_message)?,
        ),
    })
}

fn store_message(error: StoreError) -> String {
    match error {
        StoreError::Unavailable(reason) => format!("store unavailable: {reason}"),
        other => format!("store refused: {other}"),
    }
}

/// Validates, hashes and stores one user; returns its id and email.
async fn create_user(
    store: &dyn UserStore,
    hasher: &Hasher,
    email: &str,
    password: &str,
) -> Result<(UserId, String), String> {
    let email =
        Email::parse(email).map_err(|_| format!("{email:?} is not a valid email address"))?;
    let password = NewPassword::parse(password)
        .map_err(|_| "the password must be 8 to 256 characters".to_owned())?;
    let hash = hasher
        .hash(password)
        .await
        .map_err(|_| "hashing failed".to_owned())?;
    let user = store
        .create_user(&email, &hash, unix_now())
        .await
        .map_err(|e| match e {
            StoreError::EmailTaken => format!("{email} is already in use"),
            other => store_message(other),
        })?;
    Ok((user.id, user.email.as_str().to_owned()))
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
    seeds: &[String],
    demo: bool,
) -> Result<(), String> {
    let config = serve_config(kind).map_err(|e| e.to_string())?;
    let store = build_store(kind, &config).await?;
    let ctx = Arc::new(AppContext::new(config, store, Scheme::Http));
    let mut demo_cookie = None;
    for seed in seeds {
        let (email, password) = seed
            .split_once(':')
            .ok_or_else(|| format!("--seed must be EMAIL:PASSWORD, not {seed:?}"))?;
        let (id, email) = create_user(ctx.store.as_ref(), &ctx.hasher, email, password).await?;
        let session = ctx
            .keys
            .issue(id, &email, INITIAL_SESSION_VERSION, unix_now_ms(), None);
        let cookie = ctx.keys.cookie_pair(&session);
        println!(
            "{}",
            json!({"user": {"id": id.get(), "primary_email": email}, "cookie": cookie})
        );
        demo_cookie = Some((id, cookie));
    }
    let (listener, local) = crate::server::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let url = format!("http://{local}");
    println!("{}", json!({"listening": url}));
    eprintln!("serving PATCH {url}/api/users/{{user_id}} ({kind:?} store); Ctrl-C stops");
    if let (true, Some((id, cookie))) = (demo, demo_cookie) {
        eprintln!(
            "\ntry it:\n\n  curl -i -X PATCH {url}/api/users/{id} \\\n    -H 'Content-Type: application/json' \\\n    -H 'Cookie: {cookie}' \\\n    -d '{{\"email\":\"new@example.com\"}}'\n"
        );
    }
    crate::server::serve(listener, ctx, shutdown_signal())
        .await
        .map_err(|e| format!("server failed: {e}"))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn flags_take_both_spellings_and_seeds_repeat() {
        let command = parse(&args(
            "serve --addr=127.0.0.1:0 --store memory --seed a@b.co:12345678 --seed=c@d.co:x:y:z",
        ))
        .unwrap();
        assert_eq!(
            command,
            Command::Serve {
                addr: "127.0.0.1:0".parse().unwrap(),
                store: StoreKind::Memory,
                seeds: vec!["a@b.co:12345678".into(), "c@d.co:x:y:z".into()],
                demo: false,
            }
        );
        let command = parse(&args(
            "session mint --user-id 7 --email=a@b.co --expires-in -60",
        ))
        .unwrap();
        assert_eq!(
            command,
            Command::MintSession {
                user_id: UserId::new(7).unwrap(),
                email: "a@b.co".into(),
                version: INITIAL_SESSION_VERSION,
                expires_in: Some(-60),
            }
        );
    }

    #[test]
    fn no_arguments_serve_the_demo_on_port_3000() {
        let Command::Serve {
            addr,
            store,
            seeds,
            demo,
        } = parse(&[]).unwrap()
        else {
            panic!("expected serve");
        };
        assert_eq!(
            (addr.to_string().as_str(), store, seeds.len(), demo),
            ("127.0.0.1:3000", StoreKind::Memory, 1, true)
        );
    }

    #[test]
    fn arguments_that_are_not_utf8_are_usage_errors_naming_where_they_are() {
        use std::os::unix::ffi::OsStrExt as _;
        let os = |words: &[&[u8]]| -> Vec<OsString> {
            words
                .iter()
                .map(|w| std::ffi::OsStr::from_bytes(w).to_owned())
                .collect()
        };
        let cases: [(&[&[u8]], &str); 4] = [
            (
                &[b"session", b"mint", b"--email", b"\xff", b"--user-id", b"1"],
                "the value of --email (argument 4) is not valid UTF-8",
            ),
            (
                &[b"serve", b"--seed=a\xff@b.co:password"],
                "the value of --seed (argument 2) is not valid UTF-8",
            ),
            (&[b"\xfe"], "argument 1 is not valid UTF-8"),
            (&[b"serve", b"--\xff"], "argument 2 is not valid UTF-8"),
        ];
        for (words, expected) in cases {
            let UsageError(message) = utf8_args(os(words)).unwrap_err();
            assert_eq!(message, expected, "{words:?}");
        }
        assert_eq!(
            utf8_args(os(&[b"serve", b"--addr", b"127.0.0.1:0"])).unwrap(),
            ["serve", "--addr", "127.0.0.1:0"]
        );
    }

    #[test]
    fn bad_arguments_are_usage_errors_not_panics() {
        let cases = [
            ("serve --port 3000", "unknown flag --port"),
            ("serve --addr", "--addr needs a value"),
            ("serve --addr localhost", "--addr must be HOST:PORT"),
            ("serve --store redis", "--store must be memory or dynamodb"),
            ("serve --addr=1.2.3.4:1 --addr=1.2.3.4:2", "given twice"),
            ("serve extra", "unexpected argument"),
            ("session mint --email a@b.co", "--user-id is required"),
            (
                "session mint --user-id 0 --email a@b.co",
                "--user-id must be a positive integer",
            ),
            (
                "session mint --user-id 1 --email a@b.co --version x",
                "--version must be a whole number",
            ),
            ("session", "unknown command"),
            ("table drop", "unknown command"),
            ("user create --email a@b.co", "--password is required"),
        ];
        for (line, expected) in cases {
            let UsageError(message) = parse(&args(line)).unwrap_err();
            assert!(message.contains(expected), "{line}: {message}");
        }
    }
}
