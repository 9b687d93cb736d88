//! A stand-in for the AWS calls a deployed function makes at start and for its credentials:
//! Secrets Manager's `GetSecretValue` (JSON) and STS's `AssumeRoleWithWebIdentity` (query
//! protocol, XML), on a loopback port, answering canned responses and recording what it was
//! asked. Point a function at it with `AWS_ENDPOINT_URL_SECRETS_MANAGER` and
//! `AWS_ENDPOINT_URL_STS`.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// The access key id the stand-in STS issues, to recognise its credentials by.
pub const ISSUED_ACCESS_KEY_ID: &str = "ASIASTANDINOIDC00001";

/// What `GetSecretValue` answers.
#[derive(Clone, Debug)]
pub enum SecretAnswer {
    /// The secret, as `SecretString`.
    Value(String),
    /// A secret stored as binary only: no `SecretString`.
    BinaryOnly,
    /// An error: HTTP status and the error's `__type`.
    Error(u16, &'static str),
    /// Per secret: the answer for each `SecretId`, `ResourceNotFoundException` for others.
    ById(Vec<(String, SecretAnswer)>),
}

/// One call the stand-in answered: the operation and the request body.
#[derive(Clone, Debug)]
pub struct Call {
    pub operation: String,
    pub body: String,
}

pub struct AwsStandIn {
    /// `http://127.0.0.1:<port>`.
    pub url: String,
    calls: Arc<Mutex<Vec<Call>>>,
}

impl AwsStandIn {
    pub async fn start(secret: SecretAnswer) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let calls = Arc::new(Mutex::new(Vec::new()));
        let recorded = calls.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (calls, secret) = (recorded.clone(), secret.clone());
                tokio::spawn(async move {
                    let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                        let (calls, secret) = (calls.clone(), secret.clone());
                        async move {
                            let target = request
                                .headers()
                                .get("x-amz-target")
                                .and_then(|v| v.to_str().ok())
                                .unwrap_or_default()
                                .to_owned();
                            let body = request.into_body().collect().await.unwrap().to_bytes();
                            let body = String::from_utf8_lossy(&body).into_owned();
                            let (operation, answer) = if target == "secretsmanager.GetSecretValue" {
                                ("GetSecretValue", secret_answer(&secret, &body))
                            } else if body.contains("Action=AssumeRoleWithWebIdentity") {
                                ("AssumeRoleWithWebIdentity", sts_answer())
                            } else {
                                ("unknown", (404, "text/plain", "unknown operation".into()))
                            };
                            calls.lock().unwrap().push(Call {
                                operation: operation.to_owned(),
                                body,
                            });
                            let (status, content_type, body) = answer;
                            Ok::<_, Infallible>(
                                Response::builder()
                                    .status(status)
                                    .header("content-type", content_type)
                                    .body(Full::new(Bytes::from(body)))
                                    .unwrap(),
                            )
                        }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self { url, calls }
    }

    /// Every call so far, in order.
    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }

    /// The calls of one operation.
    pub fn calls_of(&self, operation: &str) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|call| call.operation == operation)
            .collect()
    }
}

fn secret_answer(secret: &SecretAnswer, request: &str) -> (u16, &'static str, String) {
    const JSON: &str = "application/x-amz-json-1.1";
    if let SecretAnswer::ById(answers) = secret {
        let asked: serde_json::Value = serde_json::from_str(request).unwrap_or_default();
        let answer = answers
            .iter()
            .find(|(id, _)| asked["SecretId"] == id.as_str())
            .map_or(
                SecretAnswer::Error(400, "ResourceNotFoundException"),
                |(_, answer)| answer.clone(),
            );
        return secret_answer(&answer, request);
    }
    let metadata = r#""ARN":"arn:aws:secretsmanager:us-east-1:123456789012:secret:neptun-session-AbCdEf","Name":"neptun-session","VersionId":"9a8b7c6d-0000-4000-8000-000000000001","VersionStages":["AWSCURRENT"],"CreatedDate":1767225600.0"#;
    match secret {
        SecretAnswer::Value(value) => (
            200,
            JSON,
            format!(
                "{{{metadata},\"SecretString\":{}}}",
                serde_json::Value::from(value.as_str())
            ),
        ),
        SecretAnswer::BinaryOnly => (
            200,
            JSON,
            format!("{{{metadata},\"SecretBinary\":\"AAECAw==\"}}"),
        ),
        SecretAnswer::Error(status, kind) => (
            *status,
            JSON,
            format!(r#"{{"__type":"{kind}","Message":"stand-in refusal"}}"#),
        ),
        SecretAnswer::ById(_) => unreachable!("answered per id above"),
    }
}

fn sts_answer() -> (u16, &'static str, String) {
    let body = format!(
        r#"<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <Credentials>
      <AccessKeyId>{ISSUED_ACCESS_KEY_ID}</AccessKeyId>
      <SecretAccessKey>stand-in-secret-access-key</SecretAccessKey>
      <SessionToken>stand-in-session-token</SessionToken>
      <Expiration>2099-01-01T00:00:00Z</Expiration>
    </Credentials>
    <SubjectFromWebIdentityToken>owner:team:project:neptun-users:environment:production</SubjectFromWebIdentityToken>
    <AssumedRoleUser>
      <Arn>arn:aws:sts::123456789012:assumed-role/neptun-users-vercel/neptun-users</Arn>
      <AssumedRoleId>AROASTANDIN:neptun-users</AssumedRoleId>
    </AssumedRoleUser>
    <Audience>https://vercel.com/team</Audience>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata>
    <RequestId>00000000-0000-4000-8000-000000000001</RequestId>
  </ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>"#
    );
    (200, "text/xml", body)
}
