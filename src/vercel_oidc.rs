//! AWS credentials on Vercel without access keys: Vercel's OIDC federation.
//!
//! With OIDC federation enabled for a project, Vercel hands each function a short-lived
//! token signed by its issuer: in the `x-vercel-oidc-token` header of every request, and in
//! `VERCEL_OIDC_TOKEN` during builds and `vercel dev`. An IAM role that trusts the issuer
//! trades that token for temporary credentials through STS `AssumeRoleWithWebIdentity`, an
//! unsigned call. [`VercelOidcCredentials`] is that trade as the SDK's credentials provider;
//! the SDK's identity cache keeps the credentials until shortly before they expire, so STS
//! sees about one call an hour per instance. The token is never logged.

use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_credential_types::provider::{self, ProvideCredentials, error::CredentialsError, future};
use http::HeaderMap;

use crate::aws;

/// The header Vercel sends the project's OIDC token in, with every request.
pub const TOKEN_HEADER: &str = "x-vercel-oidc-token";

/// The newest OIDC token the function has seen, shared between the Vercel entry point (which takes
/// it from each request) and the credentials provider (which spends it). A token replaces the
/// one kept only when it is a JWT that has not expired and names the issuer and subject of the
/// first token kept: a request cannot swap in a malformed token, or one for another project.
#[derive(Clone, Default)]
pub struct OidcToken(Arc<RwLock<Kept>>);

/// The token kept, and whose it must be.
#[derive(Default)]
struct Kept {
    token: Option<String>,
    /// `iss` and `sub` of the first token kept.
    identity: Option<(String, String)>,
}

impl std::fmt::Debug for OidcToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OidcToken(<redacted>)")
    }
}

/// What the slot needs of a token's claims (its signature is STS's to check).
#[derive(Debug, PartialEq)]
struct Claims {
    iss: String,
    sub: String,
    /// Seconds since the epoch (a JWT `NumericDate`, which may have a fraction).
    exp: f64,
}

/// Why a token was not kept; logged, never the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
enum Ignored {
    #[error("not a JWT: three base64url parts are expected")]
    NotThreeParts,
    #[error("not a JWT: its header or payload is not a JSON object")]
    NotJson,
    #[error("its payload lacks iss, sub or exp")]
    MissingClaims,
    #[error("it has expired")]
    Expired,
    #[error("its issuer or subject differs from the first token's")]
    OtherIdentity,
}

impl Claims {
    /// `header.payload.signature`, each part base64url without padding, the first two JSON
    /// objects, the payload with string `iss` and `sub` and a numeric `exp`.
    fn parse(token: &str) -> Result<Self, Ignored> {
        use base64::Engine as _;
        let decode = |part: &str| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(part)
                .ok()
                .filter(|bytes| !bytes.is_empty())
        };
        let parts: Vec<&str> = token.split('.').collect();
        let [header, payload, signature] = parts[..] else {
            return Err(Ignored::NotThreeParts);
        };
        let (Some(header), Some(payload), Some(_)) =
            (decode(header), decode(payload), decode(signature))
        else {
            return Err(Ignored::NotThreeParts);
        };
        let object = |bytes: &[u8]| {
            serde_json::from_slice::<serde_json::Value>(bytes)
                .ok()
                .filter(serde_json::Value::is_object)
                .ok_or(Ignored::NotJson)
        };
        object(&header)?;
        let payload = object(&payload)?;
        let text = |name: &str| {
            payload[name]
                .as_str()
                .filter(|value| !value.is_empty())
                .map(str::to_owned)
        };
        match (text("iss"), text("sub"), payload["exp"].as_f64()) {
            (Some(iss), Some(sub), Some(exp)) => Ok(Self { iss, sub, exp }),
            _ => Err(Ignored::MissingClaims),
        }
    }
}

/// Seconds since the epoch.
fn now_seconds() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |since| since.as_secs_f64())
}

impl OidcToken {
    /// A slot holding `initial` (`VERCEL_OIDC_TOKEN`, under `vercel dev`), if it is one the
    /// slot would take from a request.
    pub fn new(initial: Option<String>) -> Self {
        let slot = Self::default();
        if let Some(token) = initial.filter(|t| !t.is_empty()) {
            slot.offer(&token, now_seconds(), "VERCEL_OIDC_TOKEN");
        }
        slot
    }

    /// Takes the token out of a request's headers and keeps it if it is new and acceptable.
    /// The header is removed either way: the token is a credential, and nothing after the
    /// entry point needs it.
    pub fn take_from(&self, headers: &mut HeaderMap) {
        self.take_from_at(headers, now_seconds());
    }

