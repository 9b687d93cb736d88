//! One way to start the real server for a test: [`spawn_app`], on port 0, sharing nothing.
//!
//! The store is the in-memory one unless `NEPTUN_TEST_STORE=dynamodb`, in which case each
//! app gets a fresh table on the emulator at `AWS_ENDPOINT_URL_DYNAMODB` (the README's test
//! command starts one), so the same suite proves both stores.

#![allow(dead_code)]

pub mod aws_stand_in;
pub mod dynamo;
pub mod openapi;
pub mod raw_http;
pub mod runtime_api;
pub mod slow_dynamo;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use neptun_users::clock::{unix_now, unix_now_ms};
use neptun_users::context::Scheme;
use neptun_users::domain::{Email, NewPassword, UserId};
use neptun_users::password::Hasher;
use neptun_users::server::ServerLimits;
use neptun_users::session::Session;
use neptun_users::store::{DynamoStore, MemoryStore, UserStore};
use neptun_users::{AppContext, Config, SessionKeys};
use serde_json::Value;

pub const SECRET: &str = "test-secret-test-secret-test-secret-0001";
pub const PREVIOUS_SECRET: &str = "old-secret-old-secret-old-secret-00000001";
pub const ALLOWED_ORIGIN: &str = "https://app.example.com";
/// The Nuxt app's `NUXT_SESSION_PASSWORD` in the tests of `SESSION_FORMAT=nuxt`.
pub const NUXT_PASSWORD: &str = "nuxt-session-password-nuxt-session-password";

/// The settings of a function beside the Nuxt app.
pub fn nuxt_config() -> Config {
    config(&[
        ("SESSION_FORMAT", "nuxt"),
        ("NUXT_SESSION_PASSWORD", NUXT_PASSWORD),
    ])
}

/// The settings of a function beside the Nuxt app whose own sign-in still makes sessions
/// (`NUXT_UNSTAMPED_SESSIONS=accept`).
pub fn nuxt_config_accepting() -> Config {
    config(&[
        ("SESSION_FORMAT", "nuxt"),
        ("NUXT_SESSION_PASSWORD", NUXT_PASSWORD),
        ("NUXT_UNSTAMPED_SESSIONS", "accept"),
    ])
}

/// What the Nuxt app's login puts in the cookie (`setUserSession(event, {user, loggedInAt})`),
/// sealed as h3 seals it: no session version, no iron expiration. `tests/interop.rs` proves
/// the real h3 seals the same way.
pub fn nuxt_login_cookie(password: &str, id: u64, email: &str, logged_in_at_ms: i64) -> String {
    let object = serde_json::json!({
        "id": "6f1c1b0e-3c52-4d7e-9a0e-5c4f8f0c2b7d",
        "createdAt": logged_in_at_ms - 5,
        "data": {
            "user": {"id": id, "primary_email": email},
            "loggedInAt": neptun_users::clock::format_time_ms(logged_in_at_ms),
        },
    });
    let password = neptun_users::iron::IronPassword::new(password).expect("a long password");
    let sealed = neptun_users::iron::seal(object.to_string().as_bytes(), &password, None);
    format!("neptun-session={sealed}")
}

/// Everything every server in this test process logged, at `trace` for all crates (less what
/// the programs themselves never let through): the suite checks that no secret it handled
/// ever appears here.
static LOGS: std::sync::Mutex<Vec<u8>> = std::sync::Mutex::new(Vec::new());

/// Appends a log line to [`LOGS`]; `TEST_LOG=1` shows it too, past the test harness's capture.
fn keep_log_line(line: &[u8]) {
    LOGS.lock()
        .unwrap_or_else(|p| p.into_inner())
        .extend_from_slice(line);
    static SHOW: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    if *SHOW.get_or_init(|| std::env::var_os("TEST_LOG").is_some_and(|v| v != "0")) {
        let _ = std::io::Write::write_all(&mut std::io::stderr(), line);
    }
}

