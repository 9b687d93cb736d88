//! The whole-system benchmark: every figure of the performance table, each measured against a
//! baseline in the same run, printed and written to BENCHMARKS.md. Run through `scripts/bench`,
//! which builds the release binaries and baselines first.
//!
//! Honesty rules: the same load tool (wrk), connection count and duration for subject and
//! baseline; warm-up runs are discarded; every figure is the median of several runs.

// The stand-in Secrets Manager of the deploy tests; the bench needs only its GetSecretValue.
#[allow(dead_code)]
#[path = "../tests/api/common/aws_stand_in.rs"]
mod aws_stand_in;
#[path = "../tests/api/common/runtime_api.rs"]
mod runtime_api;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const SECRET: &str = "bench-secret-bench-secret-bench-secret-01";
const RUNS: usize = 3;
const WRK_SECONDS: u32 = 5;
const WRK_CONNECTIONS: u32 = 16;
const COLD_STARTS: usize = 31;
const PASSWORD_CHANGES: usize = 60;
const BURST: usize = 64;
const MIB: f64 = 1024.0 * 1024.0;

struct Row {
    figure: String,
    subject: String,
    baseline: String,
    ratio: String,
    target: String,
    ok: bool,
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn release(name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/release")
        .join(name);
    assert!(
        path.exists(),
        "{} is missing: run scripts/bench",
        path.display()
    );
    path
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn percentile(values: &mut [f64], p: f64) -> f64 {
    values.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * values.len() as f64).ceil() as usize;
    values[rank.clamp(1, values.len()) - 1]
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `neptun serve` over the memory store with `seeds` users; returns the process, URL and
/// one cookie per seeded user.
fn serve(seeds: usize) -> (Killed, String, Vec<String>) {
    let mut command = Command::new(release("neptun"));
    command.args(["serve", "--addr", "127.0.0.1:0"]);
    for i in 0..seeds {
        command.args([
            "--seed",
            &format!("user{i}@example.com:initial-password-{i}"),
        ]);
    }
    let mut server = Killed(
        command
            .env("SESSION_SECRET", SECRET)
            .env("COOKIE_SECURE", "false")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let stdout = std::io::BufReader::new(server.0.stdout.take().unwrap());
    let mut cookies = Vec::new();
    for line in std::io::BufRead::lines(stdout) {
        let line: Value = serde_json::from_str(&line.unwrap()).unwrap();
        if let Some(url) = line["listening"].as_str() {
            return (server, url.to_owned(), cookies);
        }
        cookies.push(line["cookie"].as_str().unwrap().to_owned());
    }
    panic!("serve exited early");
}

/// Requests per second from one wrk run of 2xx answers.
fn wrk(url: &str, script: Option<&Path>, seconds: u32) -> f64 {
    wrk_answers(url, script, seconds, false)
}

/// [`wrk`]; with `errors_expected` the answers may be non-2xx (a figure of an error path).
fn wrk_answers(url: &str, script: Option<&Path>, seconds: u32, errors_expected: bool) -> f64 {
    wrk_run(url, script, seconds, errors_expected).rate
}

/// What one wrk run measured.
struct WrkRun {
    /// Requests per second.
    rate: f64,
    /// The 99th percentile latency, in milliseconds.
    p99: f64,
    /// Requests answered in the whole run.
    requests: f64,
}

/// One wrk run.
fn wrk_run(url: &str, script: Option<&Path>, seconds: u32, errors_expected: bool) -> WrkRun {
    let mut command = Command::new("wrk");
    command.args([
        "--latency",
        "-t1",
        &format!("-c{WRK_CONNECTIONS}"),
        &format!("-d{seconds}s"),
    ]);
    if let Some(script) = script {
        command.arg("-s").arg(script);
    }
    let output = command
        .arg(url)
        .output()
        .expect("wrk (apt-get install wrk)");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        errors_expected || !text.contains("Non-2xx"),
        "wrk saw errors:\n{text}"
    );
    let rate = text
        .lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no Requests/sec in wrk output:\n{text}"));
    let p99 = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("99%"))
        .and_then(|v| wrk_millis(v.trim()))
        .unwrap_or_else(|| panic!("no 99% latency in wrk output:\n{text}"));
    let requests = text
        .lines()
        .find_map(|l| l.trim().split_once(" requests in "))
        .and_then(|(n, _)| n.parse().ok())
        .unwrap_or_else(|| panic!("no request count in wrk output:\n{text}"));
    WrkRun {
        rate,
        p99,
        requests,
    }
}

/// CPU time (user + kernel, every thread) the process `pid` has used so far, in seconds:
/// fields 14 and 15 of `/proc/PID/stat`, in clock ticks.
fn cpu_seconds(pid: u32) -> f64 {
    static TICKS_PER_SECOND: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    let ticks_per_second = *TICKS_PER_SECOND.get_or_init(|| {
        let output = Command::new("getconf").arg("CLK_TCK").output().unwrap();
        String::from_utf8_lossy(&output.stdout)
            .trim()
            .parse()
            .unwrap()
    });
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // The command name (field 2) may hold spaces; the fields after it never do.
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after_name.split(' ').collect();
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / ticks_per_second
}

/// One wrk run against the server `pid`, and the server's CPU per request it answered, in µs.
fn wrk_run_costed(
    pid: u32,
    url: &str,
    script: Option<&Path>,
    errors_expected: bool,
) -> (WrkRun, f64) {
    let before = cpu_seconds(pid);
    let run = wrk_run(url, script, WRK_SECONDS, errors_expected);
    let used = cpu_seconds(pid) - before;
    let per_request = used * 1e6 / run.requests;
    (run, per_request)
}

/// The information row for the servers' CPU per request in the runs of a throughput figure.
fn server_cpu_row(what: &str, subject: Vec<f64>, baseline: Vec<f64>, baseline_name: &str) -> Row {
    let (subject, baseline) = (median(subject), median(baseline));
    Row {
        figure: format!(
            "{what}: the server's CPU per request in the same wrk runs (user + kernel, every thread, /proc/PID/stat; median of the runs)"
        ),
        subject: format!("{subject:.1} µs"),
        baseline: format!("{baseline:.1} µs ({baseline_name})"),
        ratio: format!("{:.2}", subject / baseline),
        target: "information".into(),
        ok: true,
    }
}

/// A wrk duration (`812.00us`, `1.23ms`, `1.01s`) in milliseconds.
fn wrk_millis(text: &str) -> Option<f64> {
    let (number, scale) = if let Some(n) = text.strip_suffix("us") {
        (n, 1e-3)
    } else if let Some(n) = text.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1e3)
    } else {
        return None;
    };
    Some(number.parse::<f64>().ok()? * scale)
}

