//! The one handler: `http::Request<Bytes>` in, `http::Response<String>` out, platform-free.
//!
//! Checks run in the contract's order (docs/contract.md, "Check order"): method → session → `user_id` → ownership →
//! cross-site → Content-Type → size → body → store. An unauthenticated caller learns nothing
//! else, no 4xx path writes anything, and no error response sets a cookie.

use std::time::Instant;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use percent_encoding::percent_decode_str;

use crate::context::{AppContext, ForwardedHeaders};
use crate::credentials::{FAILED_ATTEMPT_WINDOW_MS, MAX_FAILED_ATTEMPTS, retry_after_secs};
use crate::domain::{
    BodyError, CurrentPassword, Email, NewPassword, Rules, UserId, UserUpdate, blocklist_issues,
};
use crate::error::{ApiError, Forbidden, Unauthorized};
use crate::password::HashError;
use crate::session::{NoSession, Session};
use crate::store::{SessionCheck, UserPatch};

/// The largest body accepted; doors read at most one byte more.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// The route's `user_id` as the platform routed it (API Gateway path parameters). When
/// absent, the handler reads it from `/api/users/{user_id}` or the `user_id` query parameter.
#[derive(Debug, Clone)]
pub struct RouteUserId(pub String);

/// The host the platform itself received the request on (API Gateway's
/// `requestContext.domainName`): the request's own host, whatever its headers say.
#[derive(Debug, Clone)]
pub struct PlatformHost(pub String);

/// The platform's id for this request, for the log: Lambda's request id, Vercel's
/// `x-vercel-id`, or one the local server made up.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The client's address as the platform reports it (API Gateway's source IP, Vercel's
/// `x-real-ip`, the local server's TCP peer), for the log.
#[derive(Debug, Clone)]
pub struct ClientIp(pub String);

/// What a successful request produced.
enum Success {
    /// A CORS preflight from an allowed origin: 204, no body.
    Preflight,
    /// The update landed: the user's JSON and the refreshed cookie.
    Updated { body: String, set_cookie: String },
}

/// What the request log line records; never values, only which fields changed.
#[derive(Default)]
struct Trace {
    /// The session's user, once the session is authentic (whoever the path names).
    user_id: Option<u64>,
    fields: &'static str,
}

/// Handles one request and logs one line about it. Runs on a Tokio runtime with its timer
/// enabled (every door's is): the request deadline is a Tokio timeout.
pub async fn handle(ctx: &AppContext, request: Request<Bytes>) -> Response<String> {
    let started = Instant::now();
    let mut trace = Trace::default();
    let cors_origin = allowed_origin(ctx, request.headers());
    // One deadline over the whole request, hashing and store retries included. Dropping the
    // store's future when it passes cannot leave a half-applied update: every update is one
    // store call (DynamoDB applies one UpdateItem or TransactWriteItems whole or not at all,
    // and the memory store applies it under its lock without awaiting), so the write has
    // either landed whole or not at all. A landed write whose answer was lost is one the
    // next request's conditions see.
    let outcome = tokio::time::timeout(
        ctx.config.request_deadline,
        respond(ctx, &request, cors_origin.is_some(), &mut trace),
    )
    .await
    .unwrap_or_else(|_| {
        tracing::error!("request deadline passed");
        Err(ApiError::DeadlineExceeded)
    });
    let kind = outcome.as_ref().err().map_or("ok", ApiError::kind);
    let credentials_changed = matches!(outcome, Ok(Success::Updated { .. }));
    let mut response = match outcome {
        Ok(Success::Preflight) => preflight_response(),
        Ok(Success::Updated { body, set_cookie }) => {
            let mut response = json_response(StatusCode::OK, body);
            if let Ok(value) = HeaderValue::from_str(&set_cookie) {
                response.headers_mut().insert(header::SET_COOKIE, value);
            }
            response
        }
        Err(error) => error_response(&error),
    };
    if let Some(origin) = cors_origin {
        add_cors_headers(response.headers_mut(), origin);
    }
    let extensions = request.extensions();
    let request_id = extensions.get::<RequestId>().map(|id| id.0.as_str());
    let client_ip = extensions.get::<ClientIp>().map(|ip| ip.0.as_str());
    if credentials_changed {
        tracing::info!(
            user_id = trace.user_id,
            fields = trace.fields,
            request_id,
            client_ip,
            "credential_changed"
        );
    }
    tracing::info!(
        method = %request.method(),
        path = request.uri().path(),
        status = response.status().as_u16(),
        outcome = kind,
        user_id = trace.user_id,
        fields = trace.fields,
        request_id,
        client_ip,
        latency_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX),
        "request"
    );
    response
}

