//! `ApiError`: every way a request can fail, one status per variant, one JSON body builder.
//!
//! The body is h3's error shape, which the web UI already parses:
//! `{"statusCode":400,"statusMessage":"Bad Request.","message":"...","data":{"issues":[...]}}`.

use http::StatusCode;

use crate::domain::Issue;
use crate::store::StoreError;

/// A request that cannot succeed. Rendered by [`ApiError::body`]; never carries secrets.
#[derive(Debug, Clone, PartialEq)]
pub enum ApiError {
    /// The body parsed as JSON but failed validation; each failing check is an issue.
    InvalidBody(Vec<Issue>),
    /// The body is not UTF-8 JSON.
    InvalidJson,
    /// The routed `user_id` is not a canonical positive integer.
    InvalidUserId(Vec<Issue>),
    /// No session cookie, or a forged, expired or revoked one; the reason is for the log.
    Unauthorized(Unauthorized),
    /// The session belongs to another user, or the request is cross-site; the reason is for
    /// the log.
    Forbidden(Forbidden),
    /// The user record does not exist.
    NotFound,
    /// The method is not PATCH.
    MethodNotAllowed,
    /// The new email already belongs to another user.
    EmailTaken,
    /// `current_password` does not verify against the stored hash.
    WrongCurrentPassword,
    /// Too many wrong `current_password` for this user lately; try again after this many
    /// seconds (`Retry-After`).
    TooManyAttempts {
        /// Whole seconds until the lock ends, at least 1.
        retry_after_secs: u64,
    },
    /// The body is larger than [`crate::MAX_BODY_BYTES`].
    PayloadTooLarge,
    /// The Content-Type is not `application/json`.
    UnsupportedMediaType,
    /// The store failed or something else went wrong: the cause, for the request's log line
    /// only (an operation and an error code, never SDK text).
    Internal(String),
    /// The request's deadline (`REQUEST_DEADLINE_MS`) passed; answered as [`ApiError::Internal`].
    DeadlineExceeded,
    /// The path is none of the function's routes.
    NoRoute,
    /// A sign-in body failed validation.
    InvalidSignIn(Vec<Issue>),
    /// A sign-up body failed validation.
    InvalidSignUp(Vec<Issue>),
    /// A sign-in named an unknown address, a user without a password, or a wrong password:
    /// one answer for all three.
    WrongCredentials,
    /// A sign-in or sign-up from a browser whose session is still valid.
    SignedIn(SignedInRoute),
    /// A sign-up for an address someone holds (in any case).
    AccountExists,
}

/// Which route a signed-in caller was refused on: each has the web app's own message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignedInRoute {
    /// `POST /api/auth/login`.
    SignIn,
    /// `POST /api/auth/sign-up`.
    SignUp,
}

const WRONG_CURRENT_PASSWORD: &str = "Current password is incorrect.";

/// Why a request has no session. Every reason answers the same 401: a caller learns nothing
/// from it, the audit log does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unauthorized {
    /// No `neptun-session` cookie at all.
    Missing,
    /// A cookie that is forged, unparseable or signed with an unknown key.
    Invalid,
    /// More than one `neptun-session` cookie (one may be planted by a sibling subdomain).
    Duplicate,
    /// An authentic cookie past its expiry or its session's absolute lifetime.
    Expired,
    /// An authentic cookie whose session version the store no longer holds.
    Revoked,
    /// An authentic cookie whose login or issue time is in the future.
    FromTheFuture,
    /// A Nuxt session the function never stamped, under `NUXT_UNSTAMPED_SESSIONS=refuse`.
    Unstamped,
}

/// Why an authenticated request is refused. Every reason answers the same 403.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forbidden {
    /// The session belongs to another user than the path's.
    OtherUser,
    /// The request comes from another site (`Origin` / `Sec-Fetch-Site`).
    CrossSite,
}