fn throughput(dir: &Path, rows: &mut Vec<Row>) {
    // Baseline and subject get the very same requests (method, cookie, body) from the same
    // script, so the ratio is the cost of what the handler does with them.
    let script = dir.join("email.lua");
    let (server, url, cookies) = serve(1);
    std::fs::write(
        &script,
        format!(
            r#"wrk.method = "PATCH"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Cookie"] = "{}"
local n = 0
request = function()
  n = n + 1
  return wrk.format(nil, nil, nil, '{{"email":"user0-' .. (n % 2) .. '@example.com"}}')
end
"#,
            cookies[0]
        ),
    )
    .unwrap();
    // The baseline answers every request with the subject's own response, recorded once
    // (status, headers, Set-Cookie, body), so both put the same bytes on the wire and the
    // ratio is the cost of the work behind them. Runs alternate to spread drift evenly.
    let sample = Command::new("curl")
        .args([
            "-s",
            "-i",
            "-X",
            "PATCH",
            "-H",
            "Content-Type: application/json",
            "-H",
        ])
        .arg(format!("Cookie: {}", cookies[0]))
        .args(["-d", r#"{"email":"user0-1@example.com"}"#])
        .arg(format!("{url}/api/users/1"))
        .output()
        .expect("curl");
    let recorded = dir.join("response.http");
    std::fs::write(&recorded, &sample.stdout).unwrap();
    let port = free_port();
    let baseline_server = Killed(
        Command::new(release("examples/baseline_hyper"))
            .arg(format!("127.0.0.1:{port}"))
            .arg(&recorded)
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    std::thread::sleep(Duration::from_millis(300));
    let baseline_url = format!("http://127.0.0.1:{port}/api/users/1");
    let subject_url = format!("{url}/api/users/1");
    for url in [&baseline_url, &subject_url] {
        wrk(url, Some(&script), 1); // warm-up, discarded
    }
    let (mut baselines, mut subjects) = (Vec::new(), Vec::new());
    let (mut baseline_p99s, mut subject_p99s) = (Vec::new(), Vec::new());
    let (mut baseline_cpu, mut subject_cpu) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let (run, cpu) =
            wrk_run_costed(baseline_server.0.id(), &baseline_url, Some(&script), false);
        baselines.push(run.rate);
        baseline_p99s.push(run.p99);
        baseline_cpu.push(cpu);
        let (run, cpu) = wrk_run_costed(server.0.id(), &subject_url, Some(&script), false);
        subjects.push(run.rate);
        subject_p99s.push(run.p99);
        subject_cpu.push(cpu);
    }
    let (baseline, subject) = (median(baselines), median(subjects));
    let ratio = subject / baseline;
    rows.push(Row {
        figure: format!("local server throughput, email-only updates (wrk, {WRK_CONNECTIONS} connections, {WRK_SECONDS} s, keep-alive, same requests to both)"),
        subject: format!("{subject:.0} req/s"),
        baseline: format!("{baseline:.0} req/s (plain hyper, fixed 200 of the same bytes)"),
        ratio: format!("{ratio:.2}"),
        target: "≥ 0.85".into(),
        ok: ratio >= 0.85,
    });
    let (baseline, subject) = (median(baseline_p99s), median(subject_p99s));
    let ratio = subject / baseline;
    rows.push(Row {
        figure: "p99 latency of email-only updates in the same wrk runs (median of the runs' p99)"
            .into(),
        subject: format!("{subject:.2} ms"),
        baseline: format!("{baseline:.2} ms (plain hyper, fixed 200 of the same bytes)"),
        ratio: format!("{ratio:.2}"),
        target: "≤ 2".into(),
        ok: ratio <= 2.0,
    });
    rows.push(server_cpu_row(
        "local server, email-only updates",
        subject_cpu,
        baseline_cpu,
        "plain hyper",
    ));
}

/// A Vercel binary (the function or the baseline) serving on a free `VERCEL_DEV_PORT`, as
/// Vercel's bridge starts it; returns it and its URL once it accepts connections.
fn vercel_server(binary: &Path) -> (Killed, String) {
    let port = free_port();
    let mut command = Command::new(binary);
    lambda_env(&mut command, "unused");
    command.env("VERCEL_DEV_PORT", port.to_string());
    let server = Killed(command.spawn().unwrap());
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(started.elapsed() < Duration::from_secs(10), "not listening");
        std::thread::sleep(Duration::from_millis(5));
    }
    (server, format!("http://127.0.0.1:{port}"))
}

/// With Fluid compute one Vercel instance serves many requests at once, so the entry point's own cost
/// per request is what bounds an instance. The figure drives the release `user_id` binary on
/// `VERCEL_DEV_PORT` (the server `vercel_runtime` runs on Vercel too) and a hello-world
/// `vercel_runtime` with the same requests from the same wrk script. The request is a
/// signed-in PATCH whose body fails validation: the entry point's request conversion and tagging,
/// body reading, the session's HMAC check, ownership, origin and Content-Type checks, JSON
/// parsing and validation, the error body and the log line, every step before the store. The
/// store is left out on purpose: its DynamoDB round trip is network wait, not instance CPU,
/// and over the emulator (moto, Python, one lock) the figure would measure moto.
fn vercel_throughput(dir: &Path, rows: &mut Vec<Row>) {
    let minted = Command::new(release("neptun"))
        .args([
            "session",
            "mint",
            "--user-id",
            "1",
            "--email",
            "user0@example.com",
        ])
        .env("SESSION_SECRET", SECRET)
        .output()
        .unwrap();
    assert!(minted.status.success(), "session mint failed");
    let cookie = String::from_utf8(minted.stdout).unwrap().trim().to_owned();
    let body = r#"{"email":"not-an-email"}"#;
    let script = dir.join("vercel.lua");
    std::fs::write(
        &script,
        format!(
            r#"wrk.method = "PATCH"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Cookie"] = "{cookie}"
wrk.body = '{body}'
"#
        ),
    )
    .unwrap();
    let (subject_server, subject_url) = vercel_server(&release("user_id"));
    let (baseline_server, baseline_url) = vercel_server(&release("examples/baseline_vercel"));
    let (subject_url, baseline_url) = (
        format!("{subject_url}/api/users/1"),
        format!("{baseline_url}/api/users/1"),
    );
    // The subject answers what the figure claims it does.
    let answer = Command::new("curl")
        .args([
            "-s",
            "-X",
            "PATCH",
            "-H",
            "Content-Type: application/json",
            "-H",
        ])
        .arg(format!("Cookie: {cookie}"))
        .args(["-d", body, "-w", " %{http_code}"])
        .arg(&subject_url)
        .output()
        .expect("curl");
    let answer = String::from_utf8_lossy(&answer.stdout);
    assert!(
        answer.ends_with(" 400") && answer.contains("Invalid body(?email, ?password)"),
        "the subject's answer: {answer}"
    );
    for url in [&baseline_url, &subject_url] {
        wrk_answers(url, Some(&script), 1, true); // warm-up, discarded
    }
    let (mut baselines, mut subjects) = (Vec::new(), Vec::new());
    let (mut baseline_cpu, mut subject_cpu) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let (run, cpu) =
            wrk_run_costed(baseline_server.0.id(), &baseline_url, Some(&script), false);
        baselines.push(run.rate);
        baseline_cpu.push(cpu);
        let (run, cpu) = wrk_run_costed(subject_server.0.id(), &subject_url, Some(&script), true);
        subjects.push(run.rate);
        subject_cpu.push(cpu);
    }
    let (baseline, subject) = (median(baselines), median(subjects));
    let ratio = subject / baseline;
    rows.push(Row {
        figure: format!("Vercel entry point throughput, signed-in updates refused by validation (400: every step but the store, which is network wait; wrk, {WRK_CONNECTIONS} connections, {WRK_SECONDS} s, keep-alive, same requests to both)"),
        subject: format!("{subject:.0} req/s"),
        baseline: format!("{baseline:.0} req/s (hello-world vercel_runtime)"),
        ratio: format!("{ratio:.2}"),
        target: "≥ 0.85".into(),
        ok: ratio >= 0.85,
    });
    rows.push(server_cpu_row(
        "Vercel entry point, refused updates",
        subject_cpu,
        baseline_cpu,
        "hello-world vercel_runtime",
    ));
}

