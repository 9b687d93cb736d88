//! The deploy binaries, run the way their platforms run them: the Lambda binary under a
//! Runtime API fed recorded API Gateway / Function URL events, the Vercel binary as the HTTP
//! server `vercel_runtime` starts on `VERCEL_DEV_PORT`. Both over DynamoDB on the emulator.
//!
//! A case both doors must answer alike is written once and run through each [`Door`]; what
//! only one platform does (API Gateway's event kinds, Vercel's URL forms, request ids, OIDC)
//! has that door's own test.

use crate::common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::aws_stand_in::{AwsStandIn, SecretAnswer};
use common::runtime_api::RuntimeApi;
use common::*;
use serde_json::{Value, json};

const LAMBDA: &str = env!("CARGO_BIN_EXE_lambda");
const VERCEL: &str = env!("CARGO_BIN_EXE_user_id");

/// A child process killed on drop.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A fresh table with one user; the environment a deployed function would get for it.
async fn deployment() -> Option<(TestUser, Vec<(String, String)>, TestApp)> {
    let store = fresh_dynamo_store().await?;
    let table = store.table().to_owned();
    let app = spawn_app_over(config(&[]), std::sync::Arc::new(store), None).await;
    let user = app.seed("lambda@example.com", "old-password").await;
    let env = vec![
        ("SESSION_SECRET".to_owned(), SECRET.to_owned()),
        ("USERS_TABLE".to_owned(), table),
        ("RUST_LOG".to_owned(), "warn".to_owned()),
    ];
    Some((user, env, app))
}

fn event(file: &str) -> Value {
    let path = format!("{}/tests/events/{file}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The recorded HTTP API (v2) event, retargeted at `PATCH /api/users/{id}`.
fn v2_event(id: &str, cookie: &str, body: &str) -> Value {
    let mut event = event("apigw_v2.json");
    event["routeKey"] = json!("PATCH /api/users/{user_id}");
    event["rawPath"] = json!(format!("/api/users/{id}"));
    event["rawQueryString"] = json!("");
    event["queryStringParameters"] = json!({});
    event["cookies"] = json!(["theme=dark", cookie]);
    event["headers"]["content-type"] = json!("application/json");
    event["pathParameters"] = json!({ "user_id": id });
    event["requestContext"]["routeKey"] = json!("PATCH /api/users/{user_id}");
    event["requestContext"]["http"]["method"] = json!("PATCH");
    event["requestContext"]["http"]["path"] = json!(format!("/api/users/{id}"));
    event["body"] = json!(body);
    event["isBase64Encoded"] = json!(false);
    event
}

/// The recorded REST API (v1) event, retargeted likewise (with its stage in the path).
fn v1_event(id: &str, cookie: &str, body: &str) -> Value {
    let mut event = event("apigw_v1_rest.json");
    event["resource"] = json!("/api/users/{user_id}");
    event["path"] = json!(format!("/api/users/{id}"));
    event["httpMethod"] = json!("PATCH");
    event["requestContext"]["httpMethod"] = json!("PATCH");
    event["requestContext"]["resourcePath"] = json!("/api/users/{user_id}");
    event["pathParameters"] = json!({ "user_id": id });
    event["queryStringParameters"] = Value::Null;
    event["multiValueQueryStringParameters"] = Value::Null;
    for (name, value) in [("Cookie", cookie), ("Content-Type", "application/json")] {
        event["headers"][name] = json!(value);
        event["multiValueHeaders"][name] = json!([value]);
    }
    event["body"] = json!(body);
    event["isBase64Encoded"] = json!(false);
    event
}

/// The recorded REST API (v1) `/{proxy+}` event: no `user_id` parameter, the stage in
/// front of the path; the proxy parameter carries `api/users/{id}` as the client sent it.
fn v1_proxy_event(id: &str, cookie: &str, body: &str) -> Value {
    let mut event = event("apigw_v1_rest_proxy.json");
    event["path"] = json!(format!("/api/users/{id}"));
    event["pathParameters"] = json!({ "proxy": format!("api/users/{id}") });
    event["headers"]["Cookie"] = json!(cookie);
    event["multiValueHeaders"]["Cookie"] = json!([cookie]);
    event["body"] = json!(body);
    event
}

/// The recorded Function URL event: no path parameters, so the path carries the id.
fn function_url_event(id: &str, cookie: &str, body: &str) -> Value {
    let mut event = event("function_url.json");
    event["rawPath"] = json!(format!("/api/users/{id}"));
    event["rawQueryString"] = json!("");
    event["cookies"] = json!([cookie]);
    event["headers"]["cookie"] = json!(cookie);
    event["headers"]["content-type"] = json!("application/json");
    event["requestContext"]["http"]["method"] = json!("PATCH");
    event["requestContext"]["http"]["path"] = json!(format!("/api/users/{id}"));
    event["body"] = json!(body);
    event["isBase64Encoded"] = json!(false);
    event
}

/// One of the event makers above: `(id, cookie, body)` to a recorded event.
type MakeEvent = fn(&str, &str, &str) -> Value;

fn start_lambda(api: &RuntimeApi, env: &[(String, String)]) -> Running {
    start_lambda_as(Command::new(LAMBDA), api, env, Stdio::null())
}

/// Runs `command` (the Lambda binary, or an emulator running another build of it) as Lambda
/// would, with its stderr going to `stderr`.
fn start_lambda_as(
    mut command: Command,
    api: &RuntimeApi,
    env: &[(String, String)],
    stderr: Stdio,
) -> Running {
    command
        .env("AWS_LAMBDA_RUNTIME_API", &api.address)
        .env("AWS_LAMBDA_FUNCTION_NAME", "neptun-users")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "test")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "test")
        .stdout(Stdio::null())
        .stderr(stderr);
    for (name, value) in env {
        command.env(name, value);
    }
    Running(command.spawn().expect("start the Lambda binary"))
}