/// `origin_allowed`: the request's `Origin` is listed in `ALLOWED_ORIGINS`.
async fn respond(
    ctx: &AppContext,
    request: &Request<Bytes>,
    origin_allowed: bool,
    trace: &mut Trace,
) -> Result<Success, ApiError> {
    let raw_user_id = route_user_id(request).ok_or(ApiError::NoRoute)?;
    let headers = request.headers();
    if request.method() == Method::OPTIONS
        && headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
        && origin_allowed
    {
        return Ok(Success::Preflight);
    }
    if request.method() != Method::PATCH {
        return Err(ApiError::MethodNotAllowed);
    }
    let session = authenticate(ctx, headers, ctx.clock.now_ms())?;
    trace.user_id = Some(session.user_id.get());
    let user_id = UserId::parse(&raw_user_id).map_err(ApiError::InvalidUserId)?;
    if session.user_id != user_id {
        return Err(ApiError::Forbidden(Forbidden::OtherUser));
    }
    if !origin_allowed && is_cross_site(ctx, request) {
        return Err(ApiError::Forbidden(Forbidden::CrossSite));
    }
    if !is_json(headers) {
        return Err(ApiError::UnsupportedMediaType);
    }
    if request.body().len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge);
    }
    let rules = Rules {
        current_email: &session.email,
        require_current_password: ctx.config.require_current_password,
    };
    let update = UserUpdate::from_json(request.body(), &rules)?;
    trace.fields = update.changed_fields();
    let mut patch = UserPatch {
        id: user_id,
        session: session.check(),
        known_email: session.email.clone(),
        email: update.email,
        password_hash: None,
        verified_hash: None,
        now_ms: 0,
    };
    // Held until the write: one credential check per user at a time in this instance.
    let _turn = match (&update.password, &update.current_password) {
        (None, None) => None,
        (password, current) => {
            let turn = ctx.turns.wait(user_id).await;
            check_credentials(ctx, &mut patch, password.as_ref(), current.as_ref()).await?;
            if let Some(password) = update.password {
                patch.password_hash = Some(ctx.hasher.hash(password).await?);
            }
            Some(turn)
        }
    };
    patch.now_ms = ctx.clock.now_ms();
    let updated = ctx.store.update_user(&patch).await?;
    let refreshed = ctx.keys.refresh(
        &session,
        updated.email.as_str(),
        updated.session_version,
        patch.now_ms,
    );
    Ok(Success::Updated {
        body: updated_body(user_id, updated.email.as_str()),
        set_cookie: ctx.keys.set_cookie(&refreshed, patch.now_ms),
    })
}

/// The first of a credential change's two store calls: read the user, and answer a missing
/// user (404), a revoked session (401) or a throttled one (429) before any Argon2 work; then
/// verify `current` (a wrong one is counted, 400). The write in `patch` then holds to the
/// version read (which any concurrent password change moves) and to the hash verified.
async fn check_credentials(
    ctx: &AppContext,
    patch: &mut UserPatch,
    password: Option<&NewPassword>,
    current: Option<&CurrentPassword>,
) -> Result<(), ApiError> {
    let stored = ctx
        .store
        .get_user(patch.id)
        .await?
        .ok_or(ApiError::NotFound)?;
    if !stored.accepts(patch.session) {
        return Err(ApiError::Unauthorized(Unauthorized::Revoked));
    }
    let now_ms = ctx.clock.now_ms();
    if current.is_some()
        && let Some(until) =
            stored.locked_until(now_ms, MAX_FAILED_ATTEMPTS, FAILED_ATTEMPT_WINDOW_MS)
    {
        return Err(ApiError::TooManyAttempts {
            retry_after_secs: retry_after_secs(now_ms, until),
        });
    }
    // The session's copy of the address was what the blocklist saw; the stored one counts.
    if let Some(password) = password
        && !stored
            .email
            .as_str()
            .eq_ignore_ascii_case(&patch.known_email)
    {
        let new_email = patch.email.as_ref().map(Email::as_str);
        let issues = blocklist_issues(
            password.expose(),
            [Some(stored.email.as_str()), new_email]
                .into_iter()
                .flatten(),
        );
        if !issues.is_empty() {
            return Err(ApiError::InvalidBody(issues));
        }
    }
    patch.session = SessionCheck::Version(stored.session_version);
    patch.known_email = stored.email.as_str().to_owned();
    if let Some(current) = current {
        // A user imported without a password of its own has none to check: any
        // current_password is a wrong one, counted like the others.
        let verified = match &stored.password_hash {
            Some(hash) => ctx.hasher.verify(current.clone(), hash.clone()).await?,
            None => false,
        };
        if !verified {
            ctx.store
                .record_failed_attempt(patch.id, now_ms, FAILED_ATTEMPT_WINDOW_MS)
                .await?;
            return Err(ApiError::WrongCurrentPassword);
        }
        patch.verified_hash = stored.password_hash;
    }
    Ok(())
}