fn argon2_rust_hasher() -> argon2_rust::Hasher {
    neptun_users::password::argon2id().hasher()
}

async fn password_latency(rows: &mut Vec<Row>) {
    // Bare work and password changes over HTTP, interleaved, so drift hits all of them: one
    // bare hash against a plain password change (a read, a hash, a write), and a bare verify
    // plus a bare hash against a change that carries current_password (a read, a verify, a
    // hash, a write).
    let mut hasher = argon2_rust_hasher();
    let (_server, url, cookies) = serve(1);
    let client = reqwest::Client::new();
    let mut cookie = cookies[0].clone();
    let (mut bare, mut latencies) = (Vec::new(), Vec::new());
    let (mut bare_verify, mut with_current) = (Vec::new(), Vec::new());
    let change = async |body: Value, cookie: &mut String| {
        let started = Instant::now();
        let response = client
            .patch(format!("{url}/api/users/1"))
            .header("cookie", &*cookie)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        *cookie = response.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
        response.bytes().await.unwrap();
        started.elapsed()
    };
    for i in 0..PASSWORD_CHANGES + 3 {
        let started = Instant::now();
        let phc = hasher
            .hash_password_with_random_salt(format!("new-password-{i}").as_bytes())
            .unwrap();
        let hashed = started.elapsed();
        let plain = change(
            json!({ "password": format!("new-password-{i}") }),
            &mut cookie,
        )
        .await;

        let started = Instant::now();
        assert!(neptun_users::password::verify(
            &format!("new-password-{i}"),
            &neptun_users::password::PasswordHash::from_stored(phc)
        ));
        hasher
            .hash_password_with_random_salt(format!("newer-password-{i}").as_bytes())
            .unwrap();
        let verified_and_hashed = started.elapsed();
        let body = json!({ "password": format!("newer-password-{i}"), "current_password": format!("new-password-{i}") });
        let checked = change(body, &mut cookie).await;
        if i >= 3 {
            bare.push(hashed.as_secs_f64() * 1e3);
            latencies.push(plain.as_secs_f64() * 1e3);
            bare_verify.push(verified_and_hashed.as_secs_f64() * 1e3);
            with_current.push(checked.as_secs_f64() * 1e3);
        }
    }
    let baseline = median(bare);
    let subject = median(latencies);
    let ratio = subject / baseline;
    rows.push(Row {
        figure: "password change latency, end to end (local server, median): read, hash, write"
            .into(),
        subject: format!("{subject:.2} ms"),
        baseline: format!("{baseline:.2} ms (one bare Argon2id hash, argon2-rust, reused arena)"),
        ratio: format!("{ratio:.2}"),
        target: "≤ 1.15".into(),
        ok: ratio <= 1.15,
    });
    let baseline = median(bare_verify);
    let subject = median(with_current);
    let ratio = subject / baseline;
    rows.push(Row {
        figure:
            "password change with current_password, end to end (median): read, verify, hash, write"
                .into(),
        subject: format!("{subject:.2} ms"),
        baseline: format!("{baseline:.2} ms (one bare Argon2id verify + one bare hash)"),
        ratio: format!("{ratio:.2}"),
        target: "≤ 1.15".into(),
        ok: ratio <= 1.15,
    });
}