/// The deployed functions' own JSON lines, written to [`LOGS`].
fn capture_logs() {
    use neptun_users::telemetry::{LineFormat, LogLines};
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let _ = tracing_subscriber::registry()
        .with(LogLines::new(LineFormat::Json, keep_log_line))
        .with(tracing_subscriber::filter::LevelFilter::TRACE)
        .with(neptun_users::telemetry::without_dependency_trace())
        .try_init();
}

/// Everything logged so far in this test process.
pub fn captured_logs() -> String {
    String::from_utf8_lossy(&LOGS.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
}

/// The fields of every captured log event whose message is `message` and whose `request_id`
/// is `request_id` (the local server answers with it as `X-Request-Id`).
pub fn logged(message: &str, request_id: &str) -> Vec<Value> {
    captured_logs()
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["message"] == message && line["request_id"] == request_id)
        .collect()
}

/// Fails if any of `secrets` (or any Argon2 PHC string) was ever logged. One pass over the
/// logs for all secrets at once: a soak run hands over thousands of cookies.
pub fn assert_logs_hold_no(secrets: &[String]) {
    let logs = captured_logs();
    let mut needles: Vec<&str> = secrets
        .iter()
        .map(String::as_str)
        .filter(|s| s.len() >= 8)
        .collect();
    needles.push("$argon2");
    let finder = aho_corasick::AhoCorasick::new(&needles).expect("secrets make a valid automaton");
    if let Some(found) = finder.find(&logs) {
        let secret = needles[found.pattern().as_usize()];
        panic!("a secret was logged: {secret:.12}…");
    }
}

/// A running server, or the handler alone, and what a test needs to talk to it and look
/// behind it.
pub struct TestApp {
    /// The server's address; for the handler alone ([`handler_app`]), one nothing answers on.
    pub base_url: String,
    pub host: String,
    pub store: Arc<dyn UserStore>,
    pub memory: Option<Arc<MemoryStore>>,
    pub keys: SessionKeys,
    pub client: reqwest::Client,
    /// The server's context: its hasher (to count hashes) and clock (to move time).
    pub ctx: Arc<AppContext>,
    /// Passwords, cookie values and the signing secret this app saw; checked against the
    /// logs when the app is dropped.
    secrets: std::sync::Mutex<Vec<String>>,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    served: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    /// Requests call `neptun_users::handle` directly instead of going over TCP.
    in_process: bool,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if !std::thread::panicking() {
            assert_logs_hold_no(&self.secrets.lock().unwrap());
        }
    }
}

/// What came back, with the body parsed as JSON where it is JSON.
#[derive(Debug)]
pub struct TestResponse {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub text: String,
}

impl TestResponse {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|_| panic!("body is not JSON: {:?}", self.text))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn set_cookies(&self) -> Vec<&str> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect()
    }

    /// The `name=value` part of the refreshed session cookie.
    pub fn session_cookie(&self) -> String {
        let cookies = self.set_cookies();
        assert_eq!(cookies.len(), 1, "exactly one Set-Cookie: {cookies:?}");
        cookies[0].split(';').next().unwrap().to_owned()
    }
}

/// `PATCH {url}/api/users/{id}` with the cookie and a JSON body, to a server of any kind (a
/// built binary's): no contract checks, unlike [`TestApp::patch`].
pub async fn patch_at(
    url: &str,
    id: impl std::fmt::Display,
    cookie: &str,
    body: &str,
) -> TestResponse {
    let response = reqwest::Client::new()
        .patch(format!("{url}/api/users/{id}"))
        .header("cookie", cookie)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    TestResponse {
        status,
        headers,
        text,
    }
}

/// A test user: its id, email, password and a valid cookie.
#[derive(Debug, Clone)]
pub struct TestUser {
    pub id: u64,
    pub email: String,
    pub cookie: String,
}

pub fn config(vars: &[(&str, &str)]) -> Config {
    let mut vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    vars.entry("SESSION_SECRET".into())
        .or_insert_with(|| SECRET.into());
    vars.entry("ALLOWED_ORIGINS".into())
        .or_insert_with(|| ALLOWED_ORIGIN.into());
    Config::from_lookup(|name| vars.get(name).cloned()).expect("test config is valid")
}

