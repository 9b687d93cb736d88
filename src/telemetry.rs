//! Logging: `tracing` to stderr, filtered by `RUST_LOG` (default `info`); on Lambda by
//! `AWS_LAMBDA_LOG_LEVEL` first, in `AWS_LAMBDA_LOG_FORMAT`.
//!
//! `RUST_LOG` takes `level` and `target=level` directives, comma-separated
//! (`info,neptun_users=debug`). Span and field filters are not supported: the full
//! `EnvFilter` would bring a regex engine into every binary for a feature nobody here uses.
//! Whatever `RUST_LOG` says, no dependency logs at `trace`: there `lambda_runtime` prints
//! every raw event it receives (the plaintext password and the session cookie) and the AWS
//! SDK whole requests (password hashes included). Run at `trace`, the three entry points showed no
//! other dependency logging request data (hyper_util's DynamoDB client logs connection-pool
//! events; hyper, lambda_http and vercel_runtime log nothing through `tracing`), but an
//! upgrade could add such output unannounced, so `trace` is this crate's own.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::io::{IsTerminal, Write as _};
use std::sync::Arc;

use tracing::field::{Field, Visit};
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
    let format = if json {
        LineFormat::Json
    } else {
        LineFormat::Text {
            ansi: std::io::stderr().is_terminal(),
        }
    };
    let _ = tracing_subscriber::registry()
        .with(LogLines::new(format, write_stderr))
        .with(filter(directives))
        .with(without_dependency_trace())
        .try_init();
}

/// One whole line to stderr, in one `write` where the line fits the pipe's atomic size, so
/// lines from different threads never interleave.
fn write_stderr(line: &[u8]) {
    let _ = std::io::stderr().lock().write_all(line);
}

/// How [`LogLines`] writes an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineFormat {
    /// One JSON object per line: `level`, `message` and the event's fields at the top level,
    /// no timestamp (the platform adds its own).
    Json,
    /// `2026-12-03T13:50:16.123456Z  INFO request method=PATCH status=200 …` for people;
    /// `ansi` colours the level.
    Text {
        /// Colour the level (stderr is a terminal).
        ansi: bool,
    },
}

/// The layer that writes every enabled event as one line. It replaces `tracing_subscriber`'s
/// `fmt` layer, whose generic formatting (a `Debug` visitor per field, a timestamp formatted
/// from scratch, styling wrappers) was a sixth of the local server's CPU per request in a
/// profile: here each field is written straight into a reused buffer and the line goes out in
/// one write. Spans are not printed: the handler logs its request's id and client on its own
/// lines (section "Logs" of the contract).
pub struct LogLines {
    format: LineFormat,
    write: Sink,
}

/// Where [`LogLines`] hands each finished line.
type Sink = Arc<dyn Fn(&[u8]) + Send + Sync>;

impl LogLines {
    /// Lines in `format`, each handed whole, newline included, to `write` (lines logged
    /// inside [`in_one_write`] together, in one call).
    pub fn new(format: LineFormat, write: impl Fn(&[u8]) + Send + Sync + 'static) -> Self {
        Self {
            format,
            write: Arc::new(write),
        }
    }
}

/// Lines logged on this thread inside [`in_one_write`], not written yet.
#[derive(Default)]
struct Gathered {
    active: bool,
    lines: Vec<u8>,
    /// The sink of the subscriber that logged them, kept for the next request.
    sink: Option<Sink>,
}

impl Gathered {
    /// Hands the gathered lines to their sink in one call. A sink that logs itself is not
    /// gathered into this buffer while it is borrowed: [`gather`] writes such a line at once.
    fn write_out(&mut self) {
        if let Some(sink) = &self.sink
            && !self.lines.is_empty()
        {
            sink(&self.lines);
        }
        self.lines.clear();
    }
}

thread_local! {
    static GATHERED: RefCell<Gathered> = RefCell::new(Gathered::default());
}