/// The `Set-Cookie` values of a Lambda response, from v2's `cookies` or v1's headers.
fn lambda_set_cookies(response: &Value) -> Vec<String> {
    response["cookies"]
        .as_array()
        .or_else(|| response["multiValueHeaders"]["set-cookie"].as_array())
        .map(|cookies| {
            cookies
                .iter()
                .map(|cookie| cookie.as_str().unwrap().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The refreshed session cookie of a Lambda response.
fn lambda_set_cookie(response: &Value) -> String {
    let cookies = lambda_set_cookies(response);
    assert_eq!(cookies.len(), 1, "one Set-Cookie in {response}");
    cookies[0].clone()
}

#[tokio::test]
async fn the_lambda_binary_answers_v2_v1_and_function_url_events() {
    let Some((user, env, app)) = deployment().await else {
        return;
    };
    let api = RuntimeApi::start().await;
    let _lambda = start_lambda(&api, &env);
    let id = user.id.to_string();
    let kinds: [(&str, MakeEvent); 4] = [
        ("HTTP API v2", v2_event),
        ("REST API v1", v1_event),
        ("REST API v1, /{proxy+} resource", v1_proxy_event),
        ("Function URL", function_url_event),
    ];

    let mut cookie = user.cookie.clone();
    for (i, (kind, make)) in kinds.into_iter().enumerate() {
        let address = format!("lambda{i}@example.com");
        let response = api
            .invoke(make(&id, &cookie, &json!({ "email": address }).to_string()))
            .await;
        let response = response.unwrap_or_else(|e| panic!("{kind}: error {e}"));

        assert_eq!(response["statusCode"], 200, "{kind}: {response}");
        let body: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
        assert_eq!(
            body,
            json!({"user": {"id": user.id, "primary_email": address}}),
            "{kind}"
        );
        let set_cookie = lambda_set_cookie(&response);
        assert!(
            set_cookie.contains("HttpOnly")
                && set_cookie.contains("SameSite=Lax")
                && set_cookie.contains("Secure"),
            "{kind}"
        );
        cookie = set_cookie.split(';').next().unwrap().to_owned();
        let session = app
            .keys
            .verify([cookie.as_str()], neptun_users::clock::unix_now_ms())
            .unwrap();
        assert_eq!(
            session.session.email, address,
            "{kind}: the refreshed cookie carries the new email"
        );
    }
}

#[tokio::test]
async fn the_lambda_binary_answers_errors_in_the_contracts_shape() {
    let Some((user, env, app)) = deployment().await else {
        return;
    };
    let api = RuntimeApi::start().await;
    let _lambda = start_lambda(&api, &env);
    let id = user.id.to_string();

    let cases = [
        (
            "no cookie",
            v2_event(&id, "", r#"{"email":"b@example.com"}"#),
            401,
            "Unauthorized",
        ),
        (
            "bad body",
            v2_event(&id, &user.cookie, "{}"),
            400,
            "Invalid body(?email, ?password). At least one of email or password is required.",
        ),
        (
            "bad id",
            v2_event("abc", &user.cookie, "{}"),
            400,
            "Invalid route parameter user_id.",
        ),
        (
            "v1 bad JSON",
            v1_event(&id, &user.cookie, "{"),
            400,
            "Invalid JSON body",
        ),
        (
            "function URL, other user",
            function_url_event("999", &user.cookie, "{}"),
            403,
            "You do not have access to this resource.",
        ),
    ];
    for (why, event, status, message) in cases {
        let response = api
            .invoke(event)
            .await
            .unwrap_or_else(|e| panic!("{why}: error {e}"));
        assert_eq!(response["statusCode"], status, "{why}: {response}");
        let body: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
        assert_eq!(body["message"], message, "{why}");
        assert!(
            response["cookies"].as_array().is_none_or(|c| c.is_empty()),
            "{why}: no cookie on errors"
        );
    }
    let mut encoded = v2_event(&id, &user.cookie, "");
    encoded["body"] = json!("eyJwYXNzd29yZCI6Im5ldy1wYXNzd29yZCJ9"); // {"password":"new-password"}
    encoded["isBase64Encoded"] = json!(true);
    let response = api.invoke(encoded).await.unwrap();
    assert_eq!(
        response["statusCode"], 200,
        "a base64 body is decoded: {response}"
    );
    let stored = app.stored(user.id).await;
    assert!(neptun_users::password::verify(
        "new-password",
        stored.password_hash.as_ref().unwrap()
    ));
}

/// `%37` for `7`, every byte of `id` percent-encoded.
fn percent_encoded(id: &str) -> String {
    id.bytes().map(|b| format!("%{b:02X}")).collect()
}

#[tokio::test]
async fn the_lambda_binary_decodes_path_parameters_exactly_once() {
    let Some((user, env, _app)) = deployment().await else {
        return;
    };
    let api = RuntimeApi::start().await;
    let _lambda = start_lambda(&api, &env);
    let id = user.id.to_string();
    let encoded = percent_encoded(&id);
    let invalid = error_body(
        400,
        "Invalid route parameter user_id.",
        Some(
            json!([{"code":"invalid_string","validation":"regex","message":"user_id must be a positive integer written with digits only.","path":["user_id"]}]),
        ),
    );
    // (why, event, the id as the event carries it, expected status; 400s answer `invalid`)
    let cases: [(&str, MakeEvent, String, u16); 6] = [
        (
            "REST API: an encoded id is decoded",
            v1_event,
            encoded.clone(),
            200,
        ),
        (
            "REST API: an encoded sign stays a sign",
            v1_event,
            format!("%2B{id}"),
            400,
        ),
        (
            "REST API: decoded once, not twice",
            v1_event,
            format!("%25{}", &encoded[1..]),
            400,
        ),
        (
            "REST API /{proxy+}: an encoded id is decoded",
            v1_proxy_event,
            encoded.clone(),
            200,
        ),
        (
            "REST API /{proxy+}: an encoded slash is no second segment",
            v1_proxy_event,
            format!("{id}%2F1"),
            400,
        ),
        (
            "HTTP API: already decoded, never decoded again",
            v2_event,
            encoded.clone(),
            400,
        ),
    ];
    for (i, (why, make, raw_id, status)) in cases.into_iter().enumerate() {
        let address = format!("decoded{i}@example.com");
        let body = json!({ "email": address }).to_string();
        let response = api
            .invoke(make(&raw_id, &user.cookie, &body))
            .await
            .unwrap_or_else(|e| panic!("{why}: error {e}"));

        assert_eq!(response["statusCode"], status, "{why}: {response}");
        let answered: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
        let expected = if status == 200 {
            json!({"user": {"id": user.id, "primary_email": address}})
        } else {
            invalid.clone()
        };
        assert_eq!(answered, expected, "{why}");
    }
}

#[tokio::test]
async fn the_lambda_binary_takes_its_own_host_from_api_gateway_not_from_headers() {
    let Some((user, env, _app)) = deployment().await else {
        return;
    };
    let api = RuntimeApi::start().await;
    let _lambda = start_lambda(&api, &env);
    let id = user.id.to_string();
    let domain = event("apigw_v2.json")["requestContext"]["domainName"]
        .as_str()
        .unwrap()
        .to_owned();
    let real = format!("https://{domain}");
    // (why, Origin, expected status)
    let cases = [
        (
            "an Origin equal to the spoofed host",
            "https://evil.example",
            403,
        ),
        ("an Origin equal to API Gateway's host", real.as_str(), 200),
    ];
    let mut cookie = user.cookie.clone();
    for (i, (why, origin, expected)) in cases.into_iter().enumerate() {
        let address = format!("origin{i}@example.com");
        let mut event = v2_event(&id, &cookie, &json!({ "email": address }).to_string());
        event["headers"]["x-forwarded-host"] = json!("evil.example");
        event["headers"]["x-forwarded-proto"] = json!("https");
        event["headers"]["origin"] = json!(origin);
        let response = api.invoke(event).await.unwrap();

        assert_eq!(response["statusCode"], expected, "{why}: {response}");
        let body: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
        if expected == 200 {
            assert_eq!(
                body,
                json!({"user": {"id": user.id, "primary_email": address}}),
                "{why}"
            );
            cookie = lambda_set_cookie(&response)
                .split(';')
                .next()
                .unwrap()
                .to_owned();
        } else {
            assert_eq!(
                body,
                json!({"statusCode": 403, "statusMessage": "Forbidden.", "message": "You do not have access to this resource."}),
                "{why}"
            );
        }
    }
}

/// Starts the Vercel binary on a free port and waits until it accepts connections.
async fn start_vercel(env: &[(String, String)]) -> (Running, String) {
    start_vercel_logging_to(env, Stdio::null()).await
}

/// [`start_vercel`], with the binary's stderr going to `stderr`.
async fn start_vercel_logging_to(env: &[(String, String)], stderr: Stdio) -> (Running, String) {
    start_vercel_as(Command::new(VERCEL), env, stderr).await
}

/// Runs `command` (the Vercel binary, perhaps with variables removed) as [`start_vercel`].
async fn start_vercel_as(
    mut command: Command,
    env: &[(String, String)],
    stderr: Stdio,
) -> (Running, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    command
        .env("VERCEL_DEV_PORT", port.to_string())
        .stdout(Stdio::null())
        .stderr(stderr);
    for (name, value) in env {
        command.env(name, value);
    }
    let running = Running(command.spawn().expect("start the Vercel binary"));
    let started = Instant::now();
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the Vercel binary did not listen"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    (running, format!("http://127.0.0.1:{port}"))
}

/// The two deployed doors. A case that both must answer alike is written once and run
/// through each of [`DOORS`].
#[derive(Clone, Copy, Debug)]
enum Door {
    Lambda,
    Vercel,
}

const DOORS: [Door; 2] = [Door::Lambda, Door::Vercel];

impl std::fmt::Display for Door {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Door::Lambda => "Lambda",
            Door::Vercel => "Vercel",
        })
    }
}

impl Door {
    /// `lambda` or `vercel`: in the names of log files and test addresses.
    fn slug(self) -> &'static str {
        match self {
            Door::Lambda => "lambda",
            Door::Vercel => "vercel",
        }
    }

    /// The built binary, with an empty environment but for `PATH` and what keeps the AWS SDK
    /// from looking outside it: for the tests of its refusals to start.
    fn bare_command(self) -> Command {
        let mut command = Command::new(match self {
            Door::Lambda => LAMBDA,
            Door::Vercel => VERCEL,
        });
        command
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", "/nonexistent")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("VERCEL_DEV_PORT", "0");
        command
    }

    /// Starts the binary as its platform would, with `env`, its stderr going to `stderr`:
    /// Lambda under a Runtime API of its own, Vercel listening on a free port.
    async fn start(self, env: &[(String, String)], stderr: Stdio) -> Started {
        match self {
            Door::Lambda => {
                let api = RuntimeApi::start().await;
                let running = start_lambda_as(Command::new(LAMBDA), &api, env, stderr);
                Started {
                    _running: running,
                    to: Target::Lambda(api),
                }
            }
            Door::Vercel => {
                let (running, url) = start_vercel_logging_to(env, stderr).await;
                Started {
                    _running: running,
                    to: Target::Vercel(url),
                }
            }
        }
    }
}

/// A door's binary, running (until dropped), and how to reach it.
struct Started {
    _running: Running,
    to: Target,
}

enum Target {
    Lambda(RuntimeApi),
    /// The binary's base URL.
    Vercel(String),
}

impl Started {
    /// `PATCH /api/users/{id}` with `cookie` and the JSON `body`; to Lambda as an HTTP API (v2)
    /// event.
    async fn patch(&self, id: &str, cookie: &str, body: &str) -> TestResponse {
        self.patch_as(v2_event, id, cookie, body).await
    }

    /// [`Started::patch`], with Lambda's event made by `event` (Vercel's request is the same
    /// whatever `event` is). Lambda's answer comes back as an HTTP response would.
    async fn patch_as(&self, event: MakeEvent, id: &str, cookie: &str, body: &str) -> TestResponse {
        match &self.to {
            Target::Lambda(api) => {
                let response = api
                    .invoke(event(id, cookie, body))
                    .await
                    .unwrap_or_else(|e| panic!("Lambda: error {e}"));
                let mut headers = reqwest::header::HeaderMap::new();
                for cookie in lambda_set_cookies(&response) {
                    headers.append("set-cookie", cookie.parse().unwrap());
                }
                TestResponse {
                    status: u16::try_from(response["statusCode"].as_u64().unwrap()).unwrap(),
                    headers,
                    text: response["body"].as_str().unwrap().to_owned(),
                }
            }
            Target::Vercel(url) => patch_at(url, id, cookie, body).await,
        }
    }
}

#[tokio::test]
async fn the_vercel_binary_serves_both_url_forms() {
    let Some((user, env, _app)) = deployment().await else {
        return;
    };
    let (_vercel, url) = start_vercel(&env).await;
    let client = reqwest::Client::new();
    let id = user.id;
    let paths = [
        format!("/api/users/{id}"),
        format!("/api/users/[user_id]?user_id={id}"),
        format!("/api/users/%5Buser_id%5D?user_id={id}"),
        format!("/api/users/{id}?user_id={id}"),
    ];
    let mut cookie = user.cookie.clone();
    for (i, path) in paths.iter().enumerate() {
        let address = format!("vercel{i}@example.com");
        let response = client
            .patch(format!("{url}{path}"))
            .header("cookie", &cookie)
            .header("content-type", "application/json")
            .header("x-forwarded-proto", "https")
            .header("x-forwarded-host", "neptun.example.com")
            .header("origin", "https://neptun.example.com")
            .body(json!({ "email": address }).to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let set_cookie = response.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .to_owned();
        cookie = set_cookie.split(';').next().unwrap().to_owned();
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            body,
            json!({"user": {"id": id, "primary_email": address}}),
            "{path}"
        );
    }
    let literal = client
        .patch(format!("{url}/api/users/[user_id]"))
        .header("cookie", &cookie)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(
        literal.status(),
        400,
        "the literal [user_id] is never an id"
    );
    let body: Value = literal.json().await.unwrap();
    assert_eq!(
        body,
        json!({
            "statusCode": 400,
            "statusMessage": "Bad Request.",
            "message": "Invalid route parameter user_id.",
            "data": {"issues": [{
                "code": "invalid_string",
                "validation": "regex",
                "message": "user_id must be a positive integer written with digits only.",
                "path": ["user_id"],
            }]},
        })
    );
}

#[test]
fn both_binaries_refuse_to_start_with_a_bad_configuration() {
    let good_secret = ("SESSION_SECRET", SECRET);
    type Env<'a> = Vec<(&'a str, &'a str)>;
    let region = ("AWS_REGION", "us-east-1");
    let cases: [(&str, Env, &str); 10] = [
        ("no secret", vec![region], "SESSION_SECRET is not set"),
        (
            "no AWS credentials at all",
            vec![region, good_secret],
            "no AWS credentials: set ",
        ),
        (
            "a secret and the id of one in Secrets Manager",
            vec![
                region,
                good_secret,
                (
                    "SESSION_SECRET_ID",
                    "arn:aws:secretsmanager:us-east-1:1:secret:short\"",
                ),
            ],
            "both SESSION_SECRET and SESSION_SECRET_ID are set",
        ),
        (
            "short secret",
            vec![region, ("SESSION_SECRET", "short")],
            "SESSION_SECRET is too short",
        ),
        ("no region", vec![good_secret], "no AWS region"),
        (
            "an allowed origin with a path",
            vec![
                region,
                good_secret,
                ("ALLOWED_ORIGINS", "https://app.example.com/short\""),
            ],
            "ALLOWED_ORIGINS",
        ),
        (
            "an allowed origin that is null",
            vec![
                region,
                good_secret,
                ("ALLOWED_ORIGINS", "https://app.example.com,null"),
            ],
            "ALLOWED_ORIGINS",
        ),
        (
            "a deadline of zero",
            vec![region, good_secret, ("REQUEST_DEADLINE_MS", "0")],
            "REQUEST_DEADLINE_MS",
        ),
        (
            "a forwarding switch that is not a boolean",
            vec![region, good_secret, ("TRUST_FORWARDED_HEADERS", "yes")],
            "TRUST_FORWARDED_HEADERS",
        ),
        (
            "cookies without Secure",
            vec![region, good_secret, ("COOKIE_SECURE", "false")],
            "COOKIE_SECURE",
        ),
    ];
    for door in DOORS {
        for (why, env, expected) in &cases {
            let mut command = door.bare_command();
            for (name, value) in env {
                command.env(name, value);
            }
            let started = Instant::now();
            let output = command.output().unwrap();
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(!output.status.success(), "{door} {why}");
            assert!(stderr.contains(expected), "{door} {why}: {stderr}");
            assert_eq!(stderr.lines().count(), 1, "one clear line: {stderr}");
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "fails fast: {:?}",
                started.elapsed()
            );
            assert!(!stderr.contains("short\""), "no secret in the message");
        }
    }
}