pub fn dynamodb_under_test() -> bool {
    std::env::var("NEPTUN_TEST_STORE").as_deref() == Ok("dynamodb")
}

static TABLES: AtomicU64 = AtomicU64::new(0);

/// The emulator's endpoint, or `None` with a SKIPPED message when none is configured. With
/// `NEPTUN_REQUIRE_DYNAMODB=1` (scripts/test, CI) a missing emulator fails the test instead.
pub fn emulator_endpoint() -> Option<String> {
    let endpoint = std::env::var("AWS_ENDPOINT_URL_DYNAMODB").ok();
    if endpoint.is_none() {
        assert!(
            std::env::var("NEPTUN_REQUIRE_DYNAMODB").as_deref() != Ok("1"),
            "NEPTUN_REQUIRE_DYNAMODB=1 but AWS_ENDPOINT_URL_DYNAMODB is not set"
        );
        // Straight to the stderr handle, past the test harness's capture, once per binary:
        // a skip must be seen, not only logged for failing tests.
        static SAID: std::sync::Once = std::sync::Once::new();
        SAID.call_once(|| {
            use std::io::Write as _;
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED: the DynamoDB tests of this binary (no emulator: AWS_ENDPOINT_URL_DYNAMODB unset); scripts/test runs them"
            );
        });
    }
    endpoint
}

/// A fresh table on the emulator, or `None` (see [`emulator_endpoint`]).
pub async fn fresh_dynamo_store() -> Option<DynamoStore> {
    emulator_endpoint()?;
    let table = format!(
        "neptun-test-{}-{}-{}",
        std::process::id(),
        TABLES.fetch_add(1, Ordering::Relaxed),
        unix_now()
    );
    let store = DynamoStore::from_env(&table)
        .await
        .expect("emulator client");
    store
        .create_table()
        .await
        .expect("create table on the emulator");
    Some(store)
}

/// Starts the server with the default test configuration.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(config(&[])).await
}

/// Starts the server with `config` over the store under test.
pub async fn spawn_app_with(config: Config) -> TestApp {
    let (store, memory) = store_under_test().await;
    spawn_app_over(config, store, memory).await
}

/// The store the suite runs over: DynamoDB on the emulator under `NEPTUN_TEST_STORE=dynamodb`,
/// else memory (also returned as itself, for tests that look inside).
async fn store_under_test() -> (Arc<dyn UserStore>, Option<Arc<MemoryStore>>) {
    if dynamodb_under_test() {
        let store = fresh_dynamo_store()
            .await
            .expect("NEPTUN_TEST_STORE=dynamodb needs AWS_ENDPOINT_URL_DYNAMODB");
        (Arc::new(store), None)
    } else {
        let memory = Arc::new(MemoryStore::new());
        (memory.clone(), Some(memory))
    }
}

/// Starts the server over a given store.
pub async fn spawn_app_over(
    config: Config,
    store: Arc<dyn UserStore>,
    memory: Option<Arc<MemoryStore>>,
) -> TestApp {
    spawn_app_limited(ServerLimits::default(), config, store, memory).await
}

/// The handler alone over the store under test, with the default test configuration: its
/// requests call `neptun_users::handle` in process, as an entry point calls it once it has
/// read a request (axum's `oneshot` style). For what the handler decides; what needs a socket
/// (timeouts, request ids, the server's own headers and limits) takes [`spawn_app`].
pub async fn handler_app() -> TestApp {
    handler_app_with(config(&[])).await
}

/// [`handler_app`] with `config`.
pub async fn handler_app_with(config: Config) -> TestApp {
    let (store, memory) = store_under_test().await;
    app_over(config, store, memory)
}

