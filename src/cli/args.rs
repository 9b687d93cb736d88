//! The command line's arguments, parsed once into typed commands with clap's derive API.
//! Addresses, passwords, ids and seeds are parsed here, through their `FromStr`, at the
//! boundary: a bad one is a usage error naming its flag (never echoing a password), printed
//! with the command's help, exit status 2.
//!
//! Only `neptun` calls [`parse`]: the deployed binaries never reach this module, so clap is
//! not linked into them.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;

use clap::builder::PossibleValue;
use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};

use crate::domain::{Email, INITIAL_SESSION_VERSION, NewPassword, UserId};

const DEFAULT_ADDR: &str = "127.0.0.1:3000";
const DEMO_EMAIL: &str = "demo@example.com";
const DEMO_PASSWORD: &str = "correct-horse-battery-staple";

// Every help text starts with the command's usage line(s), as docs/contract.md writes them
// (clap would write `<VALUE>` and `[OPTIONS]`), then what the command does and its flags.
const HELP: &str = "usage: {usage}\n\n{about-with-newline}\n{all-args}{after-help}";
const SERVE_USAGE: &str =
    "neptun [serve] [--addr HOST:PORT] [--store memory|dynamodb] [--seed EMAIL:PASSWORD]...";
const MINT_USAGE: &str =
    "neptun session mint --user-id N --email E [--version V] [--expires-in SECONDS]";
const TABLE_CREATE_USAGE: &str = "neptun table create";
const USER_CREATE_USAGE: &str =
    "neptun user create --email E --password P [--store dynamodb|memory]";
const USER_IMPORT_USAGE: &str = "neptun user import [--file PATH|-] [--store dynamodb|memory]";

/// Several commands' usage lines, one per line under the `usage:` heading.
fn usage_lines(lines: &[&str]) -> String {
    lines.iter().map(|line| format!("\n  {line}")).collect()
}

/// `neptun`: `serve` when no command is named, so `serve`'s flags are also the top level's.
#[derive(Parser)]
#[command(
    name = "neptun",
    override_usage = usage_lines(&[
        SERVE_USAGE,
        MINT_USAGE,
        TABLE_CREATE_USAGE,
        USER_CREATE_USAGE,
        USER_IMPORT_USAGE,
    ]),
    help_template = "usage:{usage}\n\ncommands:\n{subcommands}{after-help}",
    after_help = "With no arguments, serves http://127.0.0.1:3000 over the in-memory store with one demo user.\n\
                  Every flag accepts both `--name value` and `--name=value`; `--help` works on every command.",
    args_conflicts_with_subcommands = true,
    disable_help_subcommand = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Commands>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Subcommand)]
enum Commands {
    #[command(
        override_usage = SERVE_USAGE,
        help_template = HELP,
        about = "Serves PATCH /api/users/{user_id}, POST /api/auth/login and POST /api/auth/sign-up.\n\
                 Prints one JSON line per seeded user (with a cookie),\n\
                 then {\"listening\": URL} once it accepts connections."
    )]
    Serve(ServeArgs),
    /// Session cookies: `session mint`.
    #[command(
        override_usage = MINT_USAGE,
        help_template = HELP,
        subcommand_required = true
    )]
    Session {
        #[command(subcommand)]
        command: SessionCommands,
    },
    /// The DynamoDB table: `table create`.
    #[command(
        override_usage = TABLE_CREATE_USAGE,
        help_template = HELP,
        subcommand_required = true
    )]
    Table {
        #[command(subcommand)]
        command: TableCommands,
    },
    /// Users: `user create`, `user import`.
    #[command(
        override_usage = usage_lines(&[USER_CREATE_USAGE, USER_IMPORT_USAGE]),
        help_template = "usage:{usage}\n\n{about-with-newline}\n{all-args}",
        subcommand_required = true
    )]
    User {
        #[command(subcommand)]
        command: UserCommands,
    },
}

#[derive(Subcommand)]
enum SessionCommands {
    #[command(
        override_usage = MINT_USAGE,
        help_template = HELP,
        about = "Prints one line, neptun-session=..., made with SESSION_SECRET (or, with\n\
                 SESSION_FORMAT=nuxt, sealed with NUXT_SESSION_PASSWORD)."
    )]
    Mint(MintArgs),
}

