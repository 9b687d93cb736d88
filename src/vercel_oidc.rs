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

/// The newest OIDC token the function has seen, shared between the Vercel door (which takes
/// it from each request) and the credentials provider (which spends it).
#[derive(Clone, Default)]
pub struct OidcToken(Arc<RwLock<Option<String>>>);

impl std::fmt::Debug for OidcToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OidcToken(<redacted>)")
    }
}

impl OidcToken {
    /// A slot holding `initial` (`VERCEL_OIDC_TOKEN`, under `vercel dev`), if any.
    pub fn new(initial: Option<String>) -> Self {
        Self(Arc::new(RwLock::new(initial.filter(|t| !t.is_empty()))))
    }

    /// Takes the token out of a request's headers and keeps it if it is new. The header is
    /// removed either way: the token is a credential, and nothing after the door needs it.
    pub fn take_from(&self, headers: &mut HeaderMap) {
        let Some(value) = headers.remove(TOKEN_HEADER) else {
            return;
        };
        let Ok(token) = value.to_str() else {
            return;
        };
        if token.is_empty() || self.current().as_deref() == Some(token) {
            return;
        }
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = Some(token.to_owned());
    }

    /// The newest token, if one has arrived.
    pub fn current(&self) -> Option<String> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
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

    #[test]
    fn the_newest_token_wins_and_the_header_goes() {
        let slot = OidcToken::new(Some("from-the-environment".into()));
        // (header value, token kept afterwards, why)
        let cases = [
            (None, "from-the-environment", "no header: the environment's"),
            (
                Some(""),
                "from-the-environment",
                "an empty header changes nothing",
            ),
            (Some("first"), "first", "a request's token replaces it"),
            (Some("first"), "first", "the same token again"),
            (Some("second"), "second", "a fresher one replaces it"),
        ];
        for (header, kept, why) in cases {
            let mut headers = HeaderMap::new();
            headers.insert("x-other", HeaderValue::from_static("kept"));
            if let Some(value) = header {
                headers.insert(TOKEN_HEADER, HeaderValue::from_static(value));
            }
            slot.take_from(&mut headers);
            assert_eq!(slot.current().as_deref(), Some(kept), "{why}");
            assert!(!headers.contains_key(TOKEN_HEADER), "{why}: header removed");
            assert_eq!(headers["x-other"], "kept", "{why}");
        }
        assert_eq!(OidcToken::new(Some(String::new())).current(), None);
        assert_eq!(format!("{slot:?}"), "OidcToken(<redacted>)");
    }
}