/// Runs `log` and writes the lines it logs on this thread in one write when it returns (or
/// unwinds), in the order logged. A request's audit line and its request line go out this
/// way: one system call instead of two per successful request, and the two lines stay
/// adjacent. Nested calls join the outermost.
pub fn in_one_write<T>(log: impl FnOnce() -> T) -> T {
    /// Writes what was gathered when the outermost call ends, however it ends.
    struct Flush;
    impl Drop for Flush {
        fn drop(&mut self) {
            GATHERED.with_borrow_mut(|gathered| {
                gathered.active = false;
                gathered.write_out();
            });
        }
    }
    let outermost =
        GATHERED.with_borrow_mut(|gathered| !std::mem::replace(&mut gathered.active, true));
    if !outermost {
        return log();
    }
    let _flush = Flush;
    log()
}

/// Gathers `line` if this thread is inside [`in_one_write`]; otherwise hands it back.
fn gather<'a>(line: &'a [u8], sink: &Sink) -> Option<&'a [u8]> {
    GATHERED.with(|gathered| {
        let Ok(mut gathered) = gathered.try_borrow_mut() else {
            return Some(line);
        };
        if !gathered.active {
            return Some(line);
        }
        // Lines for another subscriber's sink (a test's own) go out before this one's.
        if !gathered
            .sink
            .as_ref()
            .is_some_and(|kept| Arc::ptr_eq(kept, sink))
        {
            gathered.write_out();
            gathered.sink = Some(Arc::clone(sink));
        }
        gathered.lines.extend_from_slice(line);
        None
    })
}

impl<S> tracing_subscriber::Layer<S> for LogLines
where
    S: tracing::Subscriber,
{
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        thread_local! {
            static LINE: RefCell<String> = RefCell::new(String::with_capacity(512));
        }
        LINE.with(|line| {
            // An event logged while this thread formats one (from a field's `Debug`) is
            // written on its own, from a fresh buffer.
            let mut fresh = String::new();
            let mut reused = line.try_borrow_mut();
            let line = match reused.as_deref_mut() {
                Ok(line) => line,
                Err(_) => &mut fresh,
            };
            line.clear();
            let level = *event.metadata().level();
            match self.format {
                LineFormat::Json => {
                    line.push_str(r#"{"level":""#);
                    line.push_str(level.as_str());
                    line.push('"');
                    event.record(&mut JsonFields(line));
                    line.push('}');
                }
                LineFormat::Text { ansi } => {
                    push_timestamp(line);
                    line.push(' ');
                    let (colour, plain) = match level {
                        tracing::Level::ERROR => ("\x1b[31m", "ERROR"),
                        tracing::Level::WARN => ("\x1b[33m", " WARN"),
                        tracing::Level::INFO => ("\x1b[32m", " INFO"),
                        tracing::Level::DEBUG => ("\x1b[34m", "DEBUG"),
                        tracing::Level::TRACE => ("\x1b[35m", "TRACE"),
                    };
                    if ansi {
                        line.push_str(colour);
                        line.push_str(plain);
                        line.push_str("\x1b[0m");
                    } else {
                        line.push_str(plain);
                    }
                    event.record(&mut TextFields(line));
                }
            }
            line.push('\n');
            if let Some(line) = gather(line.as_bytes(), &self.write) {
                (self.write)(line);
            }
        });
    }
}

/// The `Visit` methods both formats share: integers and booleans written bare after the
/// field's name (`self.name(field)`), into the line being built (`self.0`).
macro_rules! unquoted_scalars {
    () => {
        fn record_u64(&mut self, field: &Field, value: u64) {
            self.name(field);
            self.0.push_str(itoa::Buffer::new().format(value));
        }

        fn record_i64(&mut self, field: &Field, value: i64) {
            self.name(field);
            self.0.push_str(itoa::Buffer::new().format(value));
        }

        fn record_bool(&mut self, field: &Field, value: bool) {
            self.name(field);
            self.0.push_str(if value { "true" } else { "false" });
        }
    };
}

/// Writes fields as `,"name":value`.
struct JsonFields<'a>(&'a mut String);