#[derive(Subcommand)]
enum TableCommands {
    /// Creates the DynamoDB table USERS_TABLE (key pk, on-demand) and waits until it is active.
    #[command(override_usage = TABLE_CREATE_USAGE, help_template = HELP)]
    Create,
}

#[derive(Subcommand)]
enum UserCommands {
    /// Creates one user and prints its JSON.
    #[command(override_usage = USER_CREATE_USAGE, help_template = HELP)]
    Create(UserCreateArgs),
    #[command(
        override_usage = USER_IMPORT_USAGE,
        help_template = HELP,
        about = "Imports users from JSON lines {\"id\":7,\"primary_email\":...,\"password_hash\":...,\"created_at\":...}\n\
                 (password_hash null or absent: a user without a password); ends with\n\
                 {\"imported\":N,\"skipped\":N,\"refused\":N,\"without_password\":N}; exit status 1 if anything was refused."
    )]
    Import(UserImportArgs),
}

#[derive(Args)]
struct ServeArgs {
    /// Where to listen (port 0 picks a free one)
    #[arg(long, value_name = "HOST:PORT", default_value = DEFAULT_ADDR)]
    addr: SocketAddr,
    /// Over which store: memory, or dynamodb (USERS_TABLE and the AWS SDK's variables)
    #[arg(long, value_name = "KIND", value_enum, default_value_t = StoreKind::Memory)]
    store: StoreKind,
    /// Create this user first (repeatable; ids 1, 2, ... over memory)
    #[arg(long, value_name = "EMAIL:PASSWORD")]
    seed: Vec<Seed>,
}

#[derive(Args)]
struct MintArgs {
    /// The user's id
    #[arg(long, value_name = "N")]
    user_id: UserId,
    /// The address the cookie carries
    #[arg(long, value_name = "E")]
    email: Email,
    /// The session version (default: a new user's)
    #[arg(long, value_name = "V", default_value_t = INITIAL_SESSION_VERSION)]
    version: u64,
    /// Lifetime (default SESSION_TTL_SECONDS; negative: already expired)
    #[arg(long, value_name = "SECONDS", allow_negative_numbers = true)]
    expires_in: Option<i64>,
}

#[derive(Args)]
struct UserCreateArgs {
    /// The address (zod's rules)
    #[arg(long, value_name = "E")]
    email: Email,
    /// 8 to 256 characters
    #[arg(long, value_name = "P")]
    password: NewPassword,
    /// Where: dynamodb or memory
    #[arg(long, value_name = "KIND", value_enum, default_value_t = StoreKind::DynamoDb)]
    store: StoreKind,
}

#[derive(Args)]
struct UserImportArgs {
    /// The input (default, or -, standard input)
    #[arg(long, value_name = "PATH")]
    file: Option<PathBuf>,
    /// Where: dynamodb or memory
    #[arg(long, value_name = "KIND", value_enum, default_value_t = StoreKind::DynamoDb)]
    store: StoreKind,
}

/// Which store a command uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// The embedded store: nothing to install, gone when the process ends.
    Memory,
    /// The DynamoDB table named by `USERS_TABLE`.
    DynamoDb,
}

/// Written out rather than derived: a derived one would show the variants' comments as help
/// for each value, which makes clap's `-h` and `--help` print different texts.
impl ValueEnum for StoreKind {
    fn value_variants<'a>() -> &'a [Self] {
        &[Self::Memory, Self::DynamoDb]
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(PossibleValue::new(match self {
            Self::Memory => "memory",
            Self::DynamoDb => "dynamodb",
        }))
    }
}

/// A user to create before serving: `--seed EMAIL:PASSWORD`, split at the first `:`.
#[derive(Debug, Clone)]
pub struct Seed {
    /// The address.
    pub email: Email,
    /// The password (validated; `Debug` redacted).
    pub password: NewPassword,
}

impl FromStr for Seed {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, String> {
        let (address, secret) = raw
            .split_once(':')
            .ok_or("must be EMAIL:PASSWORD (no colon found)")?;
        Ok(Self {
            email: address.parse()?,
            password: secret.parse()?,
        })
    }
}

