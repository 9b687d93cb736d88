//! The command line's arguments, parsed once into typed commands (with `lexopt`: a standard
//! parser for `--name value`, `--name=value` and `--help`, at a fraction of clap's size).
//! Addresses, passwords, ids and seeds are parsed here, at the boundary: a bad one is a usage
//! error naming its flag, printed with the command's usage, exit status 2.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;

use lexopt::{Arg, Parser};

use crate::domain::{Email, NewPassword, UserId};
use crate::session::INITIAL_SESSION_VERSION;

/// Every command, for `neptun --help`.
pub const USAGE: &str = "\
usage:
  neptun [serve] [--addr HOST:PORT] [--store memory|dynamodb] [--seed EMAIL:PASSWORD]...
  neptun session mint --user-id N --email E [--version V] [--expires-in SECONDS]
  neptun table create
  neptun user create --email E --password P [--store dynamodb|memory]
  neptun user import [--file PATH|-] [--store dynamodb|memory]

With no arguments, serves http://127.0.0.1:3000 over the in-memory store with one demo user.
Every flag accepts both `--name value` and `--name=value`; `--help` works on every command.";

const SERVE: &str = "\
usage: neptun [serve] [--addr HOST:PORT] [--store memory|dynamodb] [--seed EMAIL:PASSWORD]...