/// Sign-in and sign-up over HTTP against bare Argon2 work, interleaved so drift hits all of
/// them: a sign-in with the right password against one bare verification; an unknown
/// address (verified against the dummy hash) against a known one with a wrong password;
/// a sign-up against one bare hash. The right password each round resets the wrong one's
/// count, so no lock sets in.
async fn sign_in_latency(rows: &mut Vec<Row>) {
    let mut hasher = argon2_rust_hasher();
    let (_server, url, _) = serve(1);
    let client = reqwest::Client::new();
    let post = async |path: &str, body: Value, status: u16| {
        let started = Instant::now();
        let response = client
            .post(format!("{url}{path}"))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{path}");
        response.bytes().await.unwrap();
        started.elapsed().as_secs_f64() * 1e3
    };
    let stored = neptun_users::password::PasswordHash::from_stored(
        hasher
            .hash_password_with_random_salt(b"initial-password-0")
            .unwrap(),
    );
    let (mut bare_verify, mut right, mut wrong, mut unknown) = (vec![], vec![], vec![], vec![]);
    let (mut bare_hash, mut sign_up) = (vec![], vec![]);
    for i in 0..PASSWORD_CHANGES + 3 {
        let started = Instant::now();
        assert!(neptun_users::password::verify(
            "initial-password-0",
            &stored
        ));
        let verified = started.elapsed().as_secs_f64() * 1e3;
        let known = json!({"email": "user0@example.com", "password": "initial-password-0"});
        let signed_in = post("/api/auth/login", known, 200).await;
        let wrong_password = json!({"email": "user0@example.com", "password": "not-the-password"});
        let refused = post("/api/auth/login", wrong_password, 401).await;
        let nobody =
            json!({"email": format!("nobody{i}@example.com"), "password": "not-the-password"});
        let unknown_address = post("/api/auth/login", nobody, 401).await;
        let started = Instant::now();
        hasher
            .hash_password_with_random_salt(format!("sign-up-password-{i}").as_bytes())
            .unwrap();
        let hashed = started.elapsed().as_secs_f64() * 1e3;
        let new = json!({"email": format!("new{i}@example.com"), "password": format!("sign-up-password-{i}"), "confirmPassword": format!("sign-up-password-{i}")});
        let signed_up = post("/api/auth/sign-up", new, 200).await;
        if i >= 3 {
            bare_verify.push(verified);
            right.push(signed_in);
            wrong.push(refused);
            unknown.push(unknown_address);
            bare_hash.push(hashed);
            sign_up.push(signed_up);
        }
    }
    let (baseline, subject) = (median(bare_verify), median(right));
    let ratio = subject / baseline;
    rows.push(Row {
        figure: "sign-in with the right password, end to end (median): look-up, reservation, verify, write".into(),
        subject: format!("{subject:.2} ms"),
        baseline: format!("{baseline:.2} ms (one bare Argon2id verify)"),
        ratio: format!("{ratio:.2}"),
        target: "≤ 1.15".into(),
        ok: ratio <= 1.15,
    });
    let (baseline, subject) = (median(wrong), median(unknown));
    let ratio = subject / baseline;
    rows.push(Row {
        figure:
            "sign-in with an unknown address (median), against a known one with a wrong password"
                .into(),
        subject: format!("{subject:.2} ms"),
        baseline: format!("{baseline:.2} ms (known address, wrong password)"),
        ratio: format!("{ratio:.2}"),
        target: "0.75 to 1.25".into(),
        ok: (0.75..=1.25).contains(&ratio),
    });
    let (baseline, subject) = (median(bare_hash), median(sign_up));
    let ratio = subject / baseline;
    rows.push(Row {
        figure: "sign-up, end to end (median): validation, hash, one atomic write".into(),
        subject: format!("{subject:.2} ms"),
        baseline: format!("{baseline:.2} ms (one bare Argon2id hash)"),
        ratio: format!("{ratio:.2}"),
        target: "≤ 1.15".into(),
        ok: ratio <= 1.15,
    });
}

/// The environment a platform starts a deployed binary with, and nothing of this process's
/// own: `scripts/bench` exports the DynamoDB emulator's endpoint for the import figure, and
/// an inherited endpoint override would make every start a configuration no deployment has.
fn lambda_env(command: &mut Command, api: &str) {
    command
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", api)
        .env("AWS_LAMBDA_FUNCTION_NAME", "neptun-users")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("SESSION_SECRET", SECRET)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "bench")
        .env("AWS_SECRET_ACCESS_KEY", "bench")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("RUST_LOG", "info")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
}

/// An unauthenticated v2 event: the function answers it without touching the store, so the
/// figure is start-up (runtime, configuration, SDK client) plus one request.
fn cold_event() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/events/apigw_v2.json");
    let mut event: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    event["rawPath"] = json!("/api/users/1");
    event["pathParameters"] = json!({"user_id": "1"});
    event["cookies"] = json!([]);
    event["requestContext"]["http"]["method"] = json!("PATCH");
    event
}

/// One start of a Lambda binary under a fresh Runtime API: milliseconds from exec to answer.
async fn lambda_cold_start(binary: &Path) -> f64 {
    lambda_cold_start_with(binary, |_| {}).await
}