/// A parsed command line.
#[derive(Debug)]
pub enum Command {
    /// Serve the endpoint.
    Serve {
        /// Where to listen.
        addr: SocketAddr,
        /// The store to serve from.
        store: StoreKind,
        /// Users to create first, in order.
        seeds: Vec<Seed>,
        /// `cargo run` with no arguments: also print a ready-to-paste `curl`.
        demo: bool,
    },
    /// Print a session cookie.
    MintSession {
        /// The user the session is for.
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
        /// The new user's address.
        email: Email,
        /// The new user's password, hashed before it is stored.
        password: NewPassword,
        /// The store to create it in.
        store: StoreKind,
    },
    /// Import users from JSON lines.
    ImportUsers {
        /// The input; `None` is standard input.
        file: Option<PathBuf>,
        /// The store to import into.
        store: StoreKind,
    },
    /// Print this help text (`--help`) and stop.
    Help(String),
}

/// A command line that cannot be run: what is wrong, and the help to print with it.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct UsageError {
    message: String,
    /// The help text of the command the error is about.
    pub usage: String,
}

/// Parses the arguments after the program name.
pub fn parse(args: Vec<OsString>) -> Result<Command, UsageError> {
    let demo = args.is_empty();
    let words: Vec<String> = args
        .iter()
        .map(|arg| arg.to_string_lossy().into_owned())
        .collect();
    let usage_error = |message| UsageError {
        message,
        usage: help_for(&words),
    };
    let args = utf8(args).map_err(usage_error)?;
    let cli = match Cli::try_parse_from(std::iter::once("neptun".to_owned()).chain(args)) {
        Ok(cli) => cli,
        Err(error) if error.kind() == ErrorKind::DisplayHelp => {
            return Ok(Command::Help(
                error.render().to_string().trim_end().to_owned(),
            ));
        }
        // `neptun session` and the like: a group, not a command (its help lists them).
        Err(error) if error.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            return Err(usage_error(format!(
                "incomplete command {:?}",
                words.join(" ")
            )));
        }
        Err(error) => return Err(usage_error(message(&error))),
    };
    Ok(match cli.command {
        None => serve(cli.serve, demo).map_err(usage_error)?,
        Some(Commands::Serve(args)) => serve(args, false).map_err(usage_error)?,
        Some(Commands::Session {
            command: SessionCommands::Mint(args),
        }) => Command::MintSession {
            user_id: args.user_id,
            email: args.email,
            version: args.version,
            expires_in: args.expires_in,
        },
        Some(Commands::Table {
            command: TableCommands::Create,
        }) => Command::CreateTable,
        Some(Commands::User {
            command: UserCommands::Create(args),
        }) => Command::CreateUser {
            email: args.email,
            password: args.password,
            store: args.store,
        },
        Some(Commands::User {
            command: UserCommands::Import(args),
        }) => Command::ImportUsers {
            file: args.file.filter(|file| file.as_os_str() != "-"),
            store: args.store,
        },
    })
}

fn serve(args: ServeArgs, demo: bool) -> Result<Command, String> {
    let mut seeds = args.seed;
    if demo {
        seeds.push(format!("{DEMO_EMAIL}:{DEMO_PASSWORD}").parse()?);
    }
    Ok(Command::Serve {
        addr: args.addr,
        store: args.store,
        seeds,
        demo,
    })
}

/// The arguments as text. clap would refuse one that is not UTF-8 without saying which; this
/// names the flag whose value it is, or its place.
fn utf8(args: Vec<OsString>) -> Result<Vec<String>, String> {
    let mut texts: Vec<String> = Vec::with_capacity(args.len());
    for (place, arg) in args.into_iter().enumerate() {
        match arg.into_string() {
            Ok(text) => texts.push(text),
            Err(raw) => return Err(not_utf8(raw.as_encoded_bytes(), texts.last(), place)),
        }
    }
    Ok(texts)
}

/// The message for `raw`, the first argument that is not UTF-8: the value of which flag it
/// is (`--name=VALUE`, or `--name VALUE` when the argument before it is `--name`), else its
/// place (1 is the first argument).
fn not_utf8(raw: &[u8], previous: Option<&String>, place: usize) -> String {
    let joined = raw
        .strip_prefix(b"--")
        .and_then(|rest| rest.iter().position(|&b| b == b'=').map(|end| &rest[..end]))
        .and_then(|name| std::str::from_utf8(name).ok());
    let separate = previous
        .and_then(|previous| previous.strip_prefix("--"))
        .filter(|name| !name.is_empty() && !name.contains('=') && *name != "help");
    match joined.or(separate) {
        Some(name) => format!("the value of --{name} is not valid UTF-8"),
        None => format!("argument {} is not valid UTF-8", place + 1),
    }
}

