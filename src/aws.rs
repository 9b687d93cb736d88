//! The AWS SDK set-up that every AWS client here shares (the DynamoDB store, Secrets Manager
//! and STS): one rustls HTTPS client with compiled-in roots, bounded timeouts and standard
//! retries; and the one way an SDK failure becomes text that is safe to log.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
// Every SDK crate re-exports these same two types from the smithy runtime; DynamoDB's path
// serves Secrets Manager and STS errors too.
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_http_client::tls;
use base64::Engine as _;

use crate::store::StoreError;

/// Connecting to AWS; a stuck handshake gives up quickly and is retried.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_millis(1_000);
/// One HTTP attempt, including reading the answer.
pub(crate) const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(2_000);
/// A whole operation, retries included: the worst case a request waits on the store.
pub const OPERATION_TIMEOUT: Duration = Duration::from_millis(5_000);
/// Attempts per operation (the SDK's standard mode retries throttling and 5xx).
pub(crate) const MAX_ATTEMPTS: u32 = 3;
/// The SDK configuration loader the deployed functions use for every client (DynamoDB, Secrets
/// Manager, STS): one rustls (ring) HTTPS client, bounded timeouts and the standard retry
/// mode. Everything else comes from the environment as the SDK reads it, unless the caller sets
/// it on the loader. TLS trusts the roots the environment calls for ([`Roots::for_settings`]).
pub fn sdk_config_loader() -> aws_config::ConfigLoader {
    loader_trusting(Roots::for_settings(&env_setting))
}

/// [`sdk_config_loader`] for the command line, which trusts every compiled-in root: it also
/// reads the shared profile files (`~/.aws/config`), where a `cn-` region or an HTTPS
/// `endpoint_url` can be set that the environment does not show, and it starts once, so the
/// larger set's parsing costs nothing that matters.
pub(crate) fn command_line_sdk_config_loader() -> aws_config::ConfigLoader {
    loader_trusting(Roots::Mozilla)
}

/// A variable of the environment, unless unset or empty.
fn env_setting(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

fn loader_trusting(roots: Roots) -> aws_config::ConfigLoader {
    let http_client = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .tls_context(trusted_roots(roots))
        .build_https();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client)
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                .operation_timeout(OPERATION_TIMEOUT)
                .build(),
        )
        .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS));
    // Lambda and Vercel hand the function its region and credentials in the environment.
    // Taking them from there directly skips building the default provider chains (profile
    // files, SSO, IMDS and container clients), which costs milliseconds of every cold start.
    if let Some(region) = env_setting("AWS_REGION").or_else(|| env_setting("AWS_DEFAULT_REGION")) {
        loader = loader.region(Region::new(region));
    }
    if env_setting("AWS_ACCESS_KEY_ID").is_some() && env_setting("AWS_SECRET_ACCESS_KEY").is_some()
    {
        loader = loader.credentials_provider(
            aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
        );
    }
    loader
}

/// The roots TLS to DynamoDB, Secrets Manager and STS (one client for all three) is verified
/// against, compiled in rather than read from the system store (which the SDK does when the
/// client is built: on Debian that is hundreds of files and most of a cold start).
fn trusted_roots(roots: Roots) -> tls::TlsContext {
    let amazon = AmazonTrustServices::new();
    let mut pem = String::new();
    for der in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
        if roots == Roots::Amazon && !amazon.issued(der.as_ref()) {
            continue;
        }
        pem.push_str("-----BEGIN CERTIFICATE-----\n");
        pem.push_str(&base64::engine::general_purpose::STANDARD.encode(der.as_ref()));
        pem.push_str("\n-----END CERTIFICATE-----\n");
    }
    tls::TlsContext::builder()
        .with_trust_store(
            tls::TrustStore::empty()
                .with_native_roots(false)
                .with_pem_certificate(pem),
        )
        .build()
        .expect("BUG: the compiled-in roots are valid certificates")
}

/// Which compiled-in roots TLS trusts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Roots {
    /// Amazon Trust Services' five, which AWS's own endpoints are issued under: a smaller
    /// attack surface, and five certificates to parse at each cold start instead of ~150.
    Amazon,
    /// All of Mozilla's: an HTTPS endpoint override (a VPC proxy) may present any of them,
    /// and the China partition's endpoints are not issued under Amazon's.
    Mozilla,
}

impl Roots {
    /// An override the SDK reaches over plain HTTP (a local emulator) involves no TLS, so
    /// it leaves the choice alone; any other override (`https://`, or a value the SDK may
    /// read some other way) widens it.
    fn for_settings(env: &impl Fn(&str) -> Option<String>) -> Self {
        let tls_override = [
            "AWS_ENDPOINT_URL_DYNAMODB",
            "AWS_ENDPOINT_URL_SECRETS_MANAGER",
            "AWS_ENDPOINT_URL_STS",
            "AWS_ENDPOINT_URL",
        ]
        .into_iter()
        .filter_map(env)
        .any(|url| {
            !url.trim()
                .get(..7)
                .is_some_and(|scheme| scheme.eq_ignore_ascii_case("http://"))
        });
        // The region as the SDK takes it from the environment.
        let china = env("AWS_REGION")
            .or_else(|| env("AWS_DEFAULT_REGION"))
            .is_some_and(|r| r.starts_with("cn-"));
        if tls_override || china {
            Self::Mozilla
        } else {
            Self::Amazon
        }
    }
}