/// Starts the server with `limits` (tests shorten its timeouts) over a given store.
pub async fn spawn_app_limited(
    limits: ServerLimits,
    config: Config,
    store: Arc<dyn UserStore>,
    memory: Option<Arc<MemoryStore>>,
) -> TestApp {
    let mut app = app_over(config, store, memory);
    let (listener, addr) = neptun_users::server::bind("127.0.0.1:0".parse().unwrap())
        .await
        .expect("bind port 0");
    let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
    app.served = Some(tokio::spawn(neptun_users::server::serve_with(
        limits,
        listener,
        Arc::clone(&app.ctx),
        async {
            let _ = stopped.await;
        },
    )));
    app.shutdown = Some(shutdown);
    app.base_url = format!("http://{addr}");
    app.host = addr.to_string();
    app.in_process = false;
    app
}

/// An app over `store` whose requests call the handler in process, until a server is started
/// for it.
fn app_over(
    config: Config,
    store: Arc<dyn UserStore>,
    memory: Option<Arc<MemoryStore>>,
) -> TestApp {
    capture_logs();
    let keys = SessionKeys::new(&config);
    let secrets = config.session.all();
    let ctx = Arc::new(AppContext::new(config, store.clone(), Scheme::Http));
    TestApp {
        ctx,
        // The discard port: nothing in a test answers there.
        base_url: "http://127.0.0.1:9".to_owned(),
        host: "127.0.0.1:3000".to_owned(),
        store,
        memory,
        keys,
        client: reqwest::Client::new(),
        secrets: std::sync::Mutex::new(secrets),
        shutdown: None,
        served: None,
        in_process: true,
    }
}

impl TestApp {
    /// Signals the server to shut down; the handle ends when the server has stopped.
    pub fn shut_down(&mut self) -> tokio::task::JoinHandle<std::io::Result<()>> {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        self.served.take().expect("shut down once")
    }

    /// Records a secret this test handled, to be looked for in the logs.
    pub fn remember(&self, secret: &str) {
        let secret = secret.split(';').next().unwrap_or_default();
        let secret = secret.strip_prefix("neptun-session=").unwrap_or(secret);
        self.secrets.lock().unwrap().push(secret.to_owned());
    }

    /// Creates a user directly in the store and mints a cookie for it.
    pub async fn seed(&self, email: &str, password: &str) -> TestUser {
        self.remember(password);
        let hash = Hasher::new(1)
            .hash(NewPassword::parse(password).unwrap())
            .await
            .unwrap();
        let user = self
            .store
            .create_user(&Email::parse(email).unwrap(), &hash, unix_now(), first_id())
            .await
            .expect("seed user");
        TestUser {
            id: user.id.get(),
            email: email.to_owned(),
            cookie: self.cookie_for(user.id.get(), email, user.session_version),
        }
    }

    /// Creates a user directly in the store with a given stored hash (bcrypt for an
    /// imported user) and mints a cookie for it.
    pub async fn seed_with_hash(&self, email: &str, hash: &str) -> TestUser {
        let user = self
            .store
            .create_user(
                &Email::parse(email).unwrap(),
                &neptun_users::password::PasswordHash::from_stored(hash.to_owned()),
                unix_now(),
                first_id(),
            )
            .await
            .expect("seed user");
        TestUser {
            id: user.id.get(),
            email: email.to_owned(),
            cookie: self.cookie_for(user.id.get(), email, user.session_version),
        }
    }

    /// A valid cookie for any id, email and version, signed with the server's key.
    pub fn cookie_for(&self, id: u64, email: &str, version: u64) -> String {
        let session = self.keys.issue(
            UserId::new(id).unwrap(),
            email,
            version,
            unix_now_ms(),
            None,
        );
        self.cookie_of(&session)
    }

    /// A Nuxt login's cookie for `user`, logged in at `logged_in_at_ms`, under the test
    /// password; remembered as a secret.
    pub fn nuxt_login(&self, user: &TestUser, logged_in_at_ms: i64) -> String {
        let cookie = nuxt_login_cookie(NUXT_PASSWORD, user.id, &user.email, logged_in_at_ms);
        self.remember(&cookie);
        cookie
    }

    /// A cookie for an arbitrary session, signed with the server's key.
    pub fn cookie_of(&self, session: &Session) -> String {
        let cookie = self.keys.cookie_pair(session);
        self.remember(&cookie);
        cookie
    }