Serves PATCH /api/users/{user_id}. Prints one JSON line per seeded user (with a cookie), then
{\"listening\": URL} once it accepts connections.
  --addr HOST:PORT   where to listen (default 127.0.0.1:3000; port 0 picks a free one)
  --store KIND       memory (default) or dynamodb (USERS_TABLE and the AWS SDK's variables)
  --seed EMAIL:PASSWORD  create this user first (repeatable; ids 1, 2, ... over memory)";

const MINT: &str = "\
usage: neptun session mint --user-id N --email E [--version V] [--expires-in SECONDS]

Prints one line, neptun-session=..., made with SESSION_SECRET (or, with SESSION_FORMAT=nuxt,
sealed with NUXT_SESSION_PASSWORD).
  --user-id N         the user's id
  --email E           the address the cookie carries
  --version V         the session version (default: a new user's)
  --expires-in SECONDS  lifetime (default SESSION_TTL_SECONDS; negative: already expired)";

const TABLE_CREATE: &str = "\
usage: neptun table create

Creates the DynamoDB table USERS_TABLE (key pk, on-demand) and waits until it is active.";

const USER_CREATE: &str = "\
usage: neptun user create --email E --password P [--store dynamodb|memory]

Creates one user and prints its JSON.
  --email E      the address (zod's rules)
  --password P   8 to 256 characters
  --store KIND   dynamodb (default) or memory";

const USER_IMPORT: &str = "\
usage: neptun user import [--file PATH|-] [--store dynamodb|memory]

Imports users from JSON lines {\"id\":7,\"primary_email\":...,\"password_hash\":...,\"created_at\":...}
(password_hash null or absent: a user without a password); ends with
{\"imported\":N,\"skipped\":N,\"refused\":N,\"without_password\":N}; exit status 1 if anything was refused.
  --file PATH    the input (default, or -, standard input)
  --store KIND   dynamodb (default) or memory";

const DEFAULT_ADDR: &str = "127.0.0.1:3000";
const DEMO_EMAIL: &str = "demo@example.com";
const DEMO_PASSWORD: &str = "correct-horse-battery-staple";

/// Which store a command uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// The embedded store: nothing to install, gone when the process ends.
    Memory,
    /// The DynamoDB table named by `USERS_TABLE`.
    DynamoDb,
}

/// A user to create before serving: `--seed EMAIL:PASSWORD`.
#[derive(Debug)]
pub struct Seed {
    /// The address.
    pub email: Email,
    /// The password (validated; `Debug` redacted).
    pub password: NewPassword,
}

/// A parsed command line.
#[derive(Debug)]
pub enum Command {
    /// Serve the endpoint.
    Serve {
        /// Where to listen.
        addr: SocketAddr,
        /// Over which store.
        store: StoreKind,
        /// Users to create first, in order.
        seeds: Vec<Seed>,
        /// `cargo run` with no arguments: also print a ready-to-paste `curl`.
        demo: bool,
    },
    /// Print a session cookie.
    MintSession {
        /// Whose.
        user_id: UserId,
        /// The address it carries.
        email: Email,
        /// The session version it carries.
        version: u64,
        /// Seconds until it expires, instead of the configured lifetime.
        expires_in: Option<i64>,
    },
    /// Create the DynamoDB table.
    CreateTable,
    /// Create one user.
    CreateUser {
        /// The address.
        email: Email,
        /// The password.
        password: NewPassword,
        /// Where.
        store: StoreKind,
    },
    /// Import users from JSON lines.
    ImportUsers {
        /// The input; `None` is standard input.
        file: Option<PathBuf>,
        /// Where.
        store: StoreKind,
    },
    /// Print this usage text and stop.
    Help(&'static str),
}

/// A command line that cannot be run: what is wrong, and the usage to print with it.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct UsageError {
    message: String,
    /// The usage text of the command the error is about.
    pub usage: &'static str,
}

impl UsageError {
    fn new(usage: &'static str, message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            usage,
        }
    }
}

/// The names of the commands, word by word (`neptun` alone is `serve`).
const COMMANDS: [&[&str]; 5] = [
    &["serve"],
    &["session", "mint"],
    &["table", "create"],
    &["user", "create"],
    &["user", "import"],
];

/// The command `words` name in full, if they do.
fn which(words: &[String]) -> Option<Which> {
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    Some(match words.as_slice() {
        [] | ["serve"] => Which::Serve { demo: false },
        ["session", "mint"] => Which::Mint,
        ["table", "create"] => Which::TableCreate,
        ["user", "create"] => Which::UserCreate,
        ["user", "import"] => Which::UserImport,
        _ => return None,
    })
}

/// Which command the leading words name.
#[derive(Clone, Copy)]
enum Which {
    Serve { demo: bool },
    Mint,
    TableCreate,
    UserCreate,
    UserImport,
}

impl Which {
    fn usage(self) -> &'static str {
        match self {
            Self::Serve { .. } => SERVE,
            Self::Mint => MINT,
            Self::TableCreate => TABLE_CREATE,
            Self::UserCreate => USER_CREATE,
            Self::UserImport => USER_IMPORT,
        }
    }

    /// The flags this command takes, and whether each may repeat.
    fn flags(self) -> &'static [(&'static str, bool)] {
        match self {
            Self::Serve { .. } => &[("addr", false), ("store", false), ("seed", true)],
            Self::Mint => &[
                ("user-id", false),
                ("email", false),
                ("version", false),
                ("expires-in", false),
            ],
            Self::TableCreate => &[],
            Self::UserCreate => &[("email", false), ("password", false), ("store", false)],
            Self::UserImport => &[("file", false), ("store", false)],
        }
    }
}

/// Parses the arguments after the program name.
pub fn parse(args: Vec<OsString>) -> Result<Command, UsageError> {
    let no_arguments = args.is_empty();
    let mut parser = Parser::from_args(args);
    // The command's words, up to the first flag or the end of a command's name.
    let mut words: Vec<String> = Vec::new();
    let mut first_option = None;
    while words.is_empty() || which(&words).is_none() {
        let Some(arg) = parser
            .next()
            .map_err(|e| UsageError::new(USAGE, e.to_string()))?
        else {
            break;
        };
        match arg {
            Arg::Value(word) => {
                let word = word.into_string().map_err(|_| {
                    UsageError::new(
                        USAGE,
                        format!("argument {} is not valid UTF-8", words.len() + 1),
                    )
                })?;
                words.push(word);
                let prefix = |name: &&[&str]| {
                    name.len() >= words.len() && name.iter().zip(&words).all(|(a, b)| a == b)
                };
                if !COMMANDS.iter().any(prefix) {
                    let words = words.join(" ");
                    return Err(UsageError::new(USAGE, format!("unknown command {words:?}")));
                }
            }
            option => {
                first_option = Some(owned(option));
                break;
            }
        }
    }
    let which = match which(&words) {
        Some(Which::Serve { .. }) if words.is_empty() => {
            if is_help(first_option.as_ref()) {
                return Ok(Command::Help(USAGE));
            }
            Which::Serve { demo: no_arguments }
        }
        Some(which) => which,
        None if is_help(first_option.as_ref()) => return Ok(Command::Help(USAGE)),
        None => {
            let words = words.join(" ");
            return Err(UsageError::new(USAGE, format!("unknown command {words:?}")));
        }
    };
    let usage = which.usage();
    let mut values = Values::default();
    let mut next = first_option;
    loop {
        let option = match next.take() {
            Some(option) => option,
            None => match parser
                .next()
                .map_err(|e| UsageError::new(usage, e.to_string()))?
            {
                Some(arg) => owned(arg),
                None => break,
            },
        };
        let name = match option {
            Owned::Help => return Ok(Command::Help(usage)),
            Owned::Long(name) => name,
            Owned::Short(c) => return Err(UsageError::new(usage, format!("unknown flag -{c}"))),
            Owned::Value(value) => {
                return Err(UsageError::new(
                    usage,
                    format!("unexpected argument {:?}", value.to_string_lossy()),
                ));
            }
        };
        let Some(&(flag, repeats)) = which.flags().iter().find(|(flag, _)| *flag == name) else {
            return Err(UsageError::new(usage, format!("unknown flag --{name}")));
        };
        let value = parser
            .value()
            .map_err(|_| UsageError::new(usage, format!("--{flag} needs a value")))?
            .into_string()
            .map_err(|_| {
                UsageError::new(usage, format!("the value of --{flag} is not valid UTF-8"))
            })?;
        if !repeats && values.get(flag).is_some() {
            return Err(UsageError::new(usage, format!("--{flag} given twice")));
        }
        values.0.push((flag, value));
    }
    command(which, values).map_err(|message| UsageError::new(usage, message))
}

/// An argument with its borrowed name copied out, so the parser can be used again.
enum Owned {
    Help,
    Long(String),
    Short(char),
    Value(OsString),
}

fn owned(arg: Arg<'_>) -> Owned {
    match arg {
        Arg::Long("help") | Arg::Short('h') => Owned::Help,
        Arg::Long(name) => Owned::Long(name.to_owned()),
        Arg::Short(c) => Owned::Short(c),
        Arg::Value(value) => Owned::Value(value),
    }
}

fn is_help(option: Option<&Owned>) -> bool {
    matches!(option, Some(Owned::Help))
}

/// The flags given, in order.
#[derive(Default)]
struct Values(Vec<(&'static str, String)>);

impl Values {
    fn get(&self, flag: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(name, _)| *name == flag)
            .map(|(_, value)| value.as_str())
    }

    fn all(&self, flag: &str) -> impl Iterator<Item = &str> {
        self.0
            .iter()
            .filter(move |(name, _)| *name == flag)
            .map(|(_, value)| value.as_str())
    }

    fn required(&self, flag: &str) -> Result<&str, String> {
        self.get(flag)
            .ok_or_else(|| format!("--{flag} is required"))
    }
}

fn command(which: Which, values: Values) -> Result<Command, String> {
    let store = |default: StoreKind| match values.get("store") {
        None => Ok(default),
        Some("memory") => Ok(StoreKind::Memory),
        Some("dynamodb") => Ok(StoreKind::DynamoDb),
        Some(other) => Err(format!("--store must be memory or dynamodb, not {other:?}")),
    };
    Ok(match which {
        Which::Serve { demo } => {
            let addr = values.get("addr").unwrap_or(DEFAULT_ADDR);
            let addr = addr
                .parse()
                .map_err(|_| format!("--addr must be HOST:PORT with an IP host, not {addr:?}"))?;
            let mut seeds = values
                .all("seed")
                .map(seed)
                .collect::<Result<Vec<_>, _>>()?;
            if demo {
                seeds.push(seed(&format!("{DEMO_EMAIL}:{DEMO_PASSWORD}"))?);
            }
            Command::Serve {
                addr,
                store: store(StoreKind::Memory)?,
                seeds,
                demo,
            }
        }
        Which::Mint => {
            let user_id = values.required("user-id")?;
            Command::MintSession {
                user_id: UserId::parse(user_id).map_err(|_| {
                    format!(
                        "--user-id must be a positive integer of at most 2^53-1, not {user_id:?}"
                    )
                })?,
                email: email("--email", values.required("email")?)?,
                version: number(values.get("version"), "--version")?
                    .unwrap_or(INITIAL_SESSION_VERSION),
                expires_in: number(values.get("expires-in"), "--expires-in")?,
            }
        }
        Which::TableCreate => Command::CreateTable,
        Which::UserCreate => Command::CreateUser {
            email: email("--email", values.required("email")?)?,
            password: password("--password", values.required("password")?)?,
            store: store(StoreKind::DynamoDb)?,
        },
        Which::UserImport => Command::ImportUsers {
            file: values
                .get("file")
                .filter(|file| *file != "-")
                .map(PathBuf::from),
            store: store(StoreKind::DynamoDb)?,
        },
    })
}

fn seed(raw: &str) -> Result<Seed, String> {
    let (address, secret) = raw
        .split_once(':')
        .ok_or("--seed must be EMAIL:PASSWORD (no colon found)")?;
    Ok(Seed {
        email: email("--seed", address)?,
        password: password("--seed", secret)?,
    })
}

fn email(flag: &str, raw: &str) -> Result<Email, String> {
    Email::parse(raw).map_err(|_| format!("{flag}: {raw:?} is not a valid email address"))
}

/// Never echoes the password.
fn password(flag: &str, raw: &str) -> Result<NewPassword, String> {
    NewPassword::parse(raw).map_err(|_| format!("{flag}: the password must be 8 to 256 characters"))
}

fn number<T: std::str::FromStr>(raw: Option<&str>, flag: &str) -> Result<Option<T>, String> {
    raw.map(|raw| {
        raw.parse()
            .map_err(|_| format!("{flag} must be a whole number, not {raw:?}"))
    })
    .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<OsString> {
        line.split_whitespace().map(OsString::from).collect()
    }

    #[test]
    fn flags_take_both_spellings_and_seeds_repeat_and_parse() {
        let Command::Serve {
            addr,
            store,
            seeds,
            demo,
        } = parse(args(
            "serve --addr=127.0.0.1:0 --store memory --seed a@b.co:12345678 --seed=c@d.co:x:y:zzzzz",
        ))
        .unwrap()
        else {
            panic!("serve");
        };
        assert_eq!(
            (addr.to_string().as_str(), store, demo),
            ("127.0.0.1:0", StoreKind::Memory, false)
        );
        let seeds: Vec<(&str, &str)> = seeds
            .iter()
            .map(|s| (s.email.as_str(), s.password.expose()))
            .collect();
        assert_eq!(seeds, [("a@b.co", "12345678"), ("c@d.co", "x:y:zzzzz")]);
        let Command::MintSession {
            user_id,
            email,
            version,
            expires_in,
        } = parse(args(
            "session mint --user-id 7 --email=a@b.co --expires-in -60",
        ))
        .unwrap()
        else {
            panic!("mint");
        };
        assert_eq!(
            (user_id.get(), email.as_str(), version, expires_in),
            (7, "a@b.co", INITIAL_SESSION_VERSION, Some(-60))
        );
    }

    #[test]
    fn no_arguments_serve_the_demo_on_port_3000() {
        let Command::Serve {
            addr,
            store,
            seeds,
            demo,
        } = parse(Vec::new()).unwrap()
        else {
            panic!("expected serve");
        };
        assert_eq!(
            (addr.to_string().as_str(), store, seeds.len(), demo),
            ("127.0.0.1:3000", StoreKind::Memory, 1, true)
        );
        assert_eq!(seeds[0].email.as_str(), DEMO_EMAIL);
    }

    #[test]
    fn help_works_on_every_command_and_names_its_flags() {
        let cases = [
            ("--help", USAGE),
            ("-h", USAGE),
            ("serve --help", SERVE),
            ("serve --addr 127.0.0.1:0 -h", SERVE),
            ("session mint --help", MINT),
            ("table create --help", TABLE_CREATE),
            ("user create --help", USER_CREATE),
            ("user import --help", USER_IMPORT),
            ("user --help", USAGE),
        ];
        for (line, expected) in cases {
            match parse(args(line)) {
                Ok(Command::Help(usage)) => assert_eq!(usage, expected, "{line}"),
                other => panic!("{line}: {other:?}"),
            }
        }
        for (usage, flags) in [
            (SERVE, &["--addr", "--store", "--seed"][..]),
            (
                MINT,
                &["--user-id", "--email", "--version", "--expires-in"][..],
            ),
            (USER_CREATE, &["--email", "--password", "--store"][..]),
            (USER_IMPORT, &["--file", "--store"][..]),
        ] {
            for flag in flags {
                assert!(usage.contains(flag), "{flag} in {usage}");
            }
        }
    }

    #[test]
    fn bad_arguments_are_usage_errors_naming_the_flag_never_panics() {
        let cases = [
            ("serve --port 3000", "unknown flag --port", SERVE),
            ("serve --addr", "--addr needs a value", SERVE),
            ("serve --addr localhost", "--addr must be HOST:PORT", SERVE),
            (
                "serve --store redis",
                "--store must be memory or dynamodb",
                SERVE,
            ),
            (
                "serve --addr=1.2.3.4:1 --addr=1.2.3.4:2",
                "--addr given twice",
                SERVE,
            ),
            ("serve extra", "unexpected argument \"extra\"", SERVE),
            ("serve -p 1", "unknown flag -p", SERVE),
            (
                "serve --seed nobody",
                "--seed must be EMAIL:PASSWORD",
                SERVE,
            ),
            (
                "serve --seed not-an-address:password-1",
                "--seed: \"not-an-address\" is not a valid email",
                SERVE,
            ),
            (
                "serve --seed a@b.co:short",
                "--seed: the password must be 8 to 256",
                SERVE,
            ),
            ("session mint --email a@b.co", "--user-id is required", MINT),
            (
                "session mint --user-id 0 --email a@b.co",
                "--user-id must be a positive integer",
                MINT,
            ),
            (
                "session mint --user-id 1 --email nope",
                "--email: \"nope\" is not a valid email",
                MINT,
            ),
            (
                "session mint --user-id 1 --email a@b.co --version x",
                "--version must be a whole number",
                MINT,
            ),
            ("session", "unknown command \"session\"", USAGE),
            ("table drop", "unknown command \"table drop\"", USAGE),
            (
                "user create --email a@b.co",
                "--password is required",
                USER_CREATE,
            ),
            (
                "user create --email a@b.co --password short",
                "--password: the password must be 8",
                USER_CREATE,
            ),
            (
                "table create --store memory",
                "unknown flag --store",
                TABLE_CREATE,
            ),
        ];
        for (line, expected, usage) in cases {
            let error = parse(args(line)).unwrap_err();
            assert!(error.to_string().contains(expected), "{line}: {error}");
            assert_eq!(error.usage, usage, "{line}");
            assert!(
                !error.to_string().contains("short\""),
                "{line}: a password is never echoed"
            );
        }
    }

    #[test]
    fn arguments_that_are_not_utf8_are_usage_errors_naming_where_they_are() {
        use std::os::unix::ffi::OsStringExt;
        let bad = || OsString::from_vec(vec![0xff, 0xfe]);
        let cases: [(Vec<OsString>, &str); 4] = [
            (vec![bad()], "argument 1 is not valid UTF-8"),
            (vec!["user".into(), bad()], "argument 2 is not valid UTF-8"),
            (
                vec!["session".into(), "mint".into(), "--email".into(), bad()],
                "the value of --email is not valid UTF-8",
            ),
            (
                vec!["session".into(), "mint".into(), {
                    let mut flag = b"--email=".to_vec();
                    flag.push(0xff);
                    OsString::from_vec(flag)
                }],
                "the value of --email is not valid UTF-8",
            ),
        ];
        for (args, expected) in cases {
            let error = parse(args).unwrap_err();
            assert_eq!(error.to_string(), expected);
        }
    }
}
