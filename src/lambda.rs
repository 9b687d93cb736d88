//! The AWS Lambda door: API Gateway HTTP API (v2), REST API (v1) and Function URL events in,
//! through `lambda_http`, to the one handler.

use bytes::Bytes;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};

use crate::context::AppContext;
use crate::handler::{ClientIp, PlatformHost, RequestId, RouteUserId, handle};

/// Runs the handler on one event. `lambda_http` has already merged v2's `cookies` array into
/// the `Cookie` header and decoded a base64 body; it turns `Set-Cookie` into v2's `cookies`
/// array or v1's `multiValueHeaders` on the way out.
pub async fn handle_event(ctx: &AppContext, request: Request) -> Response<Body> {
    let user_id = request
        .path_parameters_ref()
        .and_then(|params| params.first("user_id"))
        .map(|id| RouteUserId(id.to_owned()));
    // The host API Gateway (or the Function URL) was called on, and the client address it
    // saw. A client's `X-Forwarded-Host` passes through API Gateway untouched and is never
    // believed; the request id is Lambda's own, as in the platform's log lines.
    let (platform_host, source_ip) = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => {
            (context.domain_name.clone(), context.http.source_ip.clone())
        }
        Some(RequestContext::ApiGatewayV1(context)) => (
            context.domain_name.clone(),
            context.identity.source_ip.clone(),
        ),
        _ => (None, None),
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
    if let Some(user_id) = user_id {
        parts.extensions.insert(user_id);
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