/// Both deployed doors in `SESSION_FORMAT=nuxt` with `NUXT_UNSTAMPED_SESSIONS=accept`: a
/// login of the Nuxt app's own is accepted and comes back sealed in the app's format, with the
/// new address.
#[tokio::test]
async fn both_binaries_accept_and_refresh_the_nuxt_apps_sessions() {
    let Some((user, mut env, _app)) = deployment().await else {
        return;
    };
    env.retain(|(name, _)| name != "SESSION_SECRET");
    env.push(("SESSION_FORMAT".into(), "nuxt".into()));
    env.push(("NUXT_SESSION_PASSWORD".into(), NUXT_PASSWORD.into()));
    env.push(("NUXT_UNSTAMPED_SESSIONS".into(), "accept".into()));
    let nuxt = neptun_users::SessionKeys::new(&nuxt_config_accepting());
    let login = |address: &str| {
        nuxt_login_cookie(
            NUXT_PASSWORD,
            user.id,
            address,
            neptun_users::clock::unix_now_ms() - 1000,
        )
    };
    let check = |door: Door, set_cookie: &str, address: &str| {
        assert!(
            set_cookie.starts_with("neptun-session=Fe26.2**"),
            "{door}: {set_cookie}"
        );
        let pair = set_cookie.split(';').next().unwrap();
        let session = nuxt
            .verify([pair], neptun_users::clock::unix_now_ms())
            .unwrap_or_else(|e| panic!("{door}: {e:?}"));
        assert_eq!(session.session.email, address, "{door}");
    };

    let id = user.id.to_string();
    // Each door logs in with the address the one before it left.
    let mut address = user.email.clone();
    for door in DOORS {
        let started = door.start(&env, Stdio::null()).await;
        let new = format!("{}-nuxt@example.com", door.slug());
        let answer = started
            .patch(&id, &login(&address), &json!({ "email": new }).to_string())
            .await;

        assert_eq!(answer.status, 200, "{door}: {answer:?}");
        assert_eq!(
            answer.json(),
            json!({"user": {"id": user.id, "primary_email": new}}),
            "{door}"
        );
        check(door, &answer.session_cookie(), &new);
        address = new;
    }
}

