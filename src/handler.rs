//! The one handler: `http::Request<Bytes>` in, `http::Response<String>` out, platform-free.
//!
//! It serves the three routes that touch credentials on the user table: `PATCH
//! /api/users/{user_id}` (the update), `POST /api/auth/login` (sign-in) and `POST
//! /api/auth/sign-up`. Checks run in the contract's order (docs/contract.md, "Check order"):
//! for the update method → session → `user_id` → ownership → cross-site → Content-Type →
//! size → body → store; for sign-in and sign-up method → signed in → cross-site →
//! Content-Type → size → body → store. An unauthenticated caller learns nothing else, no 4xx
//! path writes anything but a reserved password attempt, and no error response sets a cookie.

use std::time::Instant;

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use percent_encoding::percent_decode_str;

use crate::context::{AppContext, ForwardedHeaders};
use crate::domain::{
    BodyError, CurrentPassword, Email, NewPassword, Origin, Rules, SessionCheck, SignIn, SignUp,
    UserId, UserUpdate, blocklist_issues,
};
use crate::error::{ApiError, Forbidden, SignedInRoute, Unauthorized};
use crate::password::{DUMMY_HASH, HashError, PasswordHash, Verification};
use crate::session::{NoSession, Session, Verified};
use crate::store::{AttemptKind, SignedIn, StoreError, StoredUser, UserPatch};

/// The largest body accepted; entry points read at most one byte more.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// The sign-in route.
pub const SIGN_IN_PATH: &str = "/api/auth/login";
/// The sign-up route.
pub const SIGN_UP_PATH: &str = "/api/auth/sign-up";

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

/// Which of the function's routes a request is for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Route {
    /// `PATCH /api/users/{user_id}`, with the raw `user_id`.
    UpdateUser(String),
    /// `POST /api/auth/login`.
    SignIn,
    /// `POST /api/auth/sign-up`.
    SignUp,
}

impl Route {
    /// The request's route; `None` for a path that is none of them.
    fn of(request: &Request<Bytes>) -> Option<Self> {
        match request.uri().path() {
            _ if request.extensions().get::<RouteUserId>().is_some() => {}
            SIGN_IN_PATH => return Some(Self::SignIn),
            SIGN_UP_PATH => return Some(Self::SignUp),
            _ => {}
        }
        route_user_id(request).map(Self::UpdateUser)
    }

    /// The one method the route answers.
    fn method(&self) -> Method {
        match self {
            Self::UpdateUser(_) => Method::PATCH,
            Self::SignIn | Self::SignUp => Method::POST,
        }
    }

    /// The `Allow` and `Access-Control-Allow-Methods` value.
    fn allow(route: Option<&Self>) -> &'static str {
        match route {
            Some(Self::SignIn | Self::SignUp) => "POST",
            Some(Self::UpdateUser(_)) | None => "PATCH",
        }
    }
}

/// What a successful request produced.
enum Success {
    /// A CORS preflight from an allowed origin: 204, no body.
    Preflight,
    /// The update, sign-in or sign-up landed: the JSON body and the new or refreshed cookie.
    Session { body: String, set_cookie: String },
}

/// What the request log line records; never values, only which fields changed.
#[derive(Default)]
struct Trace {
    /// The session's user, once the session is authentic (whoever the path names), or the
    /// user a sign-in or sign-up signed in.
    user_id: Option<u64>,
    fields: &'static str,
    /// The audit event a success is, if it changes credentials or signs someone in.
    event: Option<&'static str>,
    /// Why a password was not verified though the request went on (a stored hash no
    /// verification may run): logged with the request, at WARN.
    unverified: Option<String>,
}

