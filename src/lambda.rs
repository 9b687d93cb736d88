//! The AWS Lambda door: API Gateway HTTP API (v2), REST API (v1) and Function URL events in,
//! through `lambda_http`, to the one handler.

use bytes::Bytes;
use lambda_http::{Body, Request, RequestExt, Response};

use crate::context::AppContext;
use crate::handler::{RouteUserId, handle};

/// Runs the handler on one event. `lambda_http` has already merged v2's `cookies` array into
/// the `Cookie` header and decoded a base64 body; it turns `Set-Cookie` into v2's `cookies`
/// array or v1's `multiValueHeaders` on the way out.
pub async fn handle_event(ctx: &AppContext, request: Request) -> Response<Body> {
    let user_id = request
        .path_parameters_ref()
        .and_then(|params| params.first("user_id"))
        .map(|id| RouteUserId(id.to_owned()));
    let (mut parts, body) = request.into_parts();
    if let Some(user_id) = user_id {
        parts.extensions.insert(user_id);
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