/// A file in the temporary directory that a child process writes its stderr to (a pipe
/// nobody reads would stall a child logging at `trace`); removed on drop.
struct LogFile(std::path::PathBuf);

impl LogFile {
    fn new(name: &str) -> Self {
        static FILES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = FILES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("neptun-{name}-{}-{n}.log", std::process::id()));
        Self(path)
    }

    fn stdio(&self) -> Stdio {
        Stdio::from(std::fs::File::create(&self.0).expect("create the log file"))
    }

    fn read(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(&self.0).unwrap_or_default()).into_owned()
    }
}

impl Drop for LogFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Fails if `logs` hold any of `secrets` or an Argon2 hash; names the secret's start only.
fn assert_no_secret_in(logs: &str, secrets: &[&str], why: &str) {
    for secret in secrets.iter().chain(&["$argon2"]) {
        assert!(
            !logs.contains(secret),
            "{why}: a secret was logged: {:.12}…",
            secret
        );
    }
}

/// The filters that ask for everything, or for the runtime's own `trace` output, by door:
/// (door, `RUST_LOG`, `AWS_LAMBDA_LOG_LEVEL`).
const TRACE_FILTERS: [(Door, &str, &str); 4] = [
    (Door::Lambda, "trace", ""),
    (
        Door::Lambda,
        "info,lambda_runtime=trace,lambda_http=trace",
        "",
    ),
    (Door::Lambda, "warn", "TRACE"),
    (Door::Vercel, "trace", ""),
];