/// Handles one request and logs one line about it. Runs on a Tokio runtime with its timer
/// enabled (every entry point's is): the request deadline is a Tokio timeout.
pub async fn handle(ctx: &AppContext, request: Request<Bytes>) -> Response<String> {
    let started = Instant::now();
    let mut trace = Trace::default();
    let cors_origin = allowed_origin(ctx, request.headers());
    let route = Route::of(&request);
    // One deadline over the whole request, hashing and store retries included. Dropping the
    // store's future when it passes cannot leave a half-applied update: every update is one
    // store call (DynamoDB applies one UpdateItem or TransactWriteItems whole or not at all,
    // and the memory store applies it under its lock without awaiting), so the write has
    // either landed whole or not at all. A landed write whose answer was lost is one the
    // next request's conditions see.
    let outcome = tokio::time::timeout(
        ctx.config.request_deadline,
        respond(
            ctx,
            &request,
            route.as_ref(),
            cors_origin.is_some(),
            &mut trace,
        ),
    )
    .await
    .unwrap_or(Err(ApiError::DeadlineExceeded));
    let kind = outcome.as_ref().err().map_or("ok", ApiError::kind);
    let failure = outcome
        .as_ref()
        .err()
        .and_then(ApiError::cause)
        .map(str::to_owned);
    let allow = Route::allow(route.as_ref());
    let succeeded = outcome.is_ok();
    let mut response = match outcome {
        Ok(Success::Preflight) => preflight_response(allow),
        Ok(Success::Session { body, set_cookie }) => {
            let mut response = json_response(StatusCode::OK, body);
            if let Ok(value) = HeaderValue::from_str(&set_cookie) {
                response.headers_mut().insert(header::SET_COOKIE, value);
            }
            response
        }
        Err(error) => error_response(&error, allow),
    };
    if let Some(origin) = cors_origin {
        add_cors_headers(response.headers_mut(), origin);
    }
    let extensions = request.extensions();
    let request_id = extensions.get::<RequestId>().map(|id| id.0.as_str());
    let client_ip = extensions.get::<ClientIp>().map(|ip| ip.0.as_str());
    let latency_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    // The request's lines (the audit line of a success, then the request line) go out in one
    // write.
    crate::telemetry::in_one_write(|| {
        if let Some(event) = trace.event.filter(|_| succeeded) {
            tracing::info!(
                user_id = trace.user_id,
                fields = trace.fields,
                request_id,
                client_ip,
                "{event}"
            );
        }
        // The request's one line, with every field of the contract's "Logs" section. A level is
        // fixed per call site, hence one call per level.
        macro_rules! request_line {
            ($level:expr, $cause:expr) => {
                tracing::event!(
                    $level,
                    method = request.method().as_str(),
                    path = request.uri().path(),
                    status = response.status().as_u16(),
                    outcome = kind,
                    user_id = trace.user_id,
                    fields = trace.fields,
                    request_id,
                    client_ip,
                    latency_us,
                    cause = $cause,
                    "request"
                )
            };
        }
        // Each failure is logged once, here, with the request it belongs to: a 500 as an ERROR,
        // a password refused unverified as a WARN.
        match (failure, trace.unverified.as_deref()) {
            (Some(cause), _) => request_line!(tracing::Level::ERROR, cause.as_str()),
            (None, Some(warning)) => request_line!(tracing::Level::WARN, warning),
            (None, None) => request_line!(tracing::Level::INFO, None::<&str>),
        }
    });
    response
}

/// `origin_allowed`: the request's `Origin` is listed in `ALLOWED_ORIGINS`.
async fn respond(
    ctx: &AppContext,
    request: &Request<Bytes>,
    route: Option<&Route>,
    origin_allowed: bool,
    trace: &mut Trace,
) -> Result<Success, ApiError> {
    let route = route.ok_or(ApiError::NoRoute)?;
    let headers = request.headers();
    if request.method() == Method::OPTIONS
        && headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
        && origin_allowed
    {
        return Ok(Success::Preflight);
    }
    if *request.method() != route.method() {
        return Err(ApiError::MethodNotAllowed);
    }
    match route {
        Route::UpdateUser(raw_user_id) => {
            update_user(ctx, request, raw_user_id, origin_allowed, trace).await
        }
        Route::SignIn => {
            refuse_signed_in(ctx, headers, SignedInRoute::SignIn).await?;
            check_request(ctx, request, origin_allowed)?;
            sign_in(ctx, request.body(), trace).await
        }
        Route::SignUp => {
            refuse_signed_in(ctx, headers, SignedInRoute::SignUp).await?;
            check_request(ctx, request, origin_allowed)?;
            sign_up(ctx, request.body(), trace).await
        }
    }
}