impl ApiError {
    /// Every outcome's status, its name in the request log's `outcome` field, and its
    /// `message`: the one table they are written in.
    fn row(&self) -> (StatusCode, &'static str, &'static str) {
        use StatusCode as S;
        const INVALID_BODY: &str =
            "Invalid body(?email, ?password). At least one of email or password is required.";
        const INTERNAL: &str = "Internal server error.";
        const UNAUTHORIZED: &str = "Unauthorized";
        const FORBIDDEN: &str = "You do not have access to this resource.";
        match self {
            Self::InvalidBody(_) => (S::BAD_REQUEST, "invalid_body", INVALID_BODY),
            Self::InvalidJson => (S::BAD_REQUEST, "invalid_json", "Invalid JSON body"),
            Self::InvalidUserId(_) => (
                S::BAD_REQUEST,
                "invalid_user_id",
                "Invalid route parameter user_id.",
            ),
            Self::WrongCurrentPassword => (
                S::BAD_REQUEST,
                "wrong_current_password",
                WRONG_CURRENT_PASSWORD,
            ),
            Self::Unauthorized(reason) => (
                S::UNAUTHORIZED,
                match reason {
                    Unauthorized::Missing => "session_missing",
                    Unauthorized::Invalid => "session_invalid",
                    Unauthorized::Duplicate => "session_duplicate",
                    Unauthorized::Expired => "session_expired",
                    Unauthorized::Revoked => "session_revoked",
                    Unauthorized::FromTheFuture => "session_from_the_future",
                    Unauthorized::Unstamped => "session_unstamped",
                },
                UNAUTHORIZED,
            ),
            Self::Forbidden(Forbidden::OtherUser) => {
                (S::FORBIDDEN, "forbidden_other_user", FORBIDDEN)
            }
            Self::Forbidden(Forbidden::CrossSite) => {
                (S::FORBIDDEN, "forbidden_cross_site", FORBIDDEN)
            }
            Self::NotFound => (S::NOT_FOUND, "not_found", "User not found."),
            Self::NoRoute => (S::NOT_FOUND, "no_route", "No route matches this path."),
            Self::MethodNotAllowed => (
                S::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "Method not allowed.",
            ),
            Self::EmailTaken => (S::CONFLICT, "email_taken", "Email already in use."),
            Self::PayloadTooLarge => (
                S::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "Request body must be at most 16384 bytes.",
            ),
            Self::UnsupportedMediaType => (
                S::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Content-Type must be application/json.",
            ),
            Self::TooManyAttempts { .. } => (
                S::TOO_MANY_REQUESTS,
                "too_many_attempts",
                "Too many attempts; try again later.",
            ),
            Self::InvalidSignIn(_) => (
                S::BAD_REQUEST,
                "invalid_body",
                "Invalid body(email, password).",
            ),
            Self::InvalidSignUp(_) => (
                S::BAD_REQUEST,
                "invalid_body",
                "Invalid body(email, password, confirmPassword).",
            ),
            Self::WrongCredentials => (
                S::UNAUTHORIZED,
                "wrong_credentials",
                "Invalid email or password.",
            ),
            Self::SignedIn(SignedInRoute::SignIn) => (
                S::FORBIDDEN,
                "signed_in",
                "Please log out before logging in as a different user.",
            ),
            Self::SignedIn(SignedInRoute::SignUp) => (
                S::FORBIDDEN,
                "signed_in",
                "Please log out before creating a new account.",
            ),
            Self::AccountExists => (
                S::CONFLICT,
                "email_taken",
                "A user with this email already exists.",
            ),
            Self::Internal(_) => (S::INTERNAL_SERVER_ERROR, "internal", INTERNAL),
            Self::DeadlineExceeded => (S::INTERNAL_SERVER_ERROR, "deadline_exceeded", INTERNAL),
        }
    }

    /// Why a 500 happened, for the request's log line.
    pub fn cause(&self) -> Option<&str> {
        match self {
            Self::Internal(cause) => Some(cause),
            Self::DeadlineExceeded => Some("request deadline passed"),
            _ => None,
        }
    }

    /// The HTTP status of this outcome.
    pub fn status(&self) -> StatusCode {
        self.row().0
    }

    /// A short label for the request log line (the `outcome` field).
    pub fn kind(&self) -> &'static str {
        self.row().1
    }

    fn message(&self) -> &'static str {
        self.row().2
    }

    /// The JSON error body: status, reason phrase with a period, message, and issues if any.
    /// Written straight from typed fields: building it as a `serde_json::Value` first (a map
    /// per issue) was a sixth of the CPU of a request refused by validation.
    pub fn body(&self) -> String {
        #[derive(serde::Serialize)]
        #[serde(rename_all = "camelCase")]
        struct Body<'a> {
            status_code: u16,
            status_message: String,
            message: &'static str,
            #[serde(skip_serializing_if = "Option::is_none")]
            data: Option<Data<'a>>,
        }
        #[derive(serde::Serialize)]
        struct Data<'a> {
            issues: &'a [Issue],
        }
        let status = self.status();
        let reason = status.canonical_reason().unwrap_or("Error");
        let wrong_current_password;
        let issues = match self {
            Self::InvalidBody(issues)
            | Self::InvalidUserId(issues)
            | Self::InvalidSignIn(issues)
            | Self::InvalidSignUp(issues) => Some(issues.as_slice()),
            Self::WrongCurrentPassword => {
                wrong_current_password =
                    [Issue::custom_at(WRONG_CURRENT_PASSWORD, "current_password")];
                Some(wrong_current_password.as_slice())
            }
            _ => None,
        };
        let body = Body {
            status_code: status.as_u16(),
            status_message: format!("{reason}."),
            message: self.message(),
            data: issues.map(|issues| Data { issues }),
        };
        // Room for the common bodies (a validation error with one issue is ~200 bytes), so
        // the buffer is not regrown from empty on every refusal.
        let mut json = Vec::with_capacity(256);
        serde_json::to_writer(&mut json, &body).expect("BUG: an error body always serializes");
        String::from_utf8(json).expect("serde_json writes UTF-8")
    }
}

