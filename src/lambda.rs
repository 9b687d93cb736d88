//! The AWS Lambda entry point: API Gateway HTTP API (v2), REST API (v1) and Function URL events in,
//! through `lambda_http`, to the one handler.

use std::borrow::Cow;

use bytes::Bytes;
use http::Uri;
use lambda_http::aws_lambda_events::query_map::QueryMap;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use percent_encoding::percent_decode_str;

use crate::context::AppContext;
use crate::handler::{ClientIp, PlatformHost, RequestId, RouteUserId, handle};

/// Runs the handler on one event. `lambda_http` has already merged v2's `cookies` array into
/// the `Cookie` header and decoded a base64 body; it turns `Set-Cookie` into v2's `cookies`
/// array or v1's `multiValueHeaders` on the way out.
pub async fn handle_event(ctx: &AppContext, request: Request) -> Response<Body> {
    // The host API Gateway (or the Function URL) was called on, and the client address it
    // saw. A client's `X-Forwarded-Host` passes through API Gateway untouched and is never
    // believed; the request id is Lambda's own, as in the platform's log lines.
    let (platform_host, source_ip, route) = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => (
            context.domain_name.clone(),
            context.http.source_ip.clone(),
            Route::http_api(&request, context.stage.as_deref()),
        ),
        Some(RequestContext::ApiGatewayV1(context)) => (
            context.domain_name.clone(),
            context.identity.source_ip.clone(),
            Route::rest_api(
                &request,
                context.stage.as_deref(),
                context.resource_path.as_deref(),
            ),
        ),
        _ => (None, None, Route::default()),
    };
    let request_id = request
        .lambda_context_ref()
        .map(|context| RequestId(context.request_id.clone()));
    let (mut parts, body) = request.into_parts();
    if let Some(request_id) = request_id {
        parts.extensions.insert(request_id);
    }
    if let Some(ip) = source_ip {
        parts.extensions.insert(ClientIp(ip));
    }
    if let Some(user_id) = route.user_id {
        parts.extensions.insert(user_id);
    }
    if let Some(uri) = route.path.and_then(|path| with_path(&parts.uri, &path)) {
        parts.uri = uri;
    }
    if let Some(host) = platform_host.filter(|host| !host.is_empty()) {
        parts.extensions.insert(PlatformHost(host));
    }
    let body = match body {
        Body::Empty => Bytes::new(),
        Body::Text(text) => Bytes::from(text),
        Body::Binary(bytes) => Bytes::from(bytes),
        _ => Bytes::new(),
    };
    handle(ctx, http::Request::from_parts(parts, body))
        .await
        .map(Body::from)
}

/// What API Gateway's routing says about the route, beyond the URI `lambda_http` built.
#[derive(Default)]
struct Route {
    /// The `user_id` path parameter, decoded exactly once.
    user_id: Option<RouteUserId>,
    /// The request's path below the stage, when the URI's is not that.
    path: Option<String>,
}

impl Route {
    /// HTTP API (v2) and Function URL events: API Gateway has already percent-decoded the
    /// path parameters. `lambda_http` puts a named stage in front of the path; a route such
    /// as `ANY /{proxy+}` on such a stage would otherwise never match `/api/users/…`.
    fn http_api(request: &Request, stage: Option<&str>) -> Self {
        Self {
            user_id: path_parameter(request, "user_id").map(|id| RouteUserId(id.to_owned())),
            path: without_stage(request.uri().path(), stage),
        }
    }

    /// REST API (v1) events: the path parameters arrive as the client sent them, still
    /// percent-encoded. `lambda_http` puts the stage in front of the path, so a
    /// `/{proxy+}` resource (no `user_id` parameter) would answer 404: the path below the
    /// stage is the resource path with its parameters put back, which also leaves out a
    /// custom domain's base path.
    fn rest_api(request: &Request, stage: Option<&str>, resource_path: Option<&str>) -> Self {
        let user_id = path_parameter(request, "user_id")
            .map(|id| RouteUserId(percent_decoded(id).into_owned()));
        let path = match resource_path {
            Some(resource) => fill_in(resource, request.path_parameters_ref()),
            None => without_stage(request.uri().path(), stage),
        };
        Self { user_id, path }
    }
}

fn path_parameter<'r>(request: &'r Request, name: &str) -> Option<&'r str> {
    request.path_parameters_ref()?.first(name)
}