/// The checks every route makes between who is calling and what it sent: not cross-site
/// (403), a JSON Content-Type (415), a body within the limit (413).
fn check_request(
    ctx: &AppContext,
    request: &Request<Bytes>,
    origin_allowed: bool,
) -> Result<(), ApiError> {
    if !origin_allowed && is_cross_site(ctx, request) {
        return Err(ApiError::Forbidden(Forbidden::CrossSite));
    }
    if !is_json(request.headers()) {
        return Err(ApiError::UnsupportedMediaType);
    }
    if request.body().len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge);
    }
    Ok(())
}

/// `PATCH /api/users/{user_id}`.
async fn update_user(
    ctx: &AppContext,
    request: &Request<Bytes>,
    raw_user_id: &str,
    origin_allowed: bool,
    trace: &mut Trace,
) -> Result<Success, ApiError> {
    let Verified { session, check } = authenticate(ctx, request.headers(), ctx.clock.now_ms())?;
    trace.user_id = Some(session.user_id.get());
    let user_id = UserId::parse(raw_user_id).map_err(ApiError::InvalidUserId)?;
    if session.user_id != user_id {
        return Err(ApiError::Forbidden(Forbidden::OtherUser));
    }
    check_request(ctx, request, origin_allowed)?;
    let rules = Rules {
        current_email: &session.email,
        require_current_password: ctx.config.require_current_password,
        password_rules: ctx.config.password_rules,
    };
    let update = UserUpdate::from_json(request.body(), &rules)?;
    trace.fields = update.changed_fields();
    trace.event = Some("credential_changed");
    let new_email = update.email.as_ref();
    // Held until the write: one credential check per user at a time in this instance.
    let (checked, _user_lock) = match (update.password, update.current_password) {
        (None, None) => (Checked::by_session(&session, check), None),
        (password, current) => {
            let user_lock = ctx.user_locks.lock(user_id).await;
            let checked =
                check_credentials(ctx, &session, check, new_email, password, current, trace)
                    .await?;
            (checked, Some(user_lock))
        }
    };
    let now_ms = ctx.clock.now_ms();
    let patch = UserPatch {
        id: user_id,
        session: checked.session,
        known_email: checked.known_email,
        email: update.email,
        password_hash: checked.password_hash,
        verified_hash: checked.verified_hash,
        rehash: checked.rehash,
        now_ms,
    };
    let updated = ctx
        .store
        .update_user(&patch)
        .await
        .map_err(|error| store_error(ctx, error))?;
    let refreshed = ctx.keys.refresh(
        session,
        updated.email.as_str(),
        updated.session_version,
        now_ms,
    );
    Ok(Success::Session {
        body: updated_body(user_id, updated.email.as_str()),
        set_cookie: ctx.keys.set_cookie(&refreshed, now_ms),
    })
}

/// What a credential check established, for the one write that follows.
struct Checked {
    /// The condition the write holds to.
    session: SessionCheck,
    /// The address the write believes is stored.
    known_email: String,
    password_hash: Option<PasswordHash>,
    /// The stored hash `current_password` verified against.
    verified_hash: Option<PasswordHash>,
    /// The contract's hash of the verified password, where the stored one was weaker.
    rehash: Option<PasswordHash>,
}

impl Checked {
    /// Nothing checked beyond the session itself: an update without passwords.
    fn by_session(session: &Session, check: SessionCheck) -> Self {
        Self {
            session: check,
            known_email: session.email.clone(),
            password_hash: None,
            verified_hash: None,
            rehash: None,
        }
    }
}