/// Recognises Amazon Root CA 1–4 and the Starfield Services G2 root that cross-signs them.
/// Runs over every compiled-in root at each cold start, so it uses SIMD substring search: a
/// byte-window comparison took a quarter of a millisecond per start.
struct AmazonTrustServices {
    amazon: memchr::memmem::Finder<'static>,
    starfield: memchr::memmem::Finder<'static>,
}

impl AmazonTrustServices {
    fn new() -> Self {
        Self {
            amazon: memchr::memmem::Finder::new(b"Amazon Root CA "),
            starfield: memchr::memmem::Finder::new(
                b"Starfield Services Root Certificate Authority - G2",
            ),
        }
    }

    fn issued(&self, der: &[u8]) -> bool {
        self.amazon.find(der).is_some() || self.starfield.find(der).is_some()
    }
}

/// [`sdk_config_loader`], loaded from the environment.
pub async fn load_sdk_config() -> SdkConfig {
    sdk_config_loader().load().await
}

/// The command line's configuration ([`command_line_sdk_config_loader`]), refused when it
/// names no region (a client could not sign a request).
pub(crate) async fn command_line_sdk_config() -> Result<SdkConfig, StoreError> {
    checked(command_line_sdk_config_loader()).await
}

/// What `loader` loads, refused when it names no region.
pub async fn checked(loader: aws_config::ConfigLoader) -> Result<SdkConfig, StoreError> {
    let sdk_config = loader.load().await;
    if sdk_config.region().is_none() {
        return Err(StoreError::Unavailable(
            "no AWS region configured: set AWS_REGION (any value for a local emulator)".into(),
        ));
    }
    Ok(sdk_config)
}

/// An SDK call's failure as text that is safe to log: the service's error code, or what kind
/// of failure it was (`service` names who was unreachable). Never the SDK's message, which
/// may echo request data.
pub fn failure<E: ProvideErrorMetadata, R>(service: &str, error: &SdkError<E, R>) -> String {
    match error {
        SdkError::ServiceError(_) => service_error(error.code()).to_owned(),
        SdkError::TimeoutError(_) => "timeout".to_owned(),
        SdkError::DispatchFailure(_) => format!("{service} unreachable"),
        SdkError::ConstructionFailure(_) => {
            "request not built (no usable AWS credentials?)".to_owned()
        }
        SdkError::ResponseError(_) => "unreadable answer".to_owned(),
        _ => "unknown error".to_owned(),
    }
}

/// The code of an error the service answered with (already told apart from the other kinds).
fn service_error(code: Option<&str>) -> &str {
    code.unwrap_or("service error")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_endpoints_trust_only_amazon_trust_services_roots() {
        let recogniser = AmazonTrustServices::new();
        let amazon: Vec<_> = webpki_root_certs::TLS_SERVER_ROOT_CERTS
            .iter()
            .filter(|der| recogniser.issued(der.as_ref()))
            .collect();
        assert_eq!(
            amazon.len(),
            5,
            "Amazon Root CA 1-4 and Starfield Services G2"
        );
        assert!(webpki_root_certs::TLS_SERVER_ROOT_CERTS.len() > 100);
        for roots in [Roots::Amazon, Roots::Mozilla] {
            let _ = trusted_roots(roots); // builds without panicking
        }
    }

    #[test]
    fn only_a_tls_endpoint_override_or_the_china_partition_trusts_every_root() {
        type Vars = &'static [(&'static str, &'static str)];
        // (settings, roots trusted, why)
        let cases: [(Vars, Roots, &str); 12] = [
            (&[], Roots::Amazon, "AWS's own endpoints"),
            (
                &[("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:5000")],
                Roots::Amazon,
                "a plain-http emulator: no TLS to it",
            ),
            (
                &[("AWS_ENDPOINT_URL", "HTTP://localhost:4566")],
                Roots::Amazon,
                "the scheme in capitals",
            ),
            (
                &[("AWS_ENDPOINT_URL_DYNAMODB", "https://proxy.internal")],
                Roots::Mozilla,
                "an HTTPS proxy",
            ),
            (
                &[("AWS_ENDPOINT_URL_STS", "https://sts.proxy.internal")],
                Roots::Mozilla,
                "an HTTPS proxy for STS only",
            ),
            (
                &[
                    ("AWS_ENDPOINT_URL_DYNAMODB", "http://127.0.0.1:5000"),
                    (
                        "AWS_ENDPOINT_URL_SECRETS_MANAGER",
                        "https://secrets.internal",
                    ),
                ],
                Roots::Mozilla,
                "one HTTPS override among plain ones",
            ),
            (
                &[("AWS_ENDPOINT_URL", "proxy.internal:443")],
                Roots::Mozilla,
                "no scheme: not known to be plain",
            ),
            (
                &[("AWS_ENDPOINT_URL", "http:/")],
                Roots::Mozilla,
                "too short to be a plain-http URL",
            ),
            (&[("AWS_REGION", "cn-north-1")], Roots::Mozilla, "China"),
            (
                &[("AWS_DEFAULT_REGION", "cn-northwest-1")],
                Roots::Mozilla,
                "China, named the older way",
            ),
            (
                &[
                    ("AWS_REGION", "eu-west-1"),
                    ("AWS_DEFAULT_REGION", "cn-north-1"),
                ],
                Roots::Amazon,
                "AWS_REGION wins over AWS_DEFAULT_REGION, as in the SDK",
            ),
            (
                &[("AWS_DEFAULT_REGION", "eu-central-1")],
                Roots::Amazon,
                "elsewhere, named the older way",
            ),
        ];
        for (vars, expected, why) in cases {
            let env = |name: &str| {
                vars.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            };
            assert_eq!(Roots::for_settings(&env), expected, "{why}");
        }
    }
}