/// `%37` is `7`. A sequence that does not decode to UTF-8 stays as it was, for the handler to
/// refuse as it refuses any other malformed `user_id`.
fn percent_decoded(raw: &str) -> Cow<'_, str> {
    percent_decode_str(raw)
        .decode_utf8()
        .unwrap_or(Cow::Borrowed(raw))
}

/// `path` without the `/{stage}` prefix `lambda_http` adds for a named stage.
fn without_stage(path: &str, stage: Option<&str>) -> Option<String> {
    let stage = stage.filter(|stage| !stage.is_empty() && *stage != "$default")?;
    let rest = path.strip_prefix('/')?.strip_prefix(stage)?;
    match rest {
        "" => Some("/".to_owned()),
        rest if rest.starts_with('/') => Some(rest.to_owned()),
        _ => None,
    }
}

/// A REST API resource path with its parameters put back: `/{proxy+}` with
/// `proxy=api/users/7` is `/api/users/7`. `None` when a parameter is missing.
fn fill_in(resource_path: &str, parameters: Option<&QueryMap>) -> Option<String> {
    let segments = resource_path.split('/').map(|segment| {
        match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(name) => parameters?.first(name.trim_end_matches('+')),
            None => Some(segment),
        }
    });
    segments.collect::<Option<Vec<_>>>().map(|s| s.join("/"))
}

/// `uri` with its path replaced and its query kept; `None` if that is not a valid URI.
fn with_path(uri: &Uri, path: &str) -> Option<Uri> {
    let path_and_query = match uri.query() {
        Some(query) => format!("{path}?{query}"),
        None => path.to_owned(),
    };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(path_and_query.parse().ok()?);
    Uri::from_parts(parts).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rest_resource_path_gets_its_parameters_back() {
        let parameters: QueryMap = [("proxy", "api/users/7"), ("user_id", "%37")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect::<std::collections::HashMap<_, _>>()
            .into();
        // (resource path, expected path, why)
        let cases = [
            ("/{proxy+}", Some("/api/users/7"), "a greedy proxy resource"),
            (
                "/api/{proxy+}",
                Some("/api/api/users/7"),
                "a proxy below a prefix",
            ),
            (
                "/api/users/{user_id}",
                Some("/api/users/%37"),
                "the route's own resource, still encoded",
            ),
            ("/api/users/{missing}", None, "a parameter the event lacks"),
            ("/", Some("/"), "the root resource"),
        ];
        for (resource, expected, why) in cases {
            assert_eq!(
                fill_in(resource, Some(&parameters)).as_deref(),
                expected,
                "{why}"
            );
        }
        assert_eq!(fill_in("/{proxy+}", None), None, "no parameters at all");
    }

    #[test]
    fn only_a_named_stage_is_taken_off_the_path() {
        // (path, stage, expected, why)
        let cases = [
            (
                "/prod/api/users/7",
                Some("prod"),
                Some("/api/users/7"),
                "a named stage",
            ),
            ("/prod", Some("prod"), Some("/"), "the stage alone"),
            (
                "/production/x",
                Some("prod"),
                None,
                "a longer first segment",
            ),
            ("/api/users/7", Some("$default"), None, "the default stage"),
            ("/api/users/7", None, None, "no stage"),
            ("/api/users/7", Some(""), None, "an empty stage"),
        ];
        for (path, stage, expected, why) in cases {
            assert_eq!(without_stage(path, stage).as_deref(), expected, "{why}");
        }
    }

    #[test]
    fn percent_decoding_happens_once_and_keeps_what_is_not_utf8() {
        // (raw, decoded, why)
        let cases = [
            ("7", "7", "nothing to decode"),
            ("%37", "7", "an encoded digit"),
            ("%2537", "%37", "decoded once, not twice"),
            ("%FF", "%FF", "not UTF-8: left for the handler to refuse"),
            ("%5Buser_id%5D", "[user_id]", "the route template"),
        ];
        for (raw, decoded, why) in cases {
            assert_eq!(percent_decoded(raw), decoded, "{why}");
        }
    }

    #[test]
    fn the_query_survives_a_new_path() {
        let uri: Uri = "https://example.com/stage/api/users/7?user_id=7&x=%20"
            .parse()
            .unwrap();
        let moved = with_path(&uri, "/api/users/7").unwrap();
        assert_eq!(
            moved.to_string(),
            "https://example.com/api/users/7?user_id=7&x=%20"
        );
        assert_eq!(with_path(&uri, "/api/users/a b"), None, "not a URI path");
    }
}