/// The first of a credential change's two store calls, then the Argon2 work. With a
/// `current_password` the call reserves an attempt (per session and per user) and reads the
/// user in one conditional write; without one it reads the user. Either way a missing user
/// (404), a revoked session (401) or a locked one (429) is answered before any Argon2 work.
/// Then `current` is verified (wrong: 400; it was already counted) and the new password
/// hashed. The write then holds to the version read (which any concurrent password change
/// moves) and to the hash verified.
async fn check_credentials(
    ctx: &AppContext,
    session: &Session,
    check: SessionCheck,
    new_email: Option<&Email>,
    password: Option<NewPassword>,
    current: Option<CurrentPassword>,
    trace: &mut Trace,
) -> Result<Checked, ApiError> {
    let now_ms = ctx.clock.now_ms();
    let stored = match current {
        Some(_) => {
            let kind = AttemptKind::CurrentPassword {
                session: check,
                session_key: &session.id,
            };
            ctx.store
                .reserve_attempt(Some(session.user_id), kind, now_ms)
                .await
                .map_err(|error| store_error(ctx, error))?
        }
        None => {
            let stored = ctx
                .store
                .get_user(session.user_id)
                .await
                .map_err(|error| store_error(ctx, error))?
                .ok_or(ApiError::NotFound)?;
            if !stored.accepts(check) {
                return Err(ApiError::Unauthorized(Unauthorized::Revoked));
            }
            stored
        }
    };
    // The session's copy of the address was what the blocklist saw; the stored one counts.
    if let Some(password) = &password
        && !stored.email.same_address(&session.email)
    {
        let emails = [Some(stored.email.as_str()), new_email.map(Email::as_str)];
        let issues = blocklist_issues(password.expose(), emails.into_iter().flatten());
        if !issues.is_empty() {
            return Err(ApiError::InvalidBody(issues));
        }
    }
    let (verified_hash, rehash) = match current {
        None => (None, None),
        Some(current) => {
            // A user without a password has nothing to verify against: a wrong password.
            let hash = stored
                .password_hash
                .clone()
                .ok_or(ApiError::WrongCurrentPassword)?;
            match verify(ctx, current, hash.clone(), trace).await? {
                Verification::Right { rehash } => (Some(hash), rehash),
                Verification::Wrong | Verification::Unverifiable(_) => {
                    return Err(ApiError::WrongCurrentPassword);
                }
            }
        }
    };
    let password_hash = match password {
        Some(password) => Some(ctx.hasher.hash(password).await?),
        None => None,
    };
    Ok(Checked {
        session: SessionCheck::Version(stored.session_version),
        known_email: stored.email.as_str().to_owned(),
        password_hash,
        verified_hash,
        rehash,
    })
}

/// Refuses (403) a sign-in or sign-up from a browser whose session the update would accept,
/// revocation included (which costs a read). Any other cookie is ignored, and replaced by
/// the success.
async fn refuse_signed_in(
    ctx: &AppContext,
    headers: &HeaderMap,
    route: SignedInRoute,
) -> Result<(), ApiError> {
    let Ok(Verified { session, check }) = authenticate(ctx, headers, ctx.clock.now_ms()) else {
        return Ok(());
    };
    let stored = ctx
        .store
        .get_user(session.user_id)
        .await
        .map_err(|error| store_error(ctx, error))?;
    match stored {
        Some(user) if user.accepts(check) => Err(ApiError::SignedIn(route)),
        _ => Ok(()),
    }
}

/// `POST /api/auth/login`: an unknown address, a user without a password and a wrong
/// password get the same answer after the same work (the same store calls, and a
/// verification against [`DUMMY_HASH`] where there is no hash).
async fn sign_in(ctx: &AppContext, body: &[u8], trace: &mut Trace) -> Result<Success, ApiError> {
    let form = SignIn::from_json(body).map_err(|error| match error {
        BodyError::Unparseable => ApiError::InvalidJson,
        BodyError::Invalid(issues) => ApiError::InvalidSignIn(issues),
    })?;
    let now_ms = ctx.clock.now_ms();
    let id = ctx
        .store
        .find_user_id(&form.email)
        .await
        .map_err(|error| store_error(ctx, error))?;
    let user = match ctx
        .store
        .reserve_attempt(id, AttemptKind::SignIn, now_ms)
        .await
    {
        Ok(user) => Some(user),
        Err(StoreError::NotFound) => None,
        Err(error) => return Err(store_error(ctx, error)),
    };
    let hash = user.as_ref().and_then(|user| user.password_hash.clone());
    let against = hash
        .clone()
        .unwrap_or_else(|| PasswordHash::from_stored(DUMMY_HASH.to_owned()));
    let verification = verify(ctx, form.password, against, trace).await?;
    let (Some(user), Some(verified_hash), Verification::Right { rehash }) =
        (user, hash, verification)
    else {
        return Err(ApiError::WrongCredentials);
    };
    let signed_in = SignedIn {
        id: user.id,
        verified_hash,
        rehash,
        now_ms,
    };
    let user = ctx
        .store
        .sign_in(&signed_in)
        .await
        .map_err(|error| match error {
            // The password changed (or the user went) since it was read.
            StoreError::Revoked | StoreError::NotFound => ApiError::WrongCredentials,
            error => store_error(ctx, error),
        })?;
    trace.event = Some("signed_in");
    Ok(new_session(ctx, &user, now_ms, trace))
}