/// [`lambda_cold_start`], with `adjust` changing the environment [`lambda_env`] gives.
async fn lambda_cold_start_with(binary: &Path, adjust: impl FnOnce(&mut Command)) -> f64 {
    let api = runtime_api::RuntimeApi::start().await;
    let mut command = Command::new(binary);
    lambda_env(&mut command, &api.address);
    adjust(&mut command);
    let started = Instant::now();
    let _function = Killed(command.spawn().unwrap());
    api.invoke(cold_event())
        .await
        .expect("an answer, not an error");
    started.elapsed().as_secs_f64() * 1e3
}

/// One start of a Vercel binary: milliseconds from exec to the first answer on its port.
/// Polled with blocking sockets and 50 µs sleeps: a tokio timer rounds every wait up to the
/// next millisecond, which quantized earlier figures into 1 ms steps.
fn vercel_cold_start(binary: &Path) -> f64 {
    use std::io::{Read as _, Write as _};
    let port = free_port();
    let mut command = Command::new(binary);
    lambda_env(&mut command, "unused");
    command.env("VERCEL_DEV_PORT", port.to_string());
    let started = Instant::now();
    let _function = Killed(command.spawn().unwrap());
    let mut stream = loop {
        if let Ok(stream) = std::net::TcpStream::connect(("127.0.0.1", port)) {
            break stream;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "no answer");
        std::thread::sleep(Duration::from_micros(50));
    };
    stream
        .write_all(
            b"PATCH /api/users/1 HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
        )
        .unwrap();
    let mut status = [0u8; 12];
    stream.read_exact(&mut status).unwrap();
    let elapsed = started.elapsed().as_secs_f64() * 1e3;
    assert!(status.starts_with(b"HTTP/1.1 "), "not an HTTP answer");
    elapsed
}

async fn cold_starts(rows: &mut Vec<Row>) {
    // Subject and baseline start alternately, so drift and noise hit both alike.
    for (platform, subject_binary, baseline_binary, lambda) in [
        ("Lambda", "lambda", "examples/baseline_lambda", true),
        ("Vercel", "user_id", "examples/baseline_vercel", false),
    ] {
        let (mut subjects, mut baselines) = (Vec::new(), Vec::new());
        for i in 0..COLD_STARTS + 1 {
            let (subject, baseline) = if lambda {
                (
                    lambda_cold_start(&release(subject_binary)).await,
                    lambda_cold_start(&release(baseline_binary)).await,
                )
            } else {
                (
                    vercel_cold_start(&release(subject_binary)),
                    vercel_cold_start(&release(baseline_binary)),
                )
            };
            if i > 0 {
                subjects.push(subject);
                baselines.push(baseline);
            }
        }
        let (subject, baseline) = (median(subjects), median(baselines));
        let ratio = subject / baseline;
        rows.push(Row {
            figure: format!(
                "cold start, {platform} binary: exec → first response (median of {COLD_STARTS})"
            ),
            subject: format!("{subject:.2} ms"),
            baseline: format!(
                "{baseline:.2} ms (hello-world {})",
                if lambda {
                    "lambda_http"
                } else {
                    "vercel_runtime"
                }
            ),
            ratio: format!("{ratio:.2}"),
            target: "≤ 1.5".into(),
            ok: ratio <= 1.5,
        });
    }
}

/// What reading the session secret from Secrets Manager (`SESSION_SECRET_ID`) adds to a
/// cold start: the Lambda binary reading it from a local stand-in that answers
/// `GetSecretValue` (`AWS_ENDPOINT_URL_SECRETS_MANAGER`), against the same binary with
/// `SESSION_SECRET` in its environment, started alternately. The stand-in is on loopback, so
/// the figure is the client's construction, signing and one local round trip; in AWS add one
/// round trip to the region's Secrets Manager endpoint.
async fn secret_cold_start(rows: &mut Vec<Row>) {
    let stand_in =
        aws_stand_in::AwsStandIn::start(aws_stand_in::SecretAnswer::Value(SECRET.to_owned())).await;
    let binary = release("lambda");
    let (mut subjects, mut baselines) = (Vec::new(), Vec::new());
    for i in 0..COLD_STARTS + 1 {
        let subject = lambda_cold_start_with(&binary, |command| {
            command
                .env_remove("SESSION_SECRET")
                .env(
                    "SESSION_SECRET_ID",
                    "arn:aws:secretsmanager:us-east-1:123456789012:secret:neptun-session-AbCdEf",
                )
                .env("AWS_ENDPOINT_URL_SECRETS_MANAGER", &stand_in.url);
        })
        .await;
        let baseline = lambda_cold_start(&binary).await;
        if i > 0 {
            subjects.push(subject);
            baselines.push(baseline);
        }
    }
    assert_eq!(
        stand_in.calls_of("GetSecretValue").len(),
        COLD_STARTS + 1,
        "one read per start"
    );
    let (subject, baseline) = (median(subjects), median(baselines));
    rows.push(Row {
        figure: format!(
            "cold start, Lambda binary, session secret read from Secrets Manager at start (a local stand-in answering GetSecretValue): exec → first response (median of {COLD_STARTS})"
        ),
        subject: format!("{subject:.2} ms"),
        baseline: format!("{baseline:.2} ms (same binary, SESSION_SECRET in the environment)"),
        ratio: format!("{:.2}", subject / baseline),
        target: format!(
            "information: the read adds {:.2} ms here, plus one round trip to Secrets Manager in AWS",
            subject - baseline
        ),
        ok: true,
    });
}

fn peak_rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kib / 1024.0
}

/// One password change for each of the users `first_id..`, all at once; keeps their
/// refreshed cookies.
async fn change_passwords(
    client: &reqwest::Client,
    url: &str,
    first_id: usize,
    cookies: &mut [String],
    round: usize,
) {
    let answers = futures::future::join_all(cookies.iter().enumerate().map(|(i, cookie)| {
        client
            .patch(format!("{url}/api/users/{}", first_id + i))
            .header("cookie", cookie.clone())
            .header("content-type", "application/json")
            .body(json!({ "password": format!("burst-password-{round}-{i}") }).to_string())
            .send()
    }))
    .await;
    for (cookie, answer) in cookies.iter_mut().zip(answers) {
        let answer = answer.unwrap();
        assert_eq!(answer.status(), 200);
        *cookie = answer.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned();
    }
}