impl ApiError {
    /// A store refusal as the request's answer, `now_ms` the request's clock (a lock's
    /// `Retry-After` counts from it). The one conversion: there is no `From`, so no store
    /// error can be turned into an answer without the request's clock.
    pub(crate) fn from_store(error: StoreError, now_ms: i64) -> Self {
        match error {
            StoreError::NotFound => Self::NotFound,
            StoreError::Revoked => Self::Unauthorized(Unauthorized::Revoked),
            StoreError::EmailTaken => Self::EmailTaken,
            StoreError::Locked { until_ms } => Self::TooManyAttempts {
                retry_after_secs: crate::credentials::retry_after_secs(now_ms, until_ms),
            },
            StoreError::IdTaken => {
                Self::Internal("store refused an update for an id conflict".into())
            }
            StoreError::Unavailable(reason) => {
                Self::Internal(format!("store unavailable: {reason}"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_with_issues_keep_h3s_member_order_byte_for_byte() {
        let cases = [
            (
                ApiError::InvalidBody(vec![Issue::custom_at("Invalid email", "email")]),
                r#"{"statusCode":400,"statusMessage":"Bad Request.","message":"Invalid body(?email, ?password). At least one of email or password is required.","data":{"issues":[{"code":"custom","validation":"custom","message":"Invalid email","path":["email"]}]}}"#,
            ),
            (
                ApiError::WrongCurrentPassword,
                r#"{"statusCode":400,"statusMessage":"Bad Request.","message":"Current password is incorrect.","data":{"issues":[{"code":"custom","validation":"custom","message":"Current password is incorrect.","path":["current_password"]}]}}"#,
            ),
            (
                ApiError::InvalidJson,
                r#"{"statusCode":400,"statusMessage":"Bad Request.","message":"Invalid JSON body"}"#,
            ),
            (
                ApiError::TooManyAttempts {
                    retry_after_secs: 30,
                },
                r#"{"statusCode":429,"statusMessage":"Too Many Requests.","message":"Too many attempts; try again later."}"#,
            ),
        ];
        for (error, expected) in cases {
            assert_eq!(error.body(), expected, "{error:?}");
        }
    }

    #[test]
    fn every_reason_of_a_401_or_403_answers_the_same_body_and_logs_its_own_outcome() {
        let unauthorized =
            r#"{"statusCode":401,"statusMessage":"Unauthorized.","message":"Unauthorized"}"#;
        let forbidden = r#"{"statusCode":403,"statusMessage":"Forbidden.","message":"You do not have access to this resource."}"#;
        let cases = [
            (
                ApiError::Unauthorized(Unauthorized::Missing),
                unauthorized,
                "session_missing",
            ),
            (
                ApiError::Unauthorized(Unauthorized::Invalid),
                unauthorized,
                "session_invalid",
            ),
            (
                ApiError::Unauthorized(Unauthorized::Duplicate),
                unauthorized,
                "session_duplicate",
            ),
            (
                ApiError::Unauthorized(Unauthorized::Expired),
                unauthorized,
                "session_expired",
            ),
            (
                ApiError::Unauthorized(Unauthorized::Revoked),
                unauthorized,
                "session_revoked",
            ),
            (
                ApiError::Forbidden(Forbidden::OtherUser),
                forbidden,
                "forbidden_other_user",
            ),
            (
                ApiError::Forbidden(Forbidden::CrossSite),
                forbidden,
                "forbidden_cross_site",
            ),
            (
                ApiError::DeadlineExceeded,
                r#"{"statusCode":500,"statusMessage":"Internal Server Error.","message":"Internal server error."}"#,
                "deadline_exceeded",
            ),
        ];
        for (error, body, kind) in cases {
            assert_eq!(error.body(), body, "{error:?}");
            assert_eq!(error.kind(), kind, "{error:?}");
        }
    }
}