    /// `PATCH /api/users/{id}` with a JSON body and the cookie.
    pub async fn patch(
        &self,
        id: impl std::fmt::Display,
        cookie: &str,
        body: &str,
    ) -> TestResponse {
        self.request(
            "PATCH",
            &format!("/api/users/{id}"),
            &[("cookie", cookie), ("content-type", "application/json")],
            body,
        )
        .await
    }

    /// `POST {path}` with a JSON body and, when not empty, a cookie: a sign-in or sign-up.
    pub async fn post(&self, path: &str, cookie: &str, body: &str) -> TestResponse {
        self.request(
            "POST",
            path,
            &[("cookie", cookie), ("content-type", "application/json")],
            body,
        )
        .await
    }

    /// Any request; headers with an empty value are left out.
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> TestResponse {
        if let Ok(body) = serde_json::from_str::<Value>(body) {
            for field in ["password", "current_password", "confirmPassword"] {
                if let Some(password) = body[field].as_str() {
                    self.remember(password);
                }
            }
        }
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let headers = headers.iter().filter(|(_, value)| !value.is_empty());
        let response = if self.in_process {
            self.handle_in_process(&method, path, headers, body).await
        } else {
            let mut request = self
                .client
                .request(method.clone(), format!("{}{}", self.base_url, path));
            for (name, value) in headers {
                request = request.header(*name, *value);
            }
            let response = request.body(body.to_owned()).send().await.expect("request");
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let text = response.text().await.expect("body");
            TestResponse {
                status,
                headers,
                text,
            }
        };
        openapi::assert_documented(
            method.as_str(),
            path.split('?').next().unwrap_or(path),
            &response,
        );
        for cookie in response.set_cookies() {
            self.remember(cookie);
        }
        if response.status >= 400 {
            assert!(
                response.set_cookies().is_empty(),
                "an error never sets a cookie: {response:?}"
            );
            assert_contract_headers(&response);
        }
        response
    }

    /// The request as the local server would hand it to the handler (with the `Host` a
    /// client sends to [`TestApp::host`] unless the test gives one), answered in process.
    async fn handle_in_process<'h>(
        &self,
        method: &reqwest::Method,
        path: &str,
        headers: impl Iterator<Item = &'h (&'h str, &'h str)>,
        body: &str,
    ) -> TestResponse {
        let mut request = http::Request::builder().method(method.as_str()).uri(path);
        let mut has_host = false;
        for (name, value) in headers {
            has_host |= name.eq_ignore_ascii_case("host");
            request = request.header(*name, *value);
        }
        if !has_host {
            request = request.header("host", &self.host);
        }
        let request = request
            .body(bytes::Bytes::from(body.to_owned()))
            .expect("a well-formed test request");
        let response = neptun_users::handle(&self.ctx, request).await;
        TestResponse {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            text: response.into_body(),
        }
    }

    /// Sends an address change with each `(why, cookie)` and asserts every one answers the
    /// contract's 401, and that the user's stored address is still `email` afterwards.
    pub async fn assert_all_unauthorized(
        &self,
        user: &TestUser,
        cases: impl IntoIterator<Item = (&str, String)>,
    ) {
        for (why, cookie) in cases {
            let response = self
                .patch(user.id, &cookie, r#"{"email":"not-written@example.com"}"#)
                .await;
            assert_eq!(
                (response.status, response.json()),
                (401, error_body(401, "Unauthorized", None)),
                "{why}"
            );
        }
        assert_eq!(
            self.stored(user.id).await.email.as_str(),
            user.email,
            "nothing was written"
        );
    }

    /// The stored user, read back from the store.
    pub async fn stored(&self, id: u64) -> neptun_users::store::StoredUser {
        self.store
            .get_user(UserId::new(id).unwrap())
            .await
            .unwrap()
            .expect("user exists")
    }
}

/// Every JSON response carries these (docs/contract.md, "Responses").
pub fn assert_contract_headers(response: &TestResponse) {
    assert_eq!(
        response.header("content-type"),
        Some("application/json"),
        "{response:?}"
    );
    assert_eq!(
        response.header("cache-control"),
        Some("no-store"),
        "{response:?}"
    );
    assert_eq!(
        response.header("x-content-type-options"),
        Some("nosniff"),
        "{response:?}"
    );
}