#[tokio::test]
async fn both_binaries_log_no_password_cookie_or_secret_even_at_trace() {
    for (door, filter, lambda_level) in TRACE_FILTERS {
        let Some((user, mut env, app)) = deployment().await else {
            return;
        };
        env.retain(|(name, _)| name != "RUST_LOG");
        env.push(("RUST_LOG".into(), filter.into()));
        if !lambda_level.is_empty() {
            env.push(("AWS_LAMBDA_LOG_LEVEL".into(), lambda_level.into()));
        }
        let log = LogFile::new(door.slug());
        let started = door.start(&env, log.stdio()).await;
        let id = user.id.to_string();
        let why = format!("{door} at {filter}");

        let changed = started
            .patch(&id, &user.cookie, r#"{"password":"trace-password-1"}"#)
            .await;
        // To Lambda as a REST API (v1) event, so both kinds of event are logged.
        let refused = started
            .patch_as(
                v1_event,
                &id,
                &user.cookie,
                r#"{"password":"trace-password-2"}"#,
            )
            .await;
        drop(started);

        assert_eq!((changed.status, refused.status), (200, 401), "{why}");
        let logs = log.read();
        assert!(
            logs.contains(r#""outcome":"ok""#),
            "{why}: the request line was logged: {logs:.2000}"
        );
        let stored = app.stored(user.id).await;
        assert_no_secret_in(
            &logs,
            &[
                "old-password",
                "trace-password-1",
                "trace-password-2",
                SECRET,
                user.cookie.trim_start_matches("neptun-session="),
                changed
                    .session_cookie()
                    .trim_start_matches("neptun-session="),
                stored.password_hash.as_ref().unwrap().as_str(),
            ],
            &why,
        );
    }
}

/// The JSON log lines of a deployed binary whose message is `message`.
fn logged_lines(logs: &str, message: &str) -> Vec<Value> {
    logs.lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|line| line["message"] == message)
        .collect()
}

#[tokio::test]
async fn the_lambda_binary_logs_lambdas_request_id_and_api_gateways_client_address() {
    let Some((user, mut env, _app)) = deployment().await else {
        return;
    };
    // Lambda's own log level comes before RUST_LOG.
    env.retain(|(name, _)| name != "RUST_LOG");
    env.extend([
        ("RUST_LOG".to_owned(), "error".to_owned()),
        ("AWS_LAMBDA_LOG_LEVEL".to_owned(), "INFO".to_owned()),
        ("AWS_LAMBDA_LOG_FORMAT".to_owned(), "JSON".to_owned()),
    ]);
    let log = LogFile::new("lambda-audit");
    let api = RuntimeApi::start().await;
    let lambda = start_lambda_as(Command::new(LAMBDA), &api, &env, log.stdio());
    let id = user.id.to_string();
    let mut v2 = v2_event(&id, &user.cookie, r#"{"email":"audit@example.com"}"#);
    v2["requestContext"]["http"]["sourceIp"] = json!("198.51.100.7");
    let cookie = lambda_set_cookie(&api.invoke(v2).await.unwrap());
    let cookie = cookie.split(';').next().unwrap();
    let v1 = api.invoke(v1_event("999", cookie, "{}")).await.unwrap();
    let url = api.invoke(function_url_event(&id, "", "{}")).await.unwrap();
    drop(lambda);

    assert_eq!(
        (&v1["statusCode"], &url["statusCode"]),
        (&json!(403), &json!(401))
    );
    let logs = log.read();
    let lines = logged_lines(&logs, "request");
    // (Lambda's request id, the client address API Gateway saw, outcome, session's user)
    let expected = [
        ("request-0", "198.51.100.7", "ok", json!(user.id)),
        (
            "request-1",
            "192.168.196.186",
            "forbidden_other_user",
            json!(user.id),
        ),
        ("request-2", "65.78.31.245", "session_missing", Value::Null),
    ];
    assert_eq!(lines.len(), expected.len(), "{logs}");
    for (line, (request_id, client_ip, outcome, user_id)) in lines.iter().zip(expected) {
        assert_eq!(line["request_id"], request_id, "{line}");
        assert_eq!(line["client_ip"], client_ip, "{line}");
        assert_eq!(line["outcome"], outcome, "{line}");
        assert_eq!(line["user_id"], user_id, "{line}");
    }
    let changed = logged_lines(&logs, "credential_changed");
    assert_eq!(changed.len(), 1, "{logs}");
    assert_eq!(
        (&changed[0]["fields"], &changed[0]["request_id"]),
        (&json!("email"), &json!("request-0"))
    );

    // AWS_LAMBDA_LOG_FORMAT=Text: the same line, for people.
    env.push(("AWS_LAMBDA_LOG_FORMAT".to_owned(), "Text".to_owned()));
    let log = LogFile::new("lambda-text");
    let api = RuntimeApi::start().await;
    let lambda = start_lambda_as(Command::new(LAMBDA), &api, &env, log.stdio());
    let response = api.invoke(function_url_event(&id, "", "{}")).await.unwrap();
    drop(lambda);
    assert_eq!(response["statusCode"], 401);
    let logs = log.read();
    let line = logs
        .lines()
        .find(|line| line.contains("session_missing"))
        .unwrap_or_else(|| panic!("a request line: {logs}"));
    assert!(
        !line.starts_with('{') && line.contains("request-0"),
        "{line}"
    );
}

#[tokio::test]
async fn the_vercel_binary_logs_vercels_request_id_and_client_address() {
    let Some((user, env, _app)) = deployment().await else {
        return;
    };
    let mut env = env;
    env.retain(|(name, _)| name != "RUST_LOG");
    env.push(("RUST_LOG".into(), "info".into()));
    let log = LogFile::new("vercel-audit");
    let (vercel, url) = start_vercel_logging_to(&env, log.stdio()).await;
    let client = reqwest::Client::new();
    // (x-vercel-id, x-real-ip, x-forwarded-for, the address logged)
    let cases = [
        (
            "fra1::iad1::abc12-1",
            "203.0.113.9",
            "203.0.113.9",
            "203.0.113.9",
        ),
        (
            "fra1::iad1::abc12-2",
            "",
            "198.51.100.4, 10.0.0.1",
            "198.51.100.4",
        ),
    ];
    for (vercel_id, real_ip, forwarded_for, _) in cases {
        let mut request = client
            .patch(format!("{url}/api/users/{}", user.id))
            .header("content-type", "application/json")
            .header("x-vercel-id", vercel_id)
            .header("x-forwarded-for", forwarded_for)
            .body("{}");
        if !real_ip.is_empty() {
            request = request.header("x-real-ip", real_ip);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401, "{vercel_id}");
    }
    drop(vercel);

    let logs = log.read();
    let lines = logged_lines(&logs, "request");
    assert_eq!(lines.len(), cases.len(), "{logs}");
    for (line, (vercel_id, _, _, client_ip)) in lines.iter().zip(cases) {
        assert_eq!(line["request_id"], vercel_id, "{line}");
        assert_eq!(line["client_ip"], client_ip, "{line}");
        assert_eq!(line["outcome"], "session_missing", "{line}");
    }
}

/// The release artifact as deployed (`scripts/smoke-arm64` builds it with cargo-lambda for
/// arm64, plus the test-only `forced-panic` feature) under `qemu-aarch64`: the recorded
/// events answer as from the debug build, and a panic while hashing answers the contract's
/// 500 and leaves the function serving. Run by `scripts/smoke-arm64`, which sets
/// `NEPTUN_LAMBDA_ARTIFACT`.
#[tokio::test]
#[ignore = "needs the arm64 release artifact and qemu-aarch64: scripts/smoke-arm64"]
async fn arm64_release_artifact_answers_the_recorded_events_and_a_panic_with_500() {
    let artifact = std::env::var("NEPTUN_LAMBDA_ARTIFACT")
        .expect("NEPTUN_LAMBDA_ARTIFACT names the arm64 bootstrap (scripts/smoke-arm64)");
    let sysroot = std::env::var("NEPTUN_ARM64_SYSROOT")
        .unwrap_or_else(|_| "/usr/aarch64-linux-gnu".to_owned());
    let Some((user, env, app)) = deployment().await else {
        panic!("the arm64 smoke run needs the DynamoDB emulator");
    };
    let api = RuntimeApi::start().await;
    let mut qemu = Command::new("qemu-aarch64");
    qemu.args(["-L", &sysroot, &artifact]);
    let _lambda = start_lambda_as(qemu, &api, &env, Stdio::inherit());
    let id = user.id.to_string();
    let panic_body =
        json!({ "password": neptun_users::password::FORCED_PANIC_PASSWORD }).to_string();
    // (why, event, body, status, expected body; None: the updated user)
    let cases: [(&str, MakeEvent, String, u16, Option<Value>); 7] = [
        (
            "HTTP API v2",
            v2_event,
            json!({"email": "arm64-v2@example.com"}).to_string(),
            200,
            None,
        ),
        (
            "REST API v1",
            v1_event,
            json!({"email": "arm64-v1@example.com"}).to_string(),
            200,
            None,
        ),
        (
            "REST API v1, /{proxy+} resource",
            v1_proxy_event,
            json!({"email": "arm64-proxy@example.com"}).to_string(),
            200,
            None,
        ),
        (
            "Function URL",
            function_url_event,
            json!({"password": "arm64-password-1"}).to_string(),
            200,
            None,
        ),
        (
            "a panic while hashing",
            v2_event,
            panic_body,
            500,
            Some(
                json!({"statusCode": 500, "statusMessage": "Internal Server Error.", "message": "Internal server error."}),
            ),
        ),
        (
            "the function still serves after the panic",
            v2_event,
            json!({"email": "arm64-after@example.com"}).to_string(),
            200,
            None,
        ),
        (
            "bad JSON",
            v1_event,
            "{".to_owned(),
            400,
            Some(
                json!({"statusCode": 400, "statusMessage": "Bad Request.", "message": "Invalid JSON body"}),
            ),
        ),
    ];
    let mut cookie = user.cookie.clone();
    let mut email = user.email.clone();
    for (why, make, body, status, expected) in cases {
        let response = api
            .invoke(make(&id, &cookie, &body))
            .await
            .unwrap_or_else(|e| panic!("{why}: error {e}"));

        assert_eq!(response["statusCode"], status, "{why}: {response}");
        let answered: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
        if let Some(new) = serde_json::from_str::<Value>(&body)
            .ok()
            .and_then(|b| b["email"].as_str().map(str::to_owned))
            .filter(|_| status == 200)
        {
            email = new;
        }
        let expected =
            expected.unwrap_or_else(|| json!({"user": {"id": user.id, "primary_email": email}}));
        assert_eq!(answered, expected, "{why}");
        if status == 200 {
            cookie = lambda_set_cookie(&response)
                .split(';')
                .next()
                .unwrap()
                .to_owned();
        }
    }
    assert!(neptun_users::password::verify(
        "arm64-password-1",
        app.stored(user.id).await.password_hash.as_ref().unwrap()
    ));
}

/// The session secret's id in Secrets Manager, in the tests that keep it there.
const SECRET_ARN: &str =
    "arn:aws:secretsmanager:us-east-1:123456789012:secret:neptun-session-AbCdEf";

/// `env` with the session secret moved to the Secrets Manager stand-in at `endpoint`.
fn secret_kept_in_secrets_manager(env: &mut Vec<(String, String)>, endpoint: &str) {
    env.retain(|(name, _)| name != "SESSION_SECRET" && name != "RUST_LOG");
    env.extend([
        ("SESSION_SECRET_ID".to_owned(), SECRET_ARN.to_owned()),
        (
            "AWS_ENDPOINT_URL_SECRETS_MANAGER".to_owned(),
            endpoint.to_owned(),
        ),
        ("RUST_LOG".to_owned(), "trace".to_owned()),
    ]);
}

#[tokio::test]
async fn both_binaries_read_the_session_secret_from_secrets_manager_once_per_start() {
    let Some((user, mut env, _app)) = deployment().await else {
        return;
    };
    // The stand-in holds the secret the user's cookie is signed with; the environment holds
    // none, so a 200 means the function signs and verifies with the secret it read.
    let secrets = AwsStandIn::start(SecretAnswer::Value(SECRET.to_owned())).await;
    secret_kept_in_secrets_manager(&mut env, &secrets.url);
    let id = user.id.to_string();

    let mut answers = Vec::new();
    let mut logs = Vec::new();
    for door in DOORS {
        let log = LogFile::new(&format!("{}-secret", door.slug()));
        let started = door.start(&env, log.stdio()).await;
        for i in 0..2 {
            let address = format!("secret-{}{i}@example.com", door.slug());
            let body = json!({ "email": address }).to_string();
            let answer = started.patch(&id, &user.cookie, &body).await;
            answers.push((format!("{door}, request {i}"), answer, address));
        }
        drop(started);
        logs.push((door, log));
    }

    for (why, answer, address) in answers {
        assert_eq!(answer.status, 200, "{why}: {answer:?}");
        assert_eq!(
            answer.json(),
            json!({"user": {"id": user.id, "primary_email": address}}),
            "{why}"
        );
    }
    let reads = secrets.calls_of("GetSecretValue");
    assert_eq!(reads.len(), 2, "one read per start, none per request");
    for read in &reads {
        let asked: Value = serde_json::from_str(&read.body).unwrap();
        assert_eq!(asked["SecretId"], SECRET_ARN, "{asked}");
    }
    for (door, log) in logs {
        let logs = log.read();
        assert!(logs.contains(r#""outcome":"ok""#), "{door}: {logs:.2000}");
        assert_no_secret_in(&logs, &[SECRET], &door.to_string());
    }
}

#[tokio::test]
async fn both_binaries_accept_the_previous_secrets_kept_in_secrets_manager() {
    const PREVIOUS_ARN: &str =
        "arn:aws:secretsmanager:us-east-1:123456789012:secret:neptun-session-previous-AbCdEf";
    const OLDEST: &str = "the-oldest-secret-still-listed-in-the-rotation";
    let Some((user, mut env, _app)) = deployment().await else {
        return;
    };
    // The user's cookie is signed with a previous secret, which only the secret that
    // SESSION_SECRET_PREVIOUS_ID names holds: a 200 means the function read that list.
    let old_app = spawn_app_with(config(&[("SESSION_SECRET", PREVIOUS_SECRET)])).await;
    let old_cookie = old_app.cookie_for(user.id, &user.email, 1);
    let secrets = AwsStandIn::start(SecretAnswer::ById(vec![
        (
            SECRET_ARN.to_owned(),
            SecretAnswer::Value(SECRET.to_owned()),
        ),
        (
            PREVIOUS_ARN.to_owned(),
            SecretAnswer::Value(format!("{OLDEST},{PREVIOUS_SECRET}")),
        ),
    ]))
    .await;
    secret_kept_in_secrets_manager(&mut env, &secrets.url);
    env.push((
        "SESSION_SECRET_PREVIOUS_ID".to_owned(),
        PREVIOUS_ARN.to_owned(),
    ));
    let id = user.id.to_string();
    let current_only = neptun_users::SessionKeys::new(&config(&[]));

    let mut logs = Vec::new();
    for door in DOORS {
        let log = LogFile::new(&format!("{}-previous-secret", door.slug()));
        let started = door.start(&env, log.stdio()).await;
        let address = format!("previous-{}@example.com", door.slug());
        let body = json!({ "email": address }).to_string();
        let answer = started.patch(&id, &old_cookie, &body).await;
        drop(started);

        assert_eq!(
            (answer.status, answer.json()),
            (
                200,
                json!({"user": {"id": user.id, "primary_email": address}})
            ),
            "{door}: {answer:?}"
        );
        assert!(
            current_only
                .verify(
                    [answer.session_cookie().as_str()],
                    neptun_users::clock::unix_now_ms()
                )
                .is_ok(),
            "{door}: the refreshed cookie is signed with the current secret"
        );
        logs.push((door, log));
    }

    let reads: Vec<Value> = secrets
        .calls_of("GetSecretValue")
        .iter()
        .map(|read| serde_json::from_str(&read.body).unwrap())
        .collect();
    let asked: Vec<&str> = reads
        .iter()
        .map(|read| read["SecretId"].as_str().unwrap())
        .collect();
    assert_eq!(
        asked,
        [SECRET_ARN, PREVIOUS_ARN, SECRET_ARN, PREVIOUS_ARN],
        "each secret once per start, none per request"
    );
    for (door, log) in logs {
        assert_no_secret_in(
            &log.read(),
            &[SECRET, PREVIOUS_SECRET, OLDEST],
            &door.to_string(),
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_binaries_refuse_to_start_when_the_secret_cannot_be_read() {
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // (why, what Secrets Manager answers (None: nothing listens), the one line expected)
    let cases = [
        (
            "a secret that does not exist",
            Some(SecretAnswer::Error(400, "ResourceNotFoundException")),
            "SESSION_SECRET_ID: the secret it names could not be read (ResourceNotFoundException)",
        ),
        (
            "a role that may not read it",
            Some(SecretAnswer::Error(400, "AccessDeniedException")),
            "SESSION_SECRET_ID: the secret it names could not be read (AccessDeniedException)",
        ),
        (
            "a secret stored as binary",
            Some(SecretAnswer::BinaryOnly),
            "SESSION_SECRET_ID: the secret it names has no string value",
        ),
        (
            "a secret too short to sign with",
            Some(SecretAnswer::Value("short\"-secret".to_owned())),
            "SESSION_SECRET is too short: it must be at least 32 bytes (its value comes from the secret SESSION_SECRET_ID names)",
        ),
        (
            "Secrets Manager unreachable",
            None,
            "SESSION_SECRET_ID: the secret it names could not be read (Secrets Manager unreachable)",
        ),
    ];
    for (why, answer, expected) in cases {
        let stand_in = match answer {
            Some(answer) => Some(AwsStandIn::start(answer).await),
            None => None,
        };
        let endpoint = stand_in
            .as_ref()
            .map_or(format!("http://127.0.0.1:{closed_port}"), |s| s.url.clone());
        for door in DOORS {
            let mut command = door.bare_command();
            command
                .env("AWS_REGION", "us-east-1")
                .env("AWS_ACCESS_KEY_ID", "test")
                .env("AWS_SECRET_ACCESS_KEY", "test")
                .env("SESSION_SECRET_ID", SECRET_ARN)
                .env("AWS_ENDPOINT_URL_SECRETS_MANAGER", &endpoint);
            let started = Instant::now();
            let output = command.output().unwrap();
            let stderr = String::from_utf8_lossy(&output.stderr);

            assert!(!output.status.success(), "{door} {why}");
            assert_eq!(
                stderr,
                format!("neptun-users: refusing to start: {expected}\n"),
                "{door} {why}"
            );
            assert!(
                !stderr.contains(SECRET_ARN) && !stderr.contains("short\""),
                "{door} {why}: neither the secret's id nor its value"
            );
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "{door} {why}: gives up in bounded time: {:?}",
                started.elapsed()
            );
        }
        if let Some(stand_in) = stand_in {
            assert_eq!(stand_in.calls_of("GetSecretValue").len(), 2, "{why}");
        }
    }
}

#[test]
fn the_vercel_binary_refuses_a_secret_it_could_read_only_after_the_first_request() {
    // With OIDC federation the token, and so any AWS credential, arrives with the first
    // request: a secret in Secrets Manager cannot be read at start.
    let output = Command::new(VERCEL)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("VERCEL_DEV_PORT", "0")
        .env("AWS_REGION", "us-east-1")
        .env(
            "AWS_ROLE_ARN",
            "arn:aws:iam::123456789012:role/neptun-users-vercel",
        )
        .env("SESSION_SECRET_ID", SECRET_ARN)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert_eq!(
        stderr,
        "neptun-users: refusing to start: SESSION_SECRET_ID: with AWS_ROLE_ARN the Vercel OIDC token arrives only with the first request, too late to read the secret at start: set SESSION_SECRET (Vercel keeps environment variables encrypted) or AWS access keys\n"
    );
}

/// The variables that would give the Vercel binary access keys from the test environment.
const ACCESS_KEYS: [&str; 3] = [
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
];

/// A token shaped as Vercel's OIDC tokens are (a JWT, one hour to live, the project's issuer
/// and subject), unique by `jti`; the stand-in STS does not check its signature.
fn vercel_oidc_token(jti: &str) -> String {
    use base64::Engine as _;
    let part = |json: Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json.to_string().as_bytes())
    };
    let exp = neptun_users::clock::unix_now() + 3600;
    format!(
        "{}.{}.{}",
        part(json!({"alg": "RS256", "typ": "JWT", "kid": "stand-in"})),
        part(json!({
            "iss": "https://oidc.vercel.com/neptun",
            "sub": "owner:neptun:project:users:environment:production",
            "aud": "https://vercel.com/neptun",
            "exp": exp,
            "jti": jti,
        })),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("signature-{jti}"))
    )
}

#[tokio::test]
async fn the_vercel_binary_trades_vercels_oidc_token_for_aws_credentials() {
    let Some((user, mut env, _app)) = deployment().await else {
        return;
    };
    // No access keys reach the function: a 200 means its DynamoDB calls were signed with the
    // credentials the stand-in STS issued for the token (the SDK signs nothing without).
    let sts = AwsStandIn::start(SecretAnswer::Error(500, "NotCalled")).await;
    let role = "arn:aws:iam::123456789012:role/neptun-users-vercel";
    env.retain(|(name, _)| name != "RUST_LOG");
    env.extend([
        ("AWS_ROLE_ARN".to_owned(), role.to_owned()),
        ("AWS_ENDPOINT_URL_STS".to_owned(), sts.url.clone()),
        ("RUST_LOG".to_owned(), "trace".to_owned()),
    ]);
    let without_keys = || {
        let mut command = Command::new(VERCEL);
        for name in ACCESS_KEYS {
            command.env_remove(name);
        }
        command
    };
    let log = LogFile::new("vercel-oidc");
    let (vercel, url) = start_vercel_as(without_keys(), &env, log.stdio()).await;
    let client = reqwest::Client::new();
    let internal = error_body(500, "Internal server error.", None);
    let (first, fresher) = (vercel_oidc_token("1"), vercel_oidc_token("2"));
    // (why, the request's x-vercel-oidc-token, expected status)
    let cases = [
        ("before any token there are no credentials", None, 500),
        (
            "a malformed token is not kept, nor traded",
            Some("vercel-oidc-token-malformed"),
            500,
        ),
        (
            "the first token buys credentials",
            Some(first.as_str()),
            200,
        ),
        (
            "a fresher token while they are cached",
            Some(fresher.as_str()),
            200,
        ),
    ];
    for (i, (why, token, status)) in cases.into_iter().enumerate() {
        let address = format!("oidc{i}@example.com");
        let mut request = client
            .patch(format!("{url}/api/users/{}", user.id))
            .header("cookie", &user.cookie)
            .header("content-type", "application/json")
            .body(json!({ "email": address }).to_string());
        if let Some(token) = token {
            request = request.header("x-vercel-oidc-token", token);
        }
        let response = request.send().await.unwrap();

        assert_eq!(response.status().as_u16(), status, "{why}");
        let body: Value = response.json().await.unwrap();
        let expected = if status == 200 {
            json!({"user": {"id": user.id, "primary_email": address}})
        } else {
            internal.clone()
        };
        assert_eq!(body, expected, "{why}");
    }
    drop(vercel);
    let assumed = sts.calls_of("AssumeRoleWithWebIdentity");
    assert_eq!(assumed.len(), 1, "the credentials are cached: {assumed:?}");
    let asked: std::collections::HashMap<String, String> =
        form_urlencoded::parse(assumed[0].body.as_bytes())
            .into_owned()
            .collect();
    assert_eq!(asked["RoleArn"], role);
    assert_eq!(asked["RoleSessionName"], "neptun-users");
    assert_eq!(asked["WebIdentityToken"], first);
    let logs = log.read();
    assert!(
        logs.contains("enable OIDC federation in the Vercel project's settings"),
        "the missing token is explained: {logs:.3000}"
    );
    assert!(
        logs.contains("ignored a Vercel OIDC token"),
        "the malformed token is logged: {logs:.3000}"
    );
    assert_no_secret_in(
        &logs,
        &[
            "vercel-oidc-token-malformed",
            &first,
            &fresher,
            "stand-in-secret-access-key",
            "stand-in-session-token",
        ],
        "vercel with OIDC at trace",
    );

    // Under `vercel dev` the token comes in VERCEL_OIDC_TOKEN, before any request.
    let from_vercel_dev = vercel_oidc_token("vercel-dev");
    env.push(("VERCEL_OIDC_TOKEN".to_owned(), from_vercel_dev.clone()));
    let (vercel, url) = start_vercel_as(without_keys(), &env, Stdio::null()).await;
    let response = client
        .patch(format!("{url}/api/users/{}", user.id))
        .header("cookie", &user.cookie)
        .header("content-type", "application/json")
        .body(r#"{"email":"oidc-dev@example.com"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"user": {"id": user.id, "primary_email": "oidc-dev@example.com"}})
    );
    drop(vercel);
    let assumed = sts.calls_of("AssumeRoleWithWebIdentity");
    assert_eq!(assumed.len(), 2);
    let asked: std::collections::HashMap<String, String> =
        form_urlencoded::parse(assumed[1].body.as_bytes())
            .into_owned()
            .collect();
    assert_eq!(asked["WebIdentityToken"], from_vercel_dev);
}