/// `{"user":{"id":…,"primary_email":…}}`, serialized straight from a struct.
fn updated_body(id: UserId, email: &str) -> String {
    #[derive(serde::Serialize)]
    struct User<'a> {
        id: u64,
        primary_email: &'a str,
    }
    #[derive(serde::Serialize)]
    struct Body<'a> {
        user: User<'a>,
    }
    let body = Body {
        user: User {
            id: id.get(),
            primary_email: email,
        },
    };
    serde_json::to_string(&body).expect("BUG: the body always serializes")
}

fn authenticate(ctx: &AppContext, headers: &HeaderMap, now_ms: i64) -> Result<Session, ApiError> {
    let cookies = headers
        .get_all(header::COOKIE)
        .into_iter()
        .filter_map(|v| v.to_str().ok());
    // Every reason answers the same 401; the log tells them apart.
    ctx.keys.verify(cookies, now_ms).map_err(|reason| {
        ApiError::Unauthorized(match reason {
            NoSession::Missing => Unauthorized::Missing,
            NoSession::Duplicate => Unauthorized::Duplicate,
            NoSession::Invalid => Unauthorized::Invalid,
            NoSession::Expired => Unauthorized::Expired,
        })
    })
}

/// The raw `user_id`: the platform's path parameter, else the path segment of
/// `/api/users/{user_id}` (percent-decoded), else the `user_id` query parameter (Vercel's
/// rewrite of `/api/users/[user_id]`). `None` when the request is not for this route.
fn route_user_id(request: &Request<Bytes>) -> Option<String> {
    if let Some(RouteUserId(id)) = request.extensions().get::<RouteUserId>() {
        return Some(id.clone());
    }
    let segment = request
        .uri()
        .path()
        .strip_prefix("/api/users/")
        .filter(|rest| !rest.contains('/'))
        .map(|segment| match percent_decode_str(segment).decode_utf8() {
            Ok(decoded) => decoded.into_owned(),
            Err(_) => segment.to_owned(),
        });
    let query = || {
        form_urlencoded::parse(request.uri().query()?.as_bytes())
            .find(|(name, _)| name == "user_id")
            .map(|(_, value)| value.into_owned())
    };
    match segment {
        // Vercel's rewrite of this file's route (`/api/users/[user_id]?user_id=7`); without
        // the parameter the literal template is the id, and answers 400 like any other
        // malformed one. No other path takes its id from the query.
        Some(template) if template == "[user_id]" => query().or(Some(template)),
        segment => segment,
    }
}

/// `application/json`, case-insensitive, parameters ignored.
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media_type| media_type.trim().eq_ignore_ascii_case("application/json"))
}

/// The request's `Origin`, if it is listed in `ALLOWED_ORIGINS` (`null` never is).
fn allowed_origin<'h>(ctx: &AppContext, headers: &'h HeaderMap) -> Option<&'h HeaderValue> {
    let value = headers.get(header::ORIGIN)?;
    let origin = normalize_origin(value.to_str().ok()?)?;
    ctx.allowed_origins.contains(&origin).then_some(value)
}

/// docs/contract.md, "Cross-site requests", for an origin not listed in `ALLOWED_ORIGINS`: `Sec-Fetch-Site: cross-site`, or an
/// `Origin` that is not the request's own.
fn is_cross_site(ctx: &AppContext, request: &Request<Bytes>) -> bool {
    let headers = request.headers();
    let sec_fetch_site = headers.get("sec-fetch-site").map(HeaderValue::as_bytes);
    if sec_fetch_site.is_some_and(|site| site.eq_ignore_ascii_case(b"cross-site")) {
        return true;
    }
    match headers.get(header::ORIGIN) {
        None => false,
        Some(origin) => {
            let origin = origin.to_str().ok().and_then(normalize_origin);
            origin.is_none() || origin != own_origin(ctx, request)
        }
    }
}