/// The error body for a status, message and optional issues, exactly.
pub fn error_body(status: u16, message: &str, issues: Option<Value>) -> Value {
    let reason = reqwest::StatusCode::from_u16(status)
        .unwrap()
        .canonical_reason()
        .unwrap();
    let mut body = serde_json::json!({
        "statusCode": status,
        "statusMessage": format!("{reason}."),
        "message": message,
    });
    if let Some(issues) = issues {
        body["data"] = serde_json::json!({ "issues": issues });
    }
    body
}

/// A real DynamoDB client, configured as in production but pointed at `port` on loopback,
/// with region and credentials given so nothing is looked up elsewhere.
pub async fn dynamo_client_at(port: u16) -> aws_sdk_dynamodb::Client {
    let sdk_config = neptun_users::aws::sdk_config_loader()
        .endpoint_url(format!("http://127.0.0.1:{port}"))
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .load()
        .await;
    aws_sdk_dynamodb::Client::new(&sdk_config)
}

/// A store whose DynamoDB endpoint is a port where nothing listens.
pub async fn unreachable_dynamo_store(port: u16) -> DynamoStore {
    DynamoStore::with_client(dynamo_client_at(port).await, "neptun-users")
}

/// A number no other call in this test process gets: for names of tables and files.
pub fn unique() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The default `USER_ID_FLOOR`: ids from 1.
pub fn first_id() -> neptun_users::domain::UserId {
    neptun_users::domain::UserId::new(1).expect("1 is a user id")
}

/// Stored hashes no verification may run, each with the reason `user import` gives (after
/// `password_hash`): issue #17's, and one step past each bound of the ceiling.
pub fn hostile_hashes() -> Vec<(String, &'static str)> {
    const SALT: &str = "c2FsdHNhbHRzYWx0c2FsdA";
    const TAG: &str = "aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g";
    const BCRYPT_DIGEST: &str = "R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW";
    let argon2 =
        |variant: &str, params: &str| format!("$argon2{variant}$v=19${params}${SALT}${TAG}");
    let bcrypt = |cost: &str| format!("$2b${cost}${BCRYPT_DIGEST}");
    let memory = "costs more than the ceiling: Argon2 memory (m) above 65536 KiB";
    let bcrypt_cost = "costs more than the ceiling: bcrypt cost above 14";
    vec![
        (argon2("id", "m=4294967295,t=4294967295,p=16777215"), memory),
        (bcrypt("31"), bcrypt_cost),
        (bcrypt("99"), bcrypt_cost),
        (
            "$argon2id$v=$$$".to_owned(),
            "is not a well-formed Argon2id PHC string or bcrypt hash",
        ),
        (
            argon2("i", "m=19456,t=2,p=1"),
            "is an Argon2 variant other than argon2id",
        ),
        (argon2("id", "m=65537,t=2,p=1"), memory),
        (
            argon2("id", "m=19456,t=11,p=1"),
            "costs more than the ceiling: Argon2 iterations (t) above 10",
        ),
        (
            argon2("id", "m=19456,t=2,p=5"),
            "costs more than the ceiling: Argon2 parallelism (p) above 4",
        ),
        (bcrypt("15"), bcrypt_cost),
    ]
}

/// Asserts the contract's 429 for a window of attempts opened at most a few seconds ago: its
/// body, and a `Retry-After` of the rest of the 15 minutes.
pub fn assert_locked(response: &TestResponse, why: &str) {
    assert_eq!(
        (response.status, response.json()),
        (
            429,
            error_body(429, "Too many attempts; try again later.", None)
        ),
        "{why}"
    );
    let retry_after: u64 = response
        .header("retry-after")
        .expect("a 429 says when to try again")
        .parse()
        .unwrap();
    assert!(
        (890..=900).contains(&retry_after),
        "{why}: Retry-After {retry_after}"
    );
}