async fn burst_memory(rows: &mut Vec<Row>) {
    let (server, url, mut cookies) = serve(BURST);
    let pid = server.0.id();
    // Reset the high-water mark so seeding does not count.
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").unwrap();
    let client = reqwest::Client::new();
    change_passwords(&client, &url, 1, &mut cookies, 0).await;
    let peak = peak_rss_mib(pid);
    let concurrency = neptun_users::password::Hasher::per_core().concurrency();
    let limit = concurrency as f64 * 19.0 + 32.0;
    rows.push(Row {
        figure: format!("peak RSS during {BURST} concurrent password changes"),
        subject: format!("{peak:.1} MiB"),
        baseline: format!("hash concurrency {concurrency}"),
        ratio: "—".into(),
        target: format!("≤ {limit:.0} MiB ({concurrency} × 19 + 32)"),
        ok: peak <= limit,
    });
}

/// p99 of email-only updates from 8 sequential clients over `seconds`.
async fn email_p99(url: &str, cookie: &str, seconds: u64) -> f64 {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let workers = (0..8).map(|w| {
        let (url, cookie) = (url.to_owned(), cookie.to_owned());
        tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut latencies = Vec::new();
            let mut n = 0;
            while Instant::now() < deadline {
                n += 1;
                let started = Instant::now();
                let answer = client
                    .patch(format!("{url}/api/users/1"))
                    .header("cookie", &cookie)
                    .header("content-type", "application/json")
                    .body(format!(r#"{{"email":"user0-{w}-{}@example.com"}}"#, n % 2))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(answer.status(), 200);
                answer.bytes().await.unwrap();
                latencies.push(started.elapsed().as_secs_f64() * 1e3);
            }
            latencies
        })
    });
    let mut all = Vec::new();
    for worker in futures::future::join_all(workers).await {
        all.extend(worker.unwrap());
    }
    percentile(&mut all, 99.0)
}

async fn latency_under_burst(rows: &mut Vec<Row>) {
    let (_server, url, cookies) = serve(BURST + 1);
    let email_cookie = cookies[0].clone();
    email_p99(&url, &email_cookie, 1).await; // warm-up
    let mut quiet_runs = Vec::new();
    let mut burst_runs = Vec::new();
    let mut burst_cookies: Vec<String> = cookies[1..].to_vec();
    for run in 0..RUNS {
        quiet_runs.push(email_p99(&url, &email_cookie, 3).await);
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let burster = {
            let (url, stop) = (url.clone(), stop.clone());
            let mut cookies = std::mem::take(&mut burst_cookies);
            tokio::spawn(async move {
                let client = reqwest::Client::new();
                let mut round = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    round += 1;
                    change_passwords(&client, &url, 2, &mut cookies, run * 1000 + round).await;
                }
                cookies
            })
        };
        burst_runs.push(email_p99(&url, &email_cookie, 3).await);
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        burst_cookies = burster.await.unwrap();
    }
    let (quiet, burst) = (median(quiet_runs), median(burst_runs));
    let ratio = burst / quiet;
    rows.push(Row {
        figure: format!("email-only p99 latency during {BURST}-way password bursts (8 clients)"),
        subject: format!("{burst:.2} ms"),
        baseline: format!("{quiet:.2} ms (no burst)"),
        ratio: format!("{ratio:.2}"),
        target: "≤ 3".into(),
        ok: ratio <= 3.0,
    });
}

/// A criterion median from this run's `cargo bench --bench handler`, in microseconds.
/// Users per `neptun user import` run of the import figure.
const IMPORTED_USERS: u64 = 1_000;
const IMPORT_FIGURE: &str = "user import over DynamoDB (the moto emulator), 1,000 users, one transaction each (the release binary, start to summary)";