    /// [`OidcToken::take_from`] at `now` (seconds since the epoch).
    fn take_from_at(&self, headers: &mut HeaderMap, now: f64) {
        let Some(value) = headers.remove(TOKEN_HEADER) else {
            return;
        };
        let Ok(token) = value.to_str() else {
            tracing::warn!(
                source = TOKEN_HEADER,
                reason = "not text",
                "ignored a Vercel OIDC token: kept the previous one"
            );
            return;
        };
        if token.is_empty() || self.current().as_deref() == Some(token) {
            return;
        }
        self.offer(token, now, TOKEN_HEADER);
    }

    /// Keeps `token` if it parses, has not expired at `now` and has the first token's
    /// identity; else logs why (naming `source`) and keeps what it had.
    fn offer(&self, token: &str, now: f64, source: &str) {
        let mut kept = self.0.write().unwrap_or_else(|p| p.into_inner());
        let accepted = Claims::parse(token).and_then(|claims| {
            if claims.exp <= now {
                return Err(Ignored::Expired);
            }
            match &kept.identity {
                Some((iss, sub)) if *iss != claims.iss || *sub != claims.sub => {
                    Err(Ignored::OtherIdentity)
                }
                _ => Ok(claims),
            }
        });
        match accepted {
            Ok(claims) => {
                kept.identity.get_or_insert((claims.iss, claims.sub));
                kept.token = Some(token.to_owned());
            }
            Err(why) => tracing::warn!(
                source,
                reason = %why,
                "ignored a Vercel OIDC token: kept the previous one"
            ),
        }
    }

    /// The newest token kept, if one has arrived.
    pub fn current(&self) -> Option<String> {
        self.0
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .token
            .clone()
    }
}

/// Credentials for `role_arn`, from STS, in exchange for the newest [`OidcToken`].
#[derive(Debug)]
pub struct VercelOidcCredentials {
    role_arn: String,
    session_name: String,
    token: OidcToken,
    sts: aws_sdk_sts::Client,
}

impl VercelOidcCredentials {
    /// `sts` needs no credentials of its own (`AssumeRoleWithWebIdentity` is unsigned); its
    /// endpoint is the region's, or `AWS_ENDPOINT_URL_STS`.
    pub fn new(
        role_arn: String,
        session_name: String,
        token: OidcToken,
        sts: aws_sdk_sts::Client,
    ) -> Self {
        Self {
            role_arn,
            session_name,
            token,
            sts,
        }
    }

    async fn assume_role(&self) -> provider::Result {
        let Some(token) = self.token.current() else {
            tracing::warn!(
                "AWS_ROLE_ARN is set but no Vercel OIDC token has arrived: enable OIDC federation in the Vercel project's settings"
            );
            return Err(CredentialsError::not_loaded(
                "no Vercel OIDC token (x-vercel-oidc-token) has arrived yet",
            ));
        };
        let answer = self
            .sts
            .assume_role_with_web_identity()
            .role_arn(&self.role_arn)
            .role_session_name(&self.session_name)
            .web_identity_token(token)
            .send()
            .await
            .map_err(|error| {
                // The code only: STS messages may quote the request.
                let code = aws::failure("STS", &error);
                tracing::error!(code, "STS refused the Vercel OIDC token");
                CredentialsError::provider_error(format!("AssumeRoleWithWebIdentity: {code}"))
            })?;
        let issued = answer.credentials.ok_or_else(|| {
            CredentialsError::unhandled("AssumeRoleWithWebIdentity returned no credentials")
        })?;
        let expiry = SystemTime::try_from(issued.expiration).map_err(|_| {
            CredentialsError::unhandled("AssumeRoleWithWebIdentity returned an unusable expiry")
        })?;
        Ok(Credentials::new(
            issued.access_key_id,
            issued.secret_access_key,
            Some(issued.session_token),
            Some(expiry),
            "VercelOidc",
        ))
    }
}