/// `scheme://host[:port]` of this request: the host the platform reports, else the
/// forwarding headers where the door believes them, else `Host` and the server's own scheme.
fn own_origin(ctx: &AppContext, request: &Request<Bytes>) -> Option<String> {
    let headers = request.headers();
    let first = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let forwarded = |name: &str| match ctx.forwarded_headers {
        ForwardedHeaders::Trusted => first(name),
        ForwardedHeaders::Ignored => None,
    };
    let scheme = forwarded("x-forwarded-proto").unwrap_or(ctx.scheme.as_str());
    let host = match request.extensions().get::<PlatformHost>() {
        Some(PlatformHost(host)) => host.as_str(),
        None => forwarded("x-forwarded-host").or_else(|| first("host"))?,
    };
    normalize_origin(&format!("{scheme}://{host}"))
}

/// Lower-cases an origin and drops its default port; `None` for `null` or a malformed one.
pub(crate) fn normalize_origin(origin: &str) -> Option<String> {
    let origin = origin.trim().to_ascii_lowercase();
    let (scheme, authority) = origin.split_once("://")?;
    if authority.is_empty() || authority.contains(['/', '?', '#', '@', ' ']) {
        return None;
    }
    let authority = match (scheme, authority.rsplit_once(':')) {
        ("http", Some((host, "80"))) | ("https", Some((host, "443"))) => host,
        _ => authority,
    };
    Some(format!("{scheme}://{authority}"))
}

fn json_response(status: StatusCode, body: String) -> Response<String> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

fn error_response(error: &ApiError) -> Response<String> {
    let mut response = json_response(error.status(), error.body());
    match error {
        ApiError::MethodNotAllowed => {
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static("PATCH"));
        }
        ApiError::TooManyAttempts { retry_after_secs } => {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
        }
        _ => {}
    }
    response
}

fn preflight_response() -> Response<String> {
    let mut response = Response::new(String::new());
    *response.status_mut() = StatusCode::NO_CONTENT;
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("PATCH"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("Content-Type"),
    );
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("600"),
    );
    response
}

fn add_cors_headers(headers: &mut HeaderMap, origin: &HeaderValue) {
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
        HeaderValue::from_static("true"),
    );
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
}

impl From<BodyError> for ApiError {
    fn from(error: BodyError) -> Self {
        match error {
            BodyError::Unparseable => Self::InvalidJson,
            BodyError::Invalid(issues) => Self::InvalidBody(issues),
        }
    }
}

impl From<HashError> for ApiError {
    fn from(_: HashError) -> Self {
        tracing::error!("password hashing failed");
        Self::Internal
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_compare_case_insensitively_without_default_ports() {
        let cases = [
            (
                "https://App.Example.com:443",
                Some("https://app.example.com"),
            ),
            ("http://localhost:80", Some("http://localhost")),
            ("http://localhost:3000", Some("http://localhost:3000")),
            ("https://example.com:80", Some("https://example.com:80")),
            ("null", None),
            ("https://", None),
            ("https://a.com/path", None),
        ];
        for (raw, expected) in cases {
            assert_eq!(normalize_origin(raw).as_deref(), expected, "{raw}");
        }
    }

    #[test]
    fn user_id_comes_from_the_extension_then_the_path_then_the_query() {
        let request = |uri: &str| Request::builder().uri(uri).body(Bytes::new()).unwrap();
        let cases = [
            ("/api/users/7", Some("7")),
            ("/api/users/%37", Some("7")),
            ("/api/users/", Some("")),
            ("/api/users/[user_id]?user_id=8", Some("8")),
            ("/api/users/%5Buser_id%5D?user_id=9", Some("9")),
            ("/api/users/[user_id]", Some("[user_id]")),
            ("/api/users/7?user_id=8", Some("7")),
            ("/api/users/7/extra", None),
            ("/elsewhere", None),
            ("/elsewhere?user_id=1", None),
            ("/api/users/1/extra?user_id=1", None),
        ];
        for (uri, expected) in cases {
            assert_eq!(route_user_id(&request(uri)).as_deref(), expected, "{uri}");
        }
        let mut routed = request("/prod/whatever");
        routed.extensions_mut().insert(RouteUserId("5".into()));
        assert_eq!(route_user_id(&routed).as_deref(), Some("5"));
    }

    #[test]
    fn content_type_must_be_json_whatever_its_case_or_parameters() {
        let cases = [
            ("application/json", true),
            ("Application/JSON; charset=utf-8", true),
            ("application/json;charset=UTF-8", true),
            ("text/plain", false),
            ("application/json-patch+json", false),
            ("application/x-www-form-urlencoded", false),
            ("multipart/form-data; boundary=x", false),
        ];
        for (value, expected) in cases {
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(value));
            assert_eq!(is_json(&headers), expected, "{value}");
        }
        assert!(!is_json(&HeaderMap::new()), "no Content-Type");
    }
}