/// The import's rate over the DynamoDB emulator (moto, which scripts/bench starts): the release
/// binary importing 1,000 bcrypt users from a file, one two-item transaction each, against
/// 1,000 bare transactions of the same two conditional puts sent one after another from one SDK
/// client, so the ratio says what the import adds to what the emulator costs.
async fn import_rate(dir: &Path, rows: &mut Vec<Row>) {
    use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
    if std::env::var_os("AWS_ENDPOINT_URL_DYNAMODB").is_none() {
        rows.push(Row {
            figure: IMPORT_FIGURE.into(),
            subject: "not measured: no emulator (scripts/bench starts one)".into(),
            baseline: "—".into(),
            ratio: "—".into(),
            target: "information".into(),
            ok: false,
        });
        return;
    }
    const BCRYPT: &str = "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW";
    let neptun = release("neptun");
    let fresh_table = |name: &str| {
        let table = format!("neptun-bench-{name}-{}", std::process::id());
        let created = Command::new(&neptun)
            .args(["table", "create"])
            .env("USERS_TABLE", &table)
            .env("SESSION_SECRET", SECRET)
            .output()
            .unwrap();
        assert!(created.status.success(), "{created:?}");
        table
    };

    let input = dir.join("import.jsonl");
    let lines: Vec<String> = (1..=IMPORTED_USERS)
        .map(|id| {
            json!({"id": id, "primary_email": format!("user-{id}@example.com"),
                   "password_hash": BCRYPT, "created_at": "2024-05-01T10:00:00Z"})
            .to_string()
        })
        .collect();
    std::fs::write(&input, lines.join("\n")).unwrap();
    let table = fresh_table("import");
    let started = Instant::now();
    let imported = Command::new(&neptun)
        .args(["user", "import", "--file"])
        .arg(&input)
        .env("USERS_TABLE", &table)
        .env("SESSION_SECRET", SECRET)
        .output()
        .unwrap();
    let seconds = started.elapsed().as_secs_f64();
    assert!(imported.status.success(), "{imported:?}");
    let summary: Value = serde_json::from_slice(&imported.stdout).unwrap();
    // A transaction whose answer came too late is retried by the SDK and then found stored:
    // "skipped", yet written by this run.
    assert_eq!(
        (
            summary["imported"].as_u64().unwrap() + summary["skipped"].as_u64().unwrap(),
            summary["refused"].as_u64()
        ),
        (IMPORTED_USERS, Some(0)),
        "{summary}"
    );
    let subject = IMPORTED_USERS as f64 / seconds;

    let table = fresh_table("bare");
    let store = neptun_users::store::DynamoStore::from_env(&table)
        .await
        .unwrap();
    let (n, s) = (
        |v: u64| AttributeValue::N(v.to_string()),
        |v: &str| AttributeValue::S(v.to_owned()),
    );
    eprintln!("bench: import {subject:.0} users/s in {seconds:.1} s: {summary}");
    let mut timed_out = 0;
    let started = Instant::now();
    for id in 1..=IMPORTED_USERS {
        let email = format!("user-{id}@example.com");
        let user = Put::builder()
            .table_name(&table)
            .item("pk", s(&format!("USER#{id}")))
            .item("email", s(&email))
            .item("email_lower", s(&email))
            .item("password_hash", s(BCRYPT))
            .item("session_version", n(1))
            .item("created_at", n(1_714_557_600))
            .item("updated_at", n(1_714_557_600))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .unwrap();
        let claim = Put::builder()
            .table_name(&table)
            .item("pk", s(&format!("EMAIL#{email}")))
            .item("user_id", n(id))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .unwrap();
        let sent = store
            .client()
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(user).build())
            .transact_items(TransactWriteItem::builder().put(claim).build())
            .send()
            .await;
        // As in the import: a retry after a late answer finds its own earlier write. The
        // emulator copies the whole table for each transaction, so late ones can time out.
        if let Err(error) = sent {
            let error = format!("{error:?}");
            if error.contains("TimeoutError") {
                timed_out += 1;
            } else {
                assert!(error.contains("ConditionalCheckFailed"), "{error}");
            }
        }
    }
    let baseline = IMPORTED_USERS as f64 / started.elapsed().as_secs_f64();
    let ratio = subject / baseline;
    rows.push(Row {
        figure: IMPORT_FIGURE.into(),
        subject: format!(
            "{subject:.0} users/s ({seconds:.1} s; {} found written by an SDK retry)",
            summary["skipped"]
        ),
        baseline: format!(
            "{baseline:.0} transactions/s (the same two conditional puts, bare, from one SDK client; {timed_out} timed out)"
        ),
        ratio: format!("{ratio:.2}"),
        target: "information: the emulator's speed, not DynamoDB's".into(),
        ok: true,
    });
}

fn criterion_micros(bench: &str) -> Option<f64> {
    let estimates = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/criterion")
        .join(bench)
        .join("new/estimates.json");
    let estimates: Value = serde_json::from_str(&std::fs::read_to_string(estimates).ok()?).ok()?;
    Some(estimates["median"]["point_estimate"].as_f64()? / 1000.0)
}

fn not_measured(rows: &mut Vec<Row>, figure: &str, target: &str) {
    rows.push(Row {
        figure: figure.into(),
        subject: "not measured: run `cargo bench --bench handler` first".into(),
        baseline: "—".into(),
        ratio: "—".into(),
        target: target.into(),
        ok: false,
    });
}

/// A criterion median of the handler bench as a row held to at most `limit` µs.
fn cpu_row(rows: &mut Vec<Row>, figure: &str, bench: &str, limit: f64) {
    let target = format!("≤ {limit} µs");
    let Some(micros) = criterion_micros(bench) else {
        return not_measured(rows, figure, &target);
    };
    rows.push(Row {
        figure: figure.into(),
        subject: format!("{micros:.2} µs"),
        baseline: "—".into(),
        ratio: "—".into(),
        target,
        ok: micros <= limit,
    });
}

fn handler_cpu(rows: &mut Vec<Row>) {
    cpu_row(
        rows,
        "handler CPU per email-only update, in process, memory store (criterion median)",
        "handler_email_only_update",
        4.0,
    );
    // A sign-in's own CPU without its Argon2 work (`handler/sign_in_without_verification`).
    cpu_row(
        rows,
        "handler CPU per sign-in, excluding the verification (criterion median)",
        "handler_sign_in_without_verification",
        20.0,
    );
}

/// The Nuxt format: handler CPU per email-only update against iron-webcrypto's own unseal +
/// seal in Node (`tests/interop/bench-iron.mjs`, same session object), in the same run; and
/// what the Rust pair and each of its primitives cost.
fn nuxt_cpu(rows: &mut Vec<Row>) {
    let figure = "handler CPU per email-only update, SESSION_FORMAT=nuxt (criterion median)";
    let Some(micros) = criterion_micros("handler_email_only_update_nuxt") else {
        return not_measured(rows, figure, "≤ 8 µs, ≥ 50× faster than Node");
    };
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/bench-iron.mjs");
    let node = Command::new("node")
        .arg(&script)
        .arg("3000")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| serde_json::from_slice::<Value>(&o.stdout).ok())
        .and_then(|v| v["ns_per_pair"].as_f64());
    let (baseline, ratio, fast_enough) = match node {
        Some(ns) => {
            let ratio = ns / 1000.0 / micros;
            (
                format!(
                    "{:.0} µs (iron-webcrypto unseal + seal, Node {})",
                    ns / 1000.0,
                    node_version()
                ),
                format!("{ratio:.0}× faster"),
                ratio >= 50.0,
            )
        }
        None => (
            "not measured: `npm ci` in tests/interop".into(),
            "—".into(),
            false,
        ),
    };
    rows.push(Row {
        figure: figure.into(),
        subject: format!("{micros:.2} µs"),
        baseline,
        ratio,
        target: "≤ 8 µs, ≥ 50× faster than Node".into(),
        ok: micros <= 8.0 && fast_enough,
    });
    let part =
        |bench: &str| criterion_micros(bench).map_or("—".to_owned(), |m| format!("{m:.2} µs"));
    rows.push(Row {
        figure: "of which: iron unseal + seal in Rust; per primitive: PBKDF2-SHA1 key derivation (4 per pair) / AES-256-CBC of 200 bytes (2) / HMAC-SHA256 of the seal (2)".into(),
        subject: part("iron_unseal_then_seal"),
        baseline: format!(
            "{} / {} / {}",
            part("iron_key_derivation_pbkdf2_sha1_1_iteration"),
            part("iron_aes_256_cbc_encrypt_200_bytes"),
            part("iron_hmac_sha256_of_the_seal")
        ),
        ratio: "—".into(),
        target: "information".into(),
        ok: true,
    });
}