/// `POST /api/auth/sign-up`: the password hashed, then one atomic write of the new user, its
/// id and its address's claim.
async fn sign_up(ctx: &AppContext, body: &[u8], trace: &mut Trace) -> Result<Success, ApiError> {
    let form = SignUp::from_json(body, ctx.config.password_rules).map_err(|error| match error {
        BodyError::Unparseable => ApiError::InvalidJson,
        BodyError::Invalid(issues) => ApiError::InvalidSignUp(issues),
    })?;
    let hash = ctx.hasher.hash(form.password).await?;
    let now_ms = ctx.clock.now_ms();
    let user = ctx
        .store
        .create_user(
            &form.email,
            &hash,
            now_ms.div_euclid(1000),
            ctx.config.user_id_floor,
        )
        .await
        .map_err(|error| match error {
            StoreError::EmailTaken => ApiError::AccountExists,
            error => store_error(ctx, error),
        })?;
    trace.event = Some("signed_up");
    Ok(new_session(ctx, &user, now_ms, trace))
}

/// A new session for `user`, as a sign-in or sign-up answers it.
fn new_session(ctx: &AppContext, user: &StoredUser, now_ms: i64, trace: &mut Trace) -> Success {
    trace.user_id = Some(user.id.get());
    let session = ctx.keys.issue(
        user.id,
        user.email.as_str(),
        user.session_version,
        now_ms,
        None,
    );
    Success::Session {
        body: ctx.keys.sign_in_body(&session),
        set_cookie: ctx.keys.set_cookie(&session, now_ms),
    }
}

/// A store refusal as the request's answer, by the request's clock.
fn store_error(ctx: &AppContext, error: StoreError) -> ApiError {
    ApiError::from_store(error, ctx.clock.now_ms())
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

fn authenticate(ctx: &AppContext, headers: &HeaderMap, now_ms: i64) -> Result<Verified, ApiError> {
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
            NoSession::FromTheFuture => Unauthorized::FromTheFuture,
            NoSession::Unstamped => Unauthorized::Unstamped,
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
    let origin = Origin::from_header(value.to_str().ok()?)?;
    ctx.config
        .allowed_origins
        .contains(&origin)
        .then_some(value)
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
            let origin = origin.to_str().ok().and_then(Origin::from_header);
            origin.is_none() || origin != own_origin(ctx, request)
        }
    }
}

/// `scheme://host[:port]` of this request: the host the platform reports, else the
/// forwarding headers where the entry point believes them, else `Host` and the server's own scheme.
fn own_origin(ctx: &AppContext, request: &Request<Bytes>) -> Option<Origin> {
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
    Origin::from_header(&format!("{scheme}://{host}"))
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

fn error_response(error: &ApiError, allow: &'static str) -> Response<String> {
    let mut response = json_response(error.status(), error.body());
    match error {
        ApiError::MethodNotAllowed => {
            response
                .headers_mut()
                .insert(header::ALLOW, HeaderValue::from_static(allow));
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

fn preflight_response(allow: &'static str) -> Response<String> {
    let mut response = Response::new(String::new());
    *response.status_mut() = StatusCode::NO_CONTENT;
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(allow),
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
    fn from(error: HashError) -> Self {
        Self::Internal(error.to_string())
    }
}

/// Verifies `password` against `stored`. A stored hash no verification may run is answered as
/// it comes (the caller treats it as a wrong password), and the request line says why.
async fn verify(
    ctx: &AppContext,
    password: CurrentPassword,
    stored: PasswordHash,
    trace: &mut Trace,
) -> Result<Verification, ApiError> {
    let verification = ctx.hasher.verify(password, stored).await?;
    if let Verification::Unverifiable(why) = &verification {
        trace.unverified = Some(format!(
            "stored password hash not verified ({why}): answered as a wrong password"
        ));
    }
    Ok(verification)
}

#[cfg(test)]
mod tests {
    use super::*;

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
