//! The local command as a user runs it: the built binary, its stdout lines and exit codes.

use crate::common;

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use common::{SECRET, patch_at};
use serde_json::{Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_neptun");

/// A `serve` process; killed when dropped.
pub(crate) struct Served {
    pub(crate) child: Child,
    pub(crate) lines: Vec<Value>,
    pub(crate) url: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `neptun serve --addr 127.0.0.1:0 ARGS` and reads stdout up to the listening line.
pub(crate) fn serve(args: &[&str], env: &[(&str, &str)]) -> Served {
    serve_by(Command::new(BIN), args, env)
}

/// [`serve`] through `command`, which runs `neptun` (directly, or through a shell that sets
/// limits first) with the arguments it is given.
fn serve_by(mut command: Command, args: &[&str], env: &[(&str, &str)]) -> Served {
    command
        .args(["serve", "--addr", "127.0.0.1:0"])
        .args(args)
        .env_remove("SESSION_SECRET")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (name, value) in env {
        command.env(name, value);
    }
    let mut served = Served {
        child: command.spawn().expect("start neptun serve"),
        lines: Vec::new(),
        url: String::new(),
    };
    let stdout = BufReader::new(served.child.stdout.take().unwrap());
    for line in stdout.lines() {
        let value: Value = serde_json::from_str(&line.unwrap()).expect("stdout lines are JSON");
        if let Some(url) = value["listening"].as_str() {
            served.url = url.to_owned();
            return served;
        }
        served.lines.push(value);
    }
    panic!("serve exited before listening: {:?}", served.lines);
}

pub(crate) fn run<A: AsRef<OsStr>>(args: &[A], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut command = Command::new(BIN);
    command.args(args).env_remove("SESSION_SECRET");
    for (name, value) in env {
        command.env(name, value);
    }
    let output = command.output().expect("run neptun");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

pub(crate) async fn patch(url: &str, id: u64, cookie: &str, body: &str) -> (u16, Value) {
    let response = patch_at(url, id, cookie, body).await;
    (response.status, response.json())
}

#[tokio::test]
async fn serve_prints_one_line_per_seeded_user_then_listening_and_the_cookies_work() {
    let served = serve(
        &[
            "--seed",
            "a@example.com:password-a",
            "--seed=b@example.com:pass:word:b",
        ],
        &[],
    );

    assert_eq!(served.lines.len(), 2);
    for (line, (id, email)) in served
        .lines
        .iter()
        .zip([(1, "a@example.com"), (2, "b@example.com")])
    {
        assert_eq!(line["user"], json!({"id": id, "primary_email": email}));
        assert!(
            line["cookie"]
                .as_str()
                .unwrap()
                .starts_with("neptun-session=")
        );
    }
    assert!(served.url.starts_with("http://127.0.0.1:"));
    let cookie = served.lines[1]["cookie"].as_str().unwrap();
    let (status, body) = patch(&served.url, 2, cookie, r#"{"email":"new@example.com"}"#).await;
    assert_eq!(
        (status, body),
        (
            200,
            json!({"user": {"id": 2, "primary_email": "new@example.com"}})
        )
    );
}

/// `session mint` for user 1 (a@example.com) with `extra` flags; the cookie it prints.
fn mint(extra: &[&str]) -> String {
    let mut args = vec![
        "session",
        "mint",
        "--user-id",
        "1",
        "--email",
        "a@example.com",
    ];
    args.extend_from_slice(extra);
    let (code, stdout, stderr) = run(&args, &[("SESSION_SECRET", SECRET)]);
    assert_eq!(code, 0, "{stderr}");
    stdout.trim().to_owned()
}

#[tokio::test]
async fn session_mint_makes_a_cookie_the_server_accepts() {
    let served = serve(
        &["--seed", "a@example.com:password-a"],
        &[("SESSION_SECRET", SECRET)],
    );
    let (code, stdout, _) = run(
        &["session", "mint", "--user-id", "1", "--email=a@example.com"],
        &[("SESSION_SECRET", SECRET)],
    );
    assert_eq!(code, 0);
    let cookie = stdout.trim();
    assert!(
        cookie.starts_with("neptun-session=") && !cookie.contains('\n'),
        "{stdout:?}"
    );
    let (status, _) = patch(&served.url, 1, cookie, r#"{"email":"b@example.com"}"#).await;
    assert_eq!(status, 200);

    let expired = mint(&["--expires-in", "-60"]);
    let (status, body) = patch(&served.url, 1, &expired, r#"{"email":"c@example.com"}"#).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (401, Some("Unauthorized")),
        "an expired cookie"
    );

    let old_version = mint(&["--version", "7"]);
    let (status, _) = patch(&served.url, 1, &old_version, r#"{"email":"c@example.com"}"#).await;
    assert_eq!(
        status, 401,
        "a version that is not the stored one is revoked"
    );
}

#[tokio::test]
async fn serve_stops_on_sigterm_with_status_0_after_answering_the_request_in_flight() {
    use tokio::io::{AsyncWriteExt as _, BufReader};
    let mut served = serve(&["--seed", "a@example.com:password-a"], &[]);
    let cookie = served.lines[0]["cookie"].as_str().unwrap().to_owned();
    let host = served.url.trim_start_matches("http://").to_owned();
    let body = r#"{"email":"sigterm@example.com"}"#;
    let (read, mut write) = tokio::net::TcpStream::connect(&host)
        .await
        .unwrap()
        .into_split();
    let mut read = BufReader::new(read);
    write
        .write_all(
            format!(
                "PATCH /api/users/1 HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\nContent-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    // `100 Continue` comes when the handler starts reading the body: the request is in flight.
    let interim = common::raw_http::read_response(&mut read).await.unwrap();
    assert_eq!(interim.status, 100, "{interim:?}");

    let killed = Command::new("kill")
        .args(["-TERM", &served.child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    write.write_all(body.as_bytes()).await.unwrap();
    let response = common::raw_http::read_response(&mut read).await.unwrap();

    assert_eq!(
        (
            response.status,
            serde_json::from_str::<Value>(&response.body).unwrap()
        ),
        (
            200,
            json!({"user": {"id": 1, "primary_email": "sigterm@example.com"}})
        )
    );
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = served.child.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "serve exits after SIGTERM"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    assert_eq!(status.code(), Some(0), "{status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_answers_others_while_more_clients_trickle_than_a_default_files_limit_allows() {
    use std::time::{Duration, Instant};
    // More than a shell's usual soft limit of 1024 open files leaves room for, with the
    // server's own descriptors. This test process needs one per trickler too.
    const TRICKLERS: usize = 1100;
    let hard = rlimit::Resource::NOFILE.get_hard().unwrap();
    let ours = rlimit::increase_nofile_limit(u64::MAX).unwrap();
    if hard < 4096 || ours < 2 * TRICKLERS as u64 {
        eprintln!("SKIPPED: the hard open-files limit ({hard}) leaves no room to show this");
        return;
    }
    // The server starts with the soft limit at 1024 and the hard one as it is.
    let mut command = Command::new("sh");
    command.args(["-c", r#"ulimit -S -n 1024 && exec "$0" "$@""#, BIN]);
    let served = serve_by(
        command,
        &["--seed", "a@example.com:password-a"],
        &[("REQUEST_DEADLINE_MS", "3000")],
    );
    let cookie = served.lines[0]["cookie"].as_str().unwrap().to_owned();
    let host = served.url.trim_start_matches("http://").to_owned();
    let tricklers = common::raw_http::start_tricklers(
        &host,
        TRICKLERS,
        Duration::from_millis(300),
        Duration::from_secs(20),
    )
    .await;
    // Every trickler has sent its head and a byte or two more before the ordinary request.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let asked = Instant::now();
    let answer = tokio::time::timeout(
        Duration::from_secs(5),
        patch(&served.url, 1, &cookie, r#"{"email":"b@example.com"}"#),
    )
    .await;
    let answered_after = asked.elapsed();

    assert_eq!(
        answer.ok(),
        Some((
            200,
            json!({"user": {"id": 1, "primary_email": "b@example.com"}})
        )),
        "answered while {TRICKLERS} trickle"
    );
    assert!(
        answered_after < Duration::from_secs(1),
        "within a second: {answered_after:?}"
    );
    for trickler in tricklers {
        let (closed_after, sent) = trickler.await.unwrap();
        assert!(sent.is_empty(), "{:?}", String::from_utf8_lossy(&sent));
        assert!(
            closed_after < Duration::from_secs(6),
            "disconnected after the deadline: {closed_after:?}"
        );
    }
}

#[test]
fn session_mint_refuses_a_missing_or_short_secret() {
    let cases: [(&[(&str, &str)], &str); 2] = [
        (&[], "SESSION_SECRET is not set"),
        (
            &[("SESSION_SECRET", "too-short")],
            "SESSION_SECRET is too short",
        ),
    ];
    for (env, expected) in cases {
        let (code, stdout, stderr) = run(
            &[
                "session",
                "mint",
                "--user-id",
                "1",
                "--email",
                "a@example.com",
            ],
            env,
        );
        assert_ne!(code, 0, "{expected}");
        assert!(stdout.is_empty(), "no cookie printed");
        assert!(stderr.contains(expected), "{stderr}");
        assert!(!stderr.contains("too-short"), "the secret is never echoed");
    }
}

#[test]
fn bad_arguments_print_the_usage_and_exit_2() {
    let cases: [&[&str]; 6] = [
        &["serve", "--port", "3000"],
        &["serve", "--addr"],
        &["serve", "--store", "redis"],
        &["frobnicate"],
        &[
            "session",
            "mint",
            "--user-id",
            "x",
            "--email",
            "a@example.com",
        ],
        &["user", "create", "--email", "a@example.com"],
    ];
    for args in cases {
        let (code, stdout, stderr) = run(args, &[]);
        assert_eq!(code, 2, "{args:?}");
        assert!(stdout.is_empty(), "{args:?}");
        assert!(
            stderr.starts_with("error: ") && stderr.contains("usage:"),
            "{args:?}: {stderr}"
        );
    }
    let (code, stdout, _) = run(&["--help"], &[]);
    assert_eq!(code, 0);
    assert!(stdout.contains("session mint"));
}

#[test]
fn help_works_on_every_command() {
    let cases: [(&[&str], &str); 6] = [
        (&["--help"], "neptun user import"),
        (&["serve", "--help"], "--seed EMAIL:PASSWORD"),
        (&["session", "mint", "-h"], "--expires-in SECONDS"),
        (&["table", "create", "--help"], "USERS_TABLE"),
        (&["user", "create", "--help"], "--password P"),
        (&["user", "import", "--help"], "--file PATH"),
    ];
    for (args, expected) in cases {
        let (code, stdout, stderr) = run(args, &[]);
        assert_eq!((code, stderr.as_str()), (0, ""), "{args:?}");
        assert!(
            stdout.starts_with("usage:") && stdout.contains(expected),
            "{args:?}: {stdout}"
        );
    }
}

#[test]
fn arguments_that_are_not_utf8_print_the_usage_and_exit_2() {
    use std::os::unix::ffi::OsStrExt as _;
    let cases: [(&[&[u8]], &str); 3] = [
        (
            &[b"session", b"mint", b"--email", b"\xff", b"--user-id", b"1"],
            "error: the value of --email is not valid UTF-8",
        ),
        (
            &[b"serve", b"--addr=127.0.0.1:\xff"],
            "error: the value of --addr is not valid UTF-8",
        ),
        (&[b"\xc3\x28"], "error: argument 1 is not valid UTF-8"),
    ];
    for (words, expected) in cases {
        let args: Vec<&OsStr> = words.iter().map(|w| OsStr::from_bytes(w)).collect();
        let (code, stdout, stderr) = run(&args, &[("SESSION_SECRET", SECRET)]);
        assert_eq!(code, 2, "{words:?}: {stderr}");
        assert!(stdout.is_empty(), "{words:?}: {stdout}");
        assert!(
            stderr.starts_with(expected) && stderr.contains("usage:"),
            "{words:?}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{words:?}: {stderr}");
    }
}

#[test]
fn a_seed_that_is_not_valid_is_a_usage_error() {
    let (code, stdout, stderr) = run(
        &[
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--seed",
            "not-an-email:password-a",
        ],
        &[],
    );
    assert_eq!(code, 2, "parsed with the arguments: a usage error");
    assert!(stdout.is_empty());
    assert!(
        stderr.starts_with("error: --seed: \"not-an-email\" is not a valid email address")
            && stderr.contains("usage: neptun [serve]"),
        "{stderr}"
    );
}

#[tokio::test]
async fn serve_over_dynamodb_seeds_users_with_ids_from_the_counter() {
    let Some(endpoint) = common::emulator_endpoint() else {
        return;
    };
    let table = format!("neptun-cli-{}", std::process::id());
    let env = [
        ("SESSION_SECRET", SECRET),
        ("USERS_TABLE", table.as_str()),
        ("AWS_ENDPOINT_URL_DYNAMODB", endpoint.as_str()),
    ];
    let (code, stdout, stderr) = run(&["table", "create"], &env);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        serde_json::from_str::<Value>(&stdout).unwrap(),
        json!({"table": table, "created": true})
    );
    let (code, stdout, _) = run(
        &[
            "user",
            "create",
            "--email",
            "first@example.com",
            "--password",
            "password-1",
        ],
        &env,
    );
    assert_eq!(code, 0);
    assert_eq!(
        serde_json::from_str::<Value>(&stdout).unwrap(),
        json!({"user": {"id": 1, "primary_email": "first@example.com"}})
    );
    let (code, _, stderr) = run(
        &[
            "user",
            "create",
            "--email",
            "FIRST@example.com",
            "--password",
            "password-1",
        ],
        &env,
    );
    assert_eq!(code, 1, "the address is taken");
    assert!(stderr.contains("already in use"), "{stderr}");

    let served = serve(
        &[
            "--store",
            "dynamodb",
            "--seed",
            "second@example.com:password-2",
        ],
        &env,
    );
    assert_eq!(
        served.lines[0]["user"],
        json!({"id": 2, "primary_email": "second@example.com"}),
        "ids come from the counter, and a refused create spends none"
    );
    let cookie = served.lines[0]["cookie"].as_str().unwrap();
    let (status, body) = patch(&served.url, 2, cookie, r#"{"email":"first@example.com"}"#).await;
    assert_eq!(
        (status, body["message"].as_str()),
        (409, Some("Email already in use."))
    );
    let (status, _) = patch(&served.url, 2, cookie, r#"{"password":"new-password"}"#).await;
    assert_eq!(status, 200);
}

const BCRYPT: &str = "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW";

/// Runs `neptun user import --file PATH` on `lines`.
fn import(lines: &[String], extra: &[&str], env: &[(&str, &str)]) -> (i32, Value, String) {
    let file = std::env::temp_dir().join(format!(
        "neptun-import-{}-{}.jsonl",
        std::process::id(),
        common::unique()
    ));
    std::fs::write(&file, lines.join("\n")).unwrap();
    let mut args = vec!["user", "import", "--file", file.to_str().unwrap()];
    args.extend_from_slice(extra);
    let (code, stdout, stderr) = run(&args, env);
    let _ = std::fs::remove_file(&file);
    let summary =
        serde_json::from_str(stdout.trim()).unwrap_or_else(|_| panic!("{stdout:?} / {stderr}"));
    (code, summary, stderr)
}

fn import_lines() -> Vec<String> {
    let line = |id: u64, email: &str| {
        json!({"id": id, "primary_email": email, "password_hash": BCRYPT, "created_at": "2024-05-01T10:00:00Z"})
            .to_string()
    };
    vec![
        line(7, "seven@example.com"),
        line(12, "twelve@example.com"),
        line(13, "SEVEN@example.com"),
        "{not json".to_owned(),
        line(12, "someone-else@example.com"),
        line(3, "three@example.com"),
    ]
}

#[tokio::test]
async fn user_import_keeps_ids_claims_every_address_once_and_is_idempotent() {
    let Some(endpoint) = common::emulator_endpoint() else {
        return;
    };
    let table = format!("neptun-import-{}-{}", std::process::id(), common::unique());
    let env = [
        ("SESSION_SECRET", SECRET),
        ("USERS_TABLE", table.as_str()),
        ("AWS_ENDPOINT_URL_DYNAMODB", endpoint.as_str()),
    ];
    assert_eq!(run(&["table", "create"], &env).0, 0);

    let (code, summary, stderr) = import(&import_lines(), &[], &env);
    assert_eq!(
        (code, summary),
        (
            1,
            json!({"imported": 3, "skipped": 0, "refused": 3, "without_password": 0})
        )
    );
    for expected in [
        "line 3: refused: primary_email belongs to another user",
        "line 4: refused: not valid JSON",
        "line 5: refused: id 12 belongs to another record",
    ] {
        assert!(stderr.contains(expected), "{expected} in {stderr}");
    }
    assert!(!stderr.contains("$2b$"), "no hash in the report");

    let (code, summary, _) = import(&import_lines(), &[], &env);
    assert_eq!(
        (code, summary),
        (
            1,
            json!({"imported": 0, "skipped": 3, "refused": 3, "without_password": 0})
        ),
        "the same file again"
    );

    let store = neptun_users::store::DynamoStore::from_env(&table)
        .await
        .unwrap();
    let items = common::dynamo::scan(&store).await;
    let mut keys: Vec<&str> = items.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "COUNTER#users",
            "EMAIL#seven@example.com",
            "EMAIL#three@example.com",
            "EMAIL#twelve@example.com",
            "USER#12",
            "USER#3",
            "USER#7"
        ],
        "exactly one claim per user"
    );
    assert_eq!(common::dynamo::assert_claims_consistent(&store).await, 3);
    let seven = &items["USER#7"];
    assert_eq!(
        seven["password_hash"].as_s().unwrap(),
        BCRYPT,
        "kept verbatim"
    );
    assert_eq!(seven["created_at"].as_n().unwrap(), "1714557600");
    // Reserved before the first write, for every well-formed line (13 was refused later).
    assert_eq!(items["COUNTER#users"]["last_id"].as_n().unwrap(), "13");

    let (code, stdout, stderr) = run(
        &[
            "user",
            "create",
            "--email",
            "next@example.com",
            "--password",
            "password-1",
        ],
        &env,
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        serde_json::from_str::<Value>(&stdout).unwrap()["user"]["id"],
        json!(14),
        "the counter moved past the largest id"
    );
}

#[test]
fn user_import_reads_standard_input_and_exits_0_when_nothing_is_refused() {
    let mut child = Command::new(BIN)
        .args(["user", "import", "--store", "memory", "--file", "-"])
        .env("SESSION_SECRET", SECRET)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let lines = import_lines();
    // Two users without a password (a GitHub/Google user's export): no key, and null.
    let input = format!(
        "{}\n\n{}\n{}\n{}\n",
        lines[0],
        lines[1],
        json!({"id": 20, "primary_email": "oauth-a@example.com"}),
        json!({"id": 21, "primary_email": "oauth-b@example.com", "password_hash": null}),
    );
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), input.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert_eq!(
        serde_json::from_slice::<Value>(&output.stdout).unwrap(),
        json!({"imported": 4, "skipped": 0, "refused": 0, "without_password": 2})
    );
}

#[test]
fn user_import_refuses_each_hash_above_the_ceiling_or_malformed_with_its_line_and_reason() {
    let hostile = common::hostile_hashes();
    let mut lines: Vec<String> = hostile
        .iter()
        .enumerate()
        .map(|(i, (hash, _))| {
            json!({"id": i + 1, "primary_email": format!("user{i}@example.com"), "password_hash": hash})
                .to_string()
        })
        .collect();
    lines.push(
        json!({"id": 99, "primary_email": "fine@example.com", "password_hash": BCRYPT}).to_string(),
    );

    let (code, summary, stderr) = import(
        &lines,
        &["--store", "memory"],
        &[("SESSION_SECRET", SECRET)],
    );

    assert_eq!(
        (code, summary),
        (
            1,
            json!({"imported": 1, "skipped": 0, "refused": hostile.len(), "without_password": 0})
        ),
        "{stderr}"
    );
    for (i, (hash, reason)) in hostile.iter().enumerate() {
        let expected = format!("line {}: refused: password_hash {reason}", i + 1);
        assert!(
            stderr.lines().any(|line| line.ends_with(&expected)),
            "{hash}: {expected:?} in {stderr}"
        );
    }
    for hash in ["$2b$", "$argon2"] {
        assert!(!stderr.contains(hash), "no hash in the report: {stderr}");
    }
}

#[tokio::test]
async fn in_nuxt_mode_serve_and_session_mint_print_sealed_nuxt_cookies() {
    let nuxt = [
        ("SESSION_FORMAT", "nuxt"),
        ("NUXT_SESSION_PASSWORD", common::NUXT_PASSWORD),
    ];
    let served = serve(&["--seed", "a@example.com:password-a"], &nuxt);
    let seeded = served.lines[0]["cookie"].as_str().unwrap();
    assert!(seeded.starts_with("neptun-session=Fe26.2**"), "{seeded}");
    let (code, minted, stderr) = run(
        &[
            "session",
            "mint",
            "--user-id",
            "1",
            "--email",
            "a@example.com",
        ],
        &nuxt,
    );
    assert_eq!(code, 0, "{stderr}");
    let minted = minted.trim();
    assert!(minted.starts_with("neptun-session=Fe26.2**"), "{minted}");
    for (why, cookie, address) in [
        ("seeded", seeded, "b@example.com"),
        ("minted", minted, "c@example.com"),
    ] {
        let (status, body) = patch(
            &served.url,
            1,
            cookie,
            &json!({ "email": address }).to_string(),
        )
        .await;
        assert_eq!(
            (status, body),
            (200, json!({"user": {"id": 1, "primary_email": address}})),
            "{why}"
        );
    }
    let (code, _, stderr) = run(
        &[
            "session",
            "mint",
            "--user-id",
            "1",
            "--email",
            "a@example.com",
        ],
        &[
            ("SESSION_FORMAT", "nuxt"),
            ("NUXT_SESSION_PASSWORD", "short"),
        ],
    );
    assert_eq!(code, 1);
    assert!(
        stderr.contains("NUXT_SESSION_PASSWORD is too short"),
        "{stderr}"
    );
}
