//! Logging: `tracing` to stderr, filtered by `RUST_LOG` (default `info`); on Lambda by
//! `AWS_LAMBDA_LOG_LEVEL` first, in `AWS_LAMBDA_LOG_FORMAT`.
//!
//! `RUST_LOG` takes `level` and `target=level` directives, comma-separated
//! (`info,neptun_users=debug`). Span and field filters are not supported: the full
//! `EnvFilter` would bring a regex engine into every binary for a feature nobody here uses.
//! Whatever `RUST_LOG` says, no dependency logs at `trace`: there `lambda_runtime` prints
//! every raw event it receives (the plaintext password and the session cookie) and the AWS
//! SDK whole requests (password hashes included). Run at `trace`, the three doors showed no
//! other dependency logging request data (hyper_util's DynamoDB client logs connection-pool
//! events; hyper, lambda_http and vercel_runtime log nothing through `tracing`), but an
//! upgrade could add such output unannounced, so `trace` is this crate's own.

use std::io::IsTerminal;

use tracing_subscriber::filter::{FilterFn, LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// The filter `RUST_LOG` asks for. Targets it does not name log at its bare level, or at
/// `info` when it gives none; unset or unreadable means `info`.
pub fn filter(directives: Option<&str>) -> Targets {
    let targets = directives
        .and_then(|d| d.parse::<Targets>().ok())
        .unwrap_or_default();
    match targets.default_level() {
        Some(_) => targets,
        None => targets.with_default(LevelFilter::INFO),
    }
}

/// Installs the global subscriber once; later calls are no-ops. `json` selects one JSON
/// object per line (for CloudWatch and Vercel's log drains) over the human format.
pub fn init(json: bool) {
    install(std::env::var("RUST_LOG").ok().as_deref(), json);
}

/// [`init`] for the Lambda function, which follows Lambda's own logging controls first:
/// `AWS_LAMBDA_LOG_LEVEL` (when Lambda sets it, over `RUST_LOG`) and `AWS_LAMBDA_LOG_FORMAT`
/// (`JSON`, the default here, or `Text`).
pub fn init_lambda() {
    let var = |name: &str| std::env::var(name).ok();
    let (directives, json) = lambda_settings(
        var("AWS_LAMBDA_LOG_LEVEL").as_deref(),
        var("AWS_LAMBDA_LOG_FORMAT").as_deref(),
        var("RUST_LOG"),
    );
    install(directives.as_deref(), json);
}

/// The filter directives and whether to log JSON, from Lambda's variables and `RUST_LOG`.
/// Lambda's levels are `TRACE`..`ERROR` and `FATAL`, which `tracing` calls `error`.
fn lambda_settings(
    level: Option<&str>,
    format: Option<&str>,
    rust_log: Option<String>,
) -> (Option<String>, bool) {
    let level = level
        .map(str::trim)
        .filter(|level| !level.is_empty())
        .map(|level| match level.to_ascii_lowercase().as_str() {
            "fatal" => "error".to_owned(),
            other => other.to_owned(),
        });
    let json = !format.is_some_and(|f| f.trim().eq_ignore_ascii_case("text"));
    (level.or(rust_log), json)
}

fn install(directives: Option<&str>, json: bool) {
    let filter = filter(directives);
    let human = (!json).then(|| {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal())
            .with_target(false)
    });
    let machine = json.then(|| {
        tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .without_time()
            .with_writer(std::io::stderr)
            .with_target(false)
    });
    let _ = tracing_subscriber::registry()
        .with(human)
        .with(machine)
        .with(filter)
        .with(without_dependency_trace())
        .try_init();
}

/// The filter every subscriber of this crate carries, whatever the level filter allows: no
/// `trace` events or spans from dependencies (see the module's documentation).
pub fn without_dependency_trace() -> FilterFn<fn(&tracing::Metadata<'_>) -> bool> {
    FilterFn::new(|meta| !is_dependency_trace(*meta.level(), meta.target()))
}

/// Whether this is a `trace` event or span of another crate than this one.
fn is_dependency_trace(level: tracing::Level, target: &str) -> bool {
    let ours = target == "neptun_users" || target.starts_with("neptun_users::");
    level == tracing::Level::TRACE && !ours
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    #[test]
    fn dependencies_never_log_at_trace() {
        let cases = [
            (
                Level::TRACE,
                "aws_smithy_runtime::client::orchestrator",
                true,
            ),
            (Level::TRACE, "aws_sdk_dynamodb::operation", true),
            (Level::TRACE, "lambda_runtime::layers::api_response", true),
            (Level::TRACE, "lambda_runtime_api_client", true),
            (Level::TRACE, "lambda_http", true),
            (Level::TRACE, "hyper_util::client::legacy::pool", true),
            (Level::TRACE, "hyper", true),
            (Level::TRACE, "vercel_runtime", true),
            (Level::TRACE, "neptun_users_fake::x", true),
            (
                Level::DEBUG,
                "aws_smithy_runtime::client::orchestrator",
                false,
            ),
            (Level::DEBUG, "lambda_runtime::runtime", false),
            (Level::TRACE, "neptun_users::handler", false),
            (Level::TRACE, "neptun_users", false),
        ];
        for (level, target, blocked) in cases {
            assert_eq!(
                is_dependency_trace(level, target),
                blocked,
                "{level} {target}"
            );
        }
    }

    #[test]
    fn lambdas_log_level_and_format_come_before_rust_log() {
        let rust_log = || Some("warn,neptun_users=debug".to_owned());
        let cases = [
            ((None, None), (Some("warn,neptun_users=debug"), true)),
            ((Some("DEBUG"), None), (Some("debug"), true)),
            ((Some("FATAL"), Some("JSON")), (Some("error"), true)),
            (
                (Some(""), Some("Text")),
                (Some("warn,neptun_users=debug"), false),
            ),
            ((Some("TRACE"), Some("text")), (Some("trace"), false)),
        ];
        for ((level, format), (directives, json)) in cases {
            assert_eq!(
                lambda_settings(level, format, rust_log()),
                (directives.map(str::to_owned), json),
                "{level:?} {format:?}"
            );
        }
        assert_eq!(lambda_settings(None, None, None), (None, true));
        // Lambda's TRACE still never lets a dependency's trace output through.
        let (directives, _) = lambda_settings(Some("TRACE"), None, None);
        let filter = filter(directives.as_deref());
        assert!(filter.would_enable("neptun_users::handler", &Level::TRACE));
        assert!(is_dependency_trace(
            Level::TRACE,
            "lambda_runtime::layers::api_response"
        ));
    }

    #[test]
    fn rust_log_sets_levels_per_target_with_info_by_default() {
        let cases = [
            (None, "neptun_users", Level::INFO, true),
            (None, "neptun_users", Level::DEBUG, false),
            (Some("warn"), "neptun_users", Level::INFO, false),
            (
                Some("info,neptun_users=debug"),
                "neptun_users::handler",
                Level::DEBUG,
                true,
            ),
            (
                Some("info,neptun_users=debug"),
                "aws_smithy_runtime",
                Level::DEBUG,
                false,
            ),
            (
                Some("neptun_users=debug"),
                "aws_smithy_runtime",
                Level::INFO,
                true,
            ),
            (Some("not a filter!"), "neptun_users", Level::INFO, true),
        ];
        for (directives, target, level, enabled) in cases {
            assert_eq!(
                filter(directives).would_enable(target, &level),
                enabled,
                "{directives:?} {target} {level}"
            );
        }
    }
}