/// What is wrong, in one paragraph. A value that failed to parse is not quoted back (it may
/// be a password): the flag and the value's own error say what is wrong with it.
fn message(error: &clap::Error) -> String {
    if error.kind() == ErrorKind::ValueValidation {
        let flag = match error.get(ContextKind::InvalidArg) {
            Some(ContextValue::String(arg)) => arg.split(' ').next().unwrap_or(arg).to_owned(),
            _ => "a flag".to_owned(),
        };
        return match std::error::Error::source(error) {
            Some(why) => format!("{flag}: {why}"),
            None => format!("{flag}: invalid value"),
        };
    }
    let rendered = error.render().to_string();
    let text = rendered.strip_prefix("error: ").unwrap_or(&rendered);
    text.split("\n\n")
        .next()
        .unwrap_or(text)
        .trim_end()
        .to_owned()
}

/// The help text of the command the leading words name: `serve`'s when the arguments start
/// with a flag, the top level's when they name no command.
fn help_for(words: &[String]) -> String {
    let mut root = Cli::command();
    root.build();
    let mut current = &root;
    if words.first().is_some_and(|word| word.starts_with('-')) {
        current = root.find_subcommand("serve").unwrap_or(&root);
    } else {
        for word in words {
            match current.find_subcommand(word) {
                Some(command) => current = command,
                None => break,
            }
        }
    }
    current
        .clone()
        .render_help()
        .to_string()
        .trim_end()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<OsString> {
        line.split_whitespace().map(OsString::from).collect()
    }

    /// The help text `line --help` prints.
    fn help(line: &str) -> String {
        match parse(args(&format!("{line} --help"))) {
            Ok(Command::Help(text)) => text,
            other => panic!("{line} --help: {other:?}"),
        }
    }

    #[test]
    fn the_clap_definition_is_consistent() {
        Cli::command().debug_assert();
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
    fn serve_flags_work_without_the_word_serve_and_stores_have_their_defaults() {
        let Command::Serve {
            addr, store, demo, ..
        } = parse(args("--addr 127.0.0.1:0 --store dynamodb")).unwrap()
        else {
            panic!("serve");
        };
        assert_eq!(
            (addr.to_string().as_str(), store, demo),
            ("127.0.0.1:0", StoreKind::DynamoDb, false)
        );
        let Command::CreateUser { store, .. } =
            parse(args("user create --email a@b.co --password 12345678")).unwrap()
        else {
            panic!("user create");
        };
        assert_eq!(store, StoreKind::DynamoDb);
        let cases = [
            ("user import", None, StoreKind::DynamoDb),
            ("user import --file -", None, StoreKind::DynamoDb),
            (
                "user import --file=in.jsonl --store memory",
                Some("in.jsonl"),
                StoreKind::Memory,
            ),
        ];
        for (line, expected_file, expected_store) in cases {
            let Command::ImportUsers { file, store } = parse(args(line)).unwrap() else {
                panic!("{line}");
            };
            assert_eq!(
                (file, store),
                (expected_file.map(PathBuf::from), expected_store),
                "{line}"
            );
        }
        assert!(matches!(
            parse(args("table create")).unwrap(),
            Command::CreateTable
        ));
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
        // (command, its usage line, the flags its help describes)
        let cases: [(&str, &str, &[&str]); 6] = [
            ("", "neptun user import", &[]),
            ("serve", SERVE_USAGE, &["--addr", "--store", "--seed"]),
            (
                "session mint",
                MINT_USAGE,
                &["--user-id", "--email", "--version", "--expires-in"],
            ),
            ("table create", TABLE_CREATE_USAGE, &[]),
            (
                "user create",
                USER_CREATE_USAGE,
                &["--email", "--password", "--store"],
            ),
            ("user import", USER_IMPORT_USAGE, &["--file", "--store"]),
        ];
        for (line, usage, flags) in cases {
            let text = help(line);
            assert!(text.starts_with("usage:"), "{line}: {text}");
            assert!(text.contains(usage), "{line}: {text}");
            for flag in flags {
                assert!(
                    text.contains(&format!("{flag} <")),
                    "{line}: {flag} in {text}"
                );
            }
        }
        let top = help("");
        for usage in [
            SERVE_USAGE,
            MINT_USAGE,
            TABLE_CREATE_USAGE,
            USER_CREATE_USAGE,
            USER_IMPORT_USAGE,
        ] {
            assert!(top.contains(usage), "{usage} in {top}");
        }
        for (line, same_as) in [
            ("-h", ""),
            ("serve --addr 127.0.0.1:0 -h", "serve"),
            ("session mint -h", "session mint"),
        ] {
            let Ok(Command::Help(text)) = parse(args(line)) else {
                panic!("{line}");
            };
            assert_eq!(text, help(same_as), "{line}");
        }
    }

    #[test]
    fn bad_arguments_are_usage_errors_naming_the_flag_never_panics() {
        // (arguments, the start of the message, the usage line of the help printed with it)
        let cases = [
            (
                "serve --port 3000",
                "unexpected argument '--port'",
                SERVE_USAGE,
            ),
            (
                "serve --addr",
                "a value is required for '--addr",
                SERVE_USAGE,
            ),
            (
                "serve --addr localhost",
                "--addr: invalid socket address",
                SERVE_USAGE,
            ),
            (
                "--addr localhost",
                "--addr: invalid socket address",
                SERVE_USAGE,
            ),
            (
                "serve --store redis",
                "invalid value 'redis' for '--store",
                SERVE_USAGE,
            ),
            (
                "serve --addr=1.2.3.4:1 --addr=1.2.3.4:2",
                "the argument '--addr",
                SERVE_USAGE,
            ),
            ("serve extra", "unexpected argument 'extra'", SERVE_USAGE),
            ("serve -p 1", "unexpected argument '-p'", SERVE_USAGE),
            (
                "serve --seed nobody",
                "--seed: must be EMAIL:PASSWORD",
                SERVE_USAGE,
            ),
            (
                "serve --seed not-an-address:password-1",
                "--seed: \"not-an-address\" is not a valid email",
                SERVE_USAGE,
            ),
            (
                "serve --seed a@b.co:short",
                "--seed: the password must be 8 to 256",
                SERVE_USAGE,
            ),
            (
                "session mint --email a@b.co",
                "the following required arguments were not provided",
                MINT_USAGE,
            ),
            (
                "session mint --user-id 0 --email a@b.co",
                "--user-id: \"0\" is not a positive integer",
                MINT_USAGE,
            ),
            (
                "session mint --user-id 1 --email nope",
                "--email: \"nope\" is not a valid email",
                MINT_USAGE,
            ),
            (
                "session mint --user-id 1 --email a@b.co --version x",
                "--version: invalid digit",
                MINT_USAGE,
            ),
            ("session", "incomplete command \"session\"", MINT_USAGE),
            ("user", "incomplete command \"user\"", USER_IMPORT_USAGE),
            (
                "frobnicate",
                "unrecognized subcommand 'frobnicate'",
                "neptun user import",
            ),
            (
                "table drop",
                "unrecognized subcommand 'drop'",
                TABLE_CREATE_USAGE,
            ),
            (
                "user create --email a@b.co",
                "the following required arguments were not provided",
                USER_CREATE_USAGE,
            ),
            (
                "user create --email a@b.co --password short",
                "--password: the password must be 8",
                USER_CREATE_USAGE,
            ),
            (
                "user create --email a@b.co --password=short",
                "--password: the password must be 8",
                USER_CREATE_USAGE,
            ),
            (
                "table create --store memory",
                "unexpected argument '--store'",
                TABLE_CREATE_USAGE,
            ),
        ];
        for (line, expected, usage) in cases {
            let error = parse(args(line)).unwrap_err();
            assert!(error.to_string().starts_with(expected), "{line}: {error}");
            assert!(
                error.usage.starts_with("usage:") && error.usage.contains(usage),
                "{line}: {}",
                error.usage
            );
            assert!(
                !error.to_string().contains("short"),
                "{line}: a password is never echoed: {error}"
            );
        }
    }

    #[test]
    fn arguments_that_are_not_utf8_are_usage_errors_naming_where_they_are() {
        use std::os::unix::ffi::OsStringExt;
        let bad = || OsString::from_vec(vec![0xff, 0xfe]);
        let cases: [(Vec<OsString>, &str); 5] = [
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
            (
                vec!["serve".into(), "--help".into(), bad()],
                "argument 3 is not valid UTF-8",
            ),
        ];
        for (args, expected) in cases {
            let error = parse(args).unwrap_err();
            assert_eq!(error.to_string(), expected);
        }
    }
}