fn node_version() -> String {
    Command::new("node")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

fn sizes(rows: &mut Vec<Row>) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for (what, path) in [
        (
            "Lambda (arm64, cargo lambda build --release --arm64)",
            root.join("target/lambda/lambda/bootstrap"),
        ),
        (
            "Vercel (x86_64, cargo build --release)",
            root.join("target/release/user_id"),
        ),
    ] {
        let (subject, ok) = match std::fs::metadata(&path) {
            Ok(meta) => {
                let mib = meta.len() as f64 / MIB;
                (format!("{mib:.2} MiB"), mib <= 8.0)
            }
            Err(_) => ("not built (needs cargo-lambda)".into(), false),
        };
        rows.push(Row {
            figure: format!("stripped release binary, {what}"),
            subject,
            baseline: "—".into(),
            ratio: "—".into(),
            target: "≤ 8 MiB".into(),
            ok,
        });
    }
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines().find_map(|l| {
                l.strip_prefix("model name")
                    .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
            })
        })
        .unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines().next().map(|l| {
                l.split_whitespace()
                    .nth(1)
                    .unwrap_or("0")
                    .parse::<f64>()
                    .unwrap_or(0.0)
                    / MIB
            })
        })
        .unwrap_or(0.0);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!(
        "{cpu}, {cores} cores, {memory:.0} GiB, Linux {}",
        kernel.trim()
    )
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --all-targets` runs this binary without it,
    // and a test run must not start a multi-minute benchmark of release binaries.
    if !std::env::args().any(|a| a == "--bench") {
        println!("system benchmark: not run outside `cargo bench` (use scripts/bench)");
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = std::env::temp_dir().join(format!("neptun-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // NEPTUN_BENCH_ONLY=cold,size (comma-separated; also throughput, vercel-throughput,
    // password, sign-in, cold-secret, memory, burst, cpu, import) runs a subset while
    // iterating; the report is
    // only written for a full run.
    let only = std::env::var("NEPTUN_BENCH_ONLY").ok();
    let wanted = |name: &str| {
        only.as_deref()
            .is_none_or(|o| o.split(',').any(|w| w == name))
    };
    let mut rows = Vec::new();
    if wanted("cpu") {
        handler_cpu(&mut rows);
        nuxt_cpu(&mut rows);
    }
    if wanted("throughput") {
        eprintln!("bench: throughput");
        throughput(&dir, &mut rows);
    }
    if wanted("vercel-throughput") {
        eprintln!("bench: Vercel entry point throughput");
        vercel_throughput(&dir, &mut rows);
    }
    if wanted("password") {
        eprintln!("bench: password change latency");
        runtime.block_on(password_latency(&mut rows));
    }
    if wanted("sign-in") {
        eprintln!("bench: sign-in and sign-up latency");
        runtime.block_on(sign_in_latency(&mut rows));
    }
    if wanted("cold") {
        eprintln!("bench: cold starts");
        runtime.block_on(cold_starts(&mut rows));
    }
    if wanted("cold") || wanted("cold-secret") {
        eprintln!("bench: cold start with the secret in Secrets Manager");
        runtime.block_on(secret_cold_start(&mut rows));
    }
    if wanted("memory") {
        eprintln!("bench: memory during a burst");
        runtime.block_on(burst_memory(&mut rows));
    }
    if wanted("burst") {
        eprintln!("bench: latency during bursts");
        runtime.block_on(latency_under_burst(&mut rows));
    }
    if wanted("import") {
        eprintln!("bench: user import over the emulator");
        runtime.block_on(import_rate(&dir, &mut rows));
    }
    if wanted("size") {
        sizes(&mut rows);
    }

    let mut table = String::new();
    writeln!(
        table,
        "| figure | measured | baseline (same run) | ratio | target | met |"
    )
    .unwrap();
    writeln!(table, "| --- | --- | --- | --- | --- | --- |").unwrap();
    for row in &rows {
        writeln!(
            table,
            "| {} | {} | {} | {} | {} | {} |",
            row.figure,
            row.subject,
            row.baseline,
            row.ratio,
            row.target,
            if row.ok { "yes" } else { "**no**" }
        )
        .unwrap();
    }
    let report = format!(
        "# Benchmarks\n\nMeasured by `scripts/bench` on {} ({}).\n\nEach ratio compares against a baseline measured in the same run; absolute numbers are for\ninformation. Throughput: wrk, {WRK_CONNECTIONS} connections, {WRK_SECONDS} s, median of {RUNS} runs after a discarded warm-up. Latencies:\nmedians (p99 within each run). Cold starts: median of {COLD_STARTS} after one discarded start.\n\n{table}",
        machine(),
        String::from_utf8_lossy(
            &Command::new("date")
                .arg("-u")
                .arg("+%Y-%m-%d")
                .output()
                .map(|o| o.stdout)
                .unwrap_or_default()
        )
        .trim(),
    );
    println!("{report}");
    if only.is_some() {
        return;
    }
    std::fs::write(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("BENCHMARKS.md"),
        report,
    )
    .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