impl JsonFields<'_> {
    fn name(&mut self, field: &Field) {
        self.0.push_str(",\"");
        self.0.push_str(field.name());
        self.0.push_str("\":");
    }
}

impl Visit for JsonFields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.name(field);
        push_json_string(self.0, value);
    }

    unquoted_scalars!();

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.name(field);
        if value.is_finite() {
            let _ = write!(self.0, "{value}");
        } else {
            self.0.push_str("null");
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.name(field);
        self.0.push('"');
        let _ = write!(JsonEscaped(self.0), "{value:?}");
        self.0.push('"');
    }
}

/// Writes the message, then fields as ` name=value`, quoting values that need it.
struct TextFields<'a>(&'a mut String);

impl TextFields<'_> {
    fn name(&mut self, field: &Field) {
        self.0.push(' ');
        self.0.push_str(field.name());
        self.0.push('=');
    }
}

impl Visit for TextFields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0.push(' ');
            self.0.push_str(value);
            return;
        }
        let plain = !value.is_empty()
            && value
                .bytes()
                .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\' && b != b'=');
        if plain {
            self.name(field);
            self.0.push_str(value);
        } else {
            self.record_debug(field, &value);
        }
    }

    unquoted_scalars!();

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, " {value:?}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }
}

/// `value` as a JSON string, quotes included.
fn push_json_string(line: &mut String, value: &str) {
    line.push('"');
    let _ = JsonEscaped(line).write_str(value);
    line.push('"');
}

/// Escapes what passes through it for the inside of a JSON string.
struct JsonEscaped<'a>(&'a mut String);

impl std::fmt::Write for JsonEscaped<'_> {
    fn write_str(&mut self, text: &str) -> std::fmt::Result {
        let mut rest = text;
        while let Some(at) = rest.find(|c: char| c == '"' || c == '\\' || c < ' ') {
            self.0.push_str(&rest[..at]);
            let c = rest[at..].chars().next().unwrap_or(' ');
            match c {
                '"' => self.0.push_str("\\\""),
                '\\' => self.0.push_str("\\\\"),
                '\n' => self.0.push_str("\\n"),
                '\r' => self.0.push_str("\\r"),
                '\t' => self.0.push_str("\\t"),
                c => {
                    let _ = write!(self.0, "\\u{:04x}", u32::from(c));
                }
            }
            rest = &rest[at + c.len_utf8()..];
        }
        self.0.push_str(rest);
        Ok(())
    }
}

/// The current UTC time to the microsecond, RFC 3339. The part up to the second is
/// formatted by `time` once per second and kept.
fn push_timestamp(line: &mut String) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    push_time(line, now);
}