impl ProvideCredentials for VercelOidcCredentials {
    fn provide_credentials<'a>(&'a self) -> future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        future::ProvideCredentials::new(self.assume_role())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn test_now() -> f64 {
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs_f64()
    }

    /// A JWT with `payload` (and a header and signature of the usual shape).
    fn jwt(payload: serde_json::Value) -> String {
        use base64::Engine as _;
        let part = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        format!(
            "{}.{}.{}",
            part(br#"{"alg":"RS256","typ":"JWT","kid":"k"}"#),
            part(payload.to_string().as_bytes()),
            part(b"signature-bytes")
        )
    }

    const ISSUER: &str = "https://oidc.vercel.com/team";
    const SUBJECT: &str = "owner:team:project:app:environment:production";

    fn claims(exp: f64) -> serde_json::Value {
        serde_json::json!({"iss": ISSUER, "sub": SUBJECT, "aud": "https://vercel.com/team", "exp": exp})
    }

    #[test]
    fn a_token_replaces_the_kept_one_only_if_it_is_an_unexpired_jwt_of_the_same_identity() {
        use base64::Engine as _;
        let b64 = |text: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(text);
        let now = test_now();
        let first = jwt(claims(now + 3600.0));
        let fresher = jwt(claims(now + 7200.0));
        let slot = OidcToken::new(Some(first.clone()));
        assert_eq!(
            slot.current().as_deref(),
            Some(first.as_str()),
            "the environment's"
        );
        let other = |field: &str, value: &str| {
            let mut payload = claims(now + 7200.0);
            payload[field] = serde_json::json!(value);
            jwt(payload)
        };
        let without = |field: &str| {
            let mut payload = claims(now + 7200.0);
            payload.as_object_mut().unwrap().remove(field);
            jwt(payload)
        };
        let header = b64(r#"{"alg":"RS256"}"#);
        let payload = b64(&claims(now + 7200.0).to_string());
        // (header value, why); each is refused and the kept token stays.
        let refused = [
            ("not-a-jwt".to_owned(), "one part"),
            (format!("{header}.{payload}"), "two parts"),
            (format!("{header}.{payload}.c2ln.extra"), "four parts"),
            (format!("{header}.{payload}."), "an empty signature"),
            (format!("{header}.{payload}=.c2ln"), "padding"),
            (format!("{header}.{payload}*.c2ln"), "not base64url"),
            (
                format!("{header}.{}.c2ln", b64("not json")),
                "a payload that is not JSON",
            ),
            (
                format!("{header}.{}.c2ln", b64("[1,2]")),
                "a payload that is not an object",
            ),
            (
                format!("{}.{payload}.c2ln", b64("header")),
                "a header that is not JSON",
            ),
            (without("iss"), "no issuer"),
            (without("sub"), "no subject"),
            (without("exp"), "no expiry"),
            (other("exp", "tomorrow"), "an expiry that is not a number"),
            (jwt(claims(now - 1.0)), "expired"),
            (
                other("iss", "https://oidc.vercel.com/someone-else"),
                "another issuer",
            ),
            (
                other("sub", "owner:team:project:other:environment:production"),
                "another subject",
            ),
            (String::new(), "empty"),
        ];
        for (value, why) in refused {
            let mut headers = HeaderMap::new();
            headers.insert("x-other", HeaderValue::from_static("kept"));
            headers.insert(TOKEN_HEADER, HeaderValue::from_str(&value).unwrap());
            slot.take_from(&mut headers);
            assert_eq!(slot.current().as_deref(), Some(first.as_str()), "{why}");
            assert!(!headers.contains_key(TOKEN_HEADER), "{why}: header removed");
            assert_eq!(headers["x-other"], "kept", "{why}");
        }
        let mut headers = HeaderMap::new();
        headers.insert(TOKEN_HEADER, HeaderValue::from_str(&fresher).unwrap());
        slot.take_from(&mut headers);
        assert_eq!(
            slot.current().as_deref(),
            Some(fresher.as_str()),
            "a fresher one of the same identity"
        );
        let mut headers = HeaderMap::new();
        slot.take_from(&mut headers);
        assert_eq!(
            slot.current().as_deref(),
            Some(fresher.as_str()),
            "no header changes nothing"
        );
        assert_eq!(format!("{slot:?}"), "OidcToken(<redacted>)");
    }

    #[test]
    fn the_first_token_kept_sets_the_identity_and_an_unusable_one_sets_nothing() {
        let now = test_now();
        // (initial token, kept at start, why)
        let cases = [
            (None, None, "no environment token"),
            (Some(String::new()), None, "an empty one"),
            (Some("not-a-jwt".to_owned()), None, "a malformed one"),
            (Some(jwt(claims(now - 60.0))), None, "an expired one"),
        ];
        for (initial, kept, why) in cases {
            let slot = OidcToken::new(initial);
            assert_eq!(slot.current(), kept, "{why}");
            // The first request's token, of any identity, is then the first kept.
            let mut payload = claims(now + 600.0);
            payload["sub"] = serde_json::json!("owner:team:project:first-seen");
            let token = jwt(payload);
            let mut headers = HeaderMap::new();
            headers.insert(TOKEN_HEADER, HeaderValue::from_str(&token).unwrap());
            slot.take_from(&mut headers);
            assert_eq!(
                slot.current().as_deref(),
                Some(token.as_str()),
                "{why}: the request's"
            );
            let mut headers = HeaderMap::new();
            headers.insert(
                TOKEN_HEADER,
                HeaderValue::from_str(&jwt(claims(now + 900.0))).unwrap(),
            );
            slot.take_from(&mut headers);
            assert_eq!(
                slot.current().as_deref(),
                Some(token.as_str()),
                "{why}: its subject holds"
            );
        }
    }
}