/// [`push_timestamp`] for `now` since the Unix epoch.
fn push_time(line: &mut String, now: std::time::Duration) {
    thread_local! {
        static SECOND: RefCell<(i64, String)> = const { RefCell::new((i64::MIN, String::new())) };
    }
    let seconds = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
    SECOND.with(|second| {
        let mut second = second.borrow_mut();
        if second.0 != seconds {
            let formatted = time::OffsetDateTime::from_unix_timestamp(seconds)
                .ok()
                .and_then(|t| {
                    t.format(&time::format_description::well_known::Rfc3339)
                        .ok()
                })
                .unwrap_or_default();
            // `…:16Z` without its zone, for the fraction to follow.
            *second = (seconds, formatted.trim_end_matches('Z').to_owned());
        }
        line.push_str(&second.1);
    });
    // `.000123Z`: the microseconds, six digits.
    let mut digits = [b'0'; 6];
    let mut micros = now.subsec_micros();
    for digit in digits.iter_mut().rev() {
        *digit = b'0' + (micros % 10) as u8;
        micros /= 10;
    }
    line.push('.');
    line.push_str(std::str::from_utf8(&digits).unwrap_or("000000"));
    line.push('Z');
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

    /// Each call a subscriber with [`LogLines`] in `format` makes to its sink while `log` runs.
    fn writes(format: LineFormat, log: impl FnOnce()) -> Vec<String> {
        use std::sync::{Arc, Mutex};
        let written = Arc::new(Mutex::new(Vec::<String>::new()));
        let sink = Arc::clone(&written);
        let subscriber = tracing_subscriber::registry().with(LogLines::new(format, move |line| {
            sink.lock()
                .unwrap()
                .push(String::from_utf8(line.to_vec()).unwrap());
        }));
        tracing::subscriber::with_default(subscriber, log);
        written.lock().unwrap().clone()
    }

    /// The lines a subscriber with [`LogLines`] in `format` writes while `log` runs.
    fn lines(format: LineFormat, log: impl FnOnce()) -> Vec<String> {
        writes(format, log)
            .concat()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn lines_logged_in_one_write_go_out_together_in_order() {
        let line = |message: &str| format!("{{\"level\":\"INFO\",\"message\":\"{message}\"}}\n");
        type Log = Box<dyn FnOnce()>;
        // (what is logged, the sink's calls, why)
        let cases: [(Log, Vec<String>, &str); 5] = [
            (
                Box::new(|| {
                    tracing::info!("a");
                    tracing::info!("b");
                }),
                vec![line("a"), line("b")],
                "outside: one write per line",
            ),
            (
                Box::new(|| {
                    in_one_write(|| {
                        tracing::info!("a");
                        tracing::info!("b");
                    });
                    tracing::info!("c");
                }),
                vec![line("a") + &line("b"), line("c")],
                "inside: one write, and nothing held after",
            ),
            (
                Box::new(|| {
                    in_one_write(|| {
                        tracing::info!("a");
                        in_one_write(|| tracing::info!("b"));
                        tracing::info!("c");
                    });
                }),
                vec![line("a") + &line("b") + &line("c")],
                "nested: joins the outermost",
            ),
            (
                Box::new(|| in_one_write(|| ())),
                vec![],
                "nothing logged: no write",
            ),
            (
                Box::new(|| {
                    let unwound = std::panic::catch_unwind(|| {
                        in_one_write(|| {
                            tracing::info!("a");
                            panic!("while logging");
                        })
                    });
                    assert!(unwound.is_err());
                    tracing::info!("b");
                }),
                vec![line("a"), line("b")],
                "a panic still writes what was gathered",
            ),
        ];
        for (log, expected, why) in cases {
            assert_eq!(writes(LineFormat::Json, log), expected, "{why}");
        }
    }

    #[test]
    fn lines_gathered_for_two_subscribers_each_reach_their_own_sink() {
        use std::sync::{Arc, Mutex};
        let line = |message: &str| format!("{{\"level\":\"INFO\",\"message\":\"{message}\"}}\n");
        let inner = Arc::new(Mutex::new(Vec::<String>::new()));
        let sink = Arc::clone(&inner);
        let other =
            tracing_subscriber::registry().with(LogLines::new(LineFormat::Json, move |l| {
                sink.lock()
                    .unwrap()
                    .push(String::from_utf8(l.to_vec()).unwrap());
            }));
        let outer = writes(LineFormat::Json, || {
            in_one_write(|| {
                tracing::info!("a");
                tracing::subscriber::with_default(other, || tracing::info!("b"));
                tracing::info!("c");
            });
        });
        // "a" goes out when "b" arrives for another sink, "b" when "c" comes back for the first.
        assert_eq!(outer, [line("a"), line("c")]);
        assert_eq!(*inner.lock().unwrap(), [line("b")]);
    }

    #[test]
    fn json_lines_are_one_object_each_with_every_field_at_the_top_level() {
        let awkward = "quote \" backslash \\ newline \n tab \t bell \u{7} é";
        type Log = Box<dyn FnOnce()>;
        let cases: [(&str, Log, serde_json::Value); 4] = [
            (
                "a request line",
                Box::new(|| {
                    tracing::info!(
                        method = %http::Method::PATCH,
                        path = "/api/users/1",
                        status = 200u16,
                        user_id = Some(7u64),
                        request_id = None::<&str>,
                        latency_us = 12u64,
                        "request"
                    )
                }),
                serde_json::json!({"level": "INFO", "message": "request", "method": "PATCH",
                    "path": "/api/users/1", "status": 200, "user_id": 7, "latency_us": 12}),
            ),
            (
                "strings that need escaping",
                Box::new(move || tracing::warn!(reason = awkward, "a {} message", "formatted")),
                serde_json::json!({"level": "WARN", "reason": awkward, "message": "a formatted message"}),
            ),
            (
                "negative numbers, booleans, floats and Debug values",
                Box::new(
                    || tracing::error!(n = -3i64, yes = true, f = 0.5f64, d = ?Some("x"), "m"),
                ),
                serde_json::json!({"level": "ERROR", "n": -3, "yes": true, "f": 0.5, "d": "Some(\"x\")", "message": "m"}),
            ),
            (
                "a float JSON cannot carry",
                Box::new(|| tracing::info!(f = f64::NAN, "m")),
                serde_json::json!({"level": "INFO", "f": null, "message": "m"}),
            ),
        ];
        for (why, log, expected) in cases {
            let lines = lines(LineFormat::Json, log);
            assert_eq!(lines.len(), 1, "{why}: {lines:?}");
            let line: serde_json::Value = serde_json::from_str(&lines[0])
                .unwrap_or_else(|e| panic!("{why}: {e}: {}", lines[0]));
            assert_eq!(line, expected, "{why}");
        }
    }

    #[test]
    fn text_lines_carry_a_timestamp_the_level_the_message_and_quote_what_needs_it() {
        let lines = lines(LineFormat::Text { ansi: false }, || {
            tracing::info!(
                path = "/api/users/1",
                status = 200u16,
                fields = "",
                offset = -3i64,
                fresh = true,
                "request"
            );
            tracing::warn!(reason = "two words", "accept failed");
        });
        assert_eq!(lines.len(), 2, "{lines:?}");
        let (time, rest) = lines[0].split_once(' ').unwrap();
        let parsed =
            time::OffsetDateTime::parse(time, &time::format_description::well_known::Rfc3339)
                .unwrap_or_else(|e| panic!("{time}: {e}"));
        let age = time::OffsetDateTime::now_utc() - parsed;
        assert!(age.whole_seconds().abs() < 60, "{time} is now");
        assert_eq!(time.len(), "2026-12-03T13:50:16.123456Z".len(), "{time}");
        assert_eq!(
            rest,
            r#" INFO request path=/api/users/1 status=200 fields="" offset=-3 fresh=true"#
        );
        assert!(
            lines[1].ends_with(r#" WARN accept failed reason="two words""#),
            "{}",
            lines[1]
        );
    }

    #[test]
    fn timestamps_are_rfc3339_to_the_microsecond_across_seconds() {
        use std::time::Duration;
        let cases = [
            (
                Duration::from_secs(1_796_305_816),
                "2026-12-03T13:50:16.000000Z",
            ),
            (
                Duration::new(1_796_305_816, 5_999),
                "2026-12-03T13:50:16.000005Z",
            ),
            (
                Duration::new(1_796_305_816, 123_456_789),
                "2026-12-03T13:50:16.123456Z",
            ),
            (
                Duration::new(1_796_305_816, 999_999_999),
                "2026-12-03T13:50:16.999999Z",
            ),
            (
                Duration::new(1_796_305_817, 40_000),
                "2026-12-03T13:50:17.000040Z",
            ),
            (Duration::new(0, 1_000), "1970-01-01T00:00:00.000001Z"),
            (
                Duration::new(1_796_305_816, 100_000_000),
                "2026-12-03T13:50:16.100000Z",
            ),
        ];
        for (now, expected) in cases {
            let mut line = String::from("x");
            push_time(&mut line, now);
            assert_eq!(line, format!("x{expected}"), "{now:?}");
        }
    }

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
