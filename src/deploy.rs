//! Start-up shared by the deployed functions (Lambda and Vercel): configuration, AWS
//! credentials, the session secrets (from Secrets Manager when `SESSION_SECRET_ID` and
//! `SESSION_SECRET_PREVIOUS_ID` say so) and
//! the DynamoDB store, built once per cold start. A bad setting stops the process with one
//! line.

use std::process::ExitCode;
use std::sync::Arc;

use aws_config::SdkConfig;
use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_credential_types::provider::SharedCredentialsProvider;
use http::HeaderMap;
use tokio::sync::watch;

use crate::aws::{checked, sdk_config_loader};
use crate::config::{Config, SessionFormat};
use crate::context::{AppContext, ForwardedHeaders, Scheme};
use crate::secrets_manager::SecretReference;
use crate::store::{DynamoStore, StoreError};
use crate::vercel_oidc::{OidcToken, TOKEN_HEADER, VercelOidcCredentials};

/// The platform a deployed function runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Platform {
    /// AWS Lambda behind API Gateway or a Function URL.
    Lambda,
    /// A Vercel function.
    Vercel,
}

impl Platform {
    /// Both platforms terminate TLS in front of the function. Vercel's edge writes the
    /// forwarding headers itself; API Gateway passes a client's copies through.
    fn scheme_and_forwarding(self) -> (Scheme, ForwardedHeaders) {
        match self {
            Self::Lambda => (Scheme::Https, ForwardedHeaders::Ignored),
            Self::Vercel => (Scheme::Https, ForwardedHeaders::Trusted),
        }
    }
}

/// The function's context, built once per cold start; requests wait for it with
/// [`Startup::context`].
#[derive(Clone)]
pub struct Startup {
    built: watch::Receiver<Option<Arc<AppContext>>>,
    /// Where the Vercel platform keeps the OIDC token each request brings, when the function's
    /// AWS credentials come from it.
    oidc: Option<OidcToken>,
}

impl Startup {
    /// The context, once built (at once after the first request).
    pub async fn context(&self) -> Arc<AppContext> {
        let mut built = self.built.clone();
        match built.wait_for(Option::is_some).await {
            Ok(ctx) => ctx.as_ref().map(Arc::clone).expect("waited for Some"),
            // The build task is gone without a context: it panicked, and said why on stderr.
            Err(_) => {
                refuse_to_start("the function's context could not be built");
                std::process::exit(1)
            }
        }
    }

    /// Vercel's `x-vercel-oidc-token`: kept for the credentials provider when AWS credentials
    /// come from OIDC federation, and taken off the request in any case, so the credential
    /// goes no further than the platform.
    pub(crate) fn take_oidc_token(&self, headers: &mut HeaderMap) {
        match &self.oidc {
            Some(token) => token.take_from(headers),
            None => {
                headers.remove(TOKEN_HEADER);
            }
        }
    }
}

/// Reads and checks the configuration and the SDK's settings now, so a bad one stops the start
/// with a message naming it: first everything that needs no network (the session secrets
/// too, unless they are kept in Secrets Manager), then the AWS region and credentials, then
/// the secrets from Secrets Manager if they are kept there. The DynamoDB client and the rest
/// of the context are then built on a runtime worker while the caller starts the platform's
/// runtime: the client's endpoint rules (~0.2 ms of CPU) overlap the runtime's own start-up
/// and its wait for the first event, which waits for the context in turn. The overlap needs a
/// multi-threaded runtime (both entry points run one); on a current-thread runtime the build
/// simply runs first.
pub async fn init(platform: Platform) -> Result<Startup, String> {
    let env = |name: &str| std::env::var(name).ok();
    let references = SecretReference::all_from_lookup(env)?;
    let settings = Config::without_secrets(env).map_err(|e| e.to_string())?;
    if !settings.cookie_secure {
        return Err(
            "COOKIE_SECURE=false is only for plain-http local use: a deployed function's cookies are always Secure".into(),
        );
    }
    let Some(first) = references.first() else {
        let config = with_secrets(settings, env, &[])?;
        let (sdk_config, oidc) = aws_settings(platform, env).await?;
        return Ok(build(platform, config, sdk_config, oidc));
    };
    let (sdk_config, oidc) = aws_settings(platform, env).await?;
    if oidc.as_ref().is_some_and(|token| token.current().is_none()) {
        return Err(format!(
            "{}: with AWS_ROLE_ARN the Vercel OIDC token arrives only with the first request, too late to read the secret at start: set {} (Vercel keeps environment variables encrypted) or AWS access keys",
            first.id_variable(),
            first.variable()
        ));
    }
    let mut secrets = Vec::new();
    for reference in &references {
        secrets.push((reference.variable(), reference.read(&sdk_config).await?));
    }
    let secrets: Vec<(&str, &str)> = secrets
        .iter()
        .map(|(variable, value)| (*variable, value.as_str()))
        .collect();
    let config = with_secrets(settings, env, &secrets).map_err(|error| {
        // The reference whose variable the message names: the longest name that appears
        // (`SESSION_SECRET` is part of `SESSION_SECRET_PREVIOUS`).
        let named = references
            .iter()
            .filter(|r| error.contains(r.variable()))
            .max_by_key(|r| r.variable().len());
        match named {
            Some(reference) => format!(
                "{error} (its value comes from the secret {} names)",
                reference.id_variable()
            ),
            None => error,
        }
    })?;
    Ok(build(platform, config, sdk_config, oidc))
}

/// The SDK's settings (region, endpoints) with the platform's AWS credentials.
async fn aws_settings(
    platform: Platform,
    env: impl Fn(&str) -> Option<String>,
) -> Result<(SdkConfig, Option<OidcToken>), String> {
    let without_credentials = checked(sdk_config_loader().no_credentials())
        .await
        .map_err(|error| match error {
            StoreError::Unavailable(reason) => reason,
            other => format!("{other:?}"),
        })?;
    Ok(AwsCredentials::from_lookup(platform, env)?.added_to(without_credentials))
}

/// Starts building the context on a runtime worker; requests wait for it.
fn build(
    platform: Platform,
    config: Config,
    sdk_config: SdkConfig,
    oidc: Option<OidcToken>,
) -> Startup {
    let (scheme, forwarded) = platform.scheme_and_forwarding();
    let (built, startup) = watch::channel(None);
    tokio::spawn(async move {
        let store = DynamoStore::new(&sdk_config, &config.users_table);
        let ctx =
            AppContext::new(config, Arc::new(store), scheme).with_forwarded_headers(forwarded);
        let _ = built.send(Some(Arc::new(ctx)));
    });
    Startup {
        built: startup,
        oidc,
    }
}

/// `config` completed with the session secrets: `secrets` (variable, value) answer for those
/// kept elsewhere, `env` for the rest.
fn with_secrets(
    config: Config<SessionFormat>,
    env: impl Fn(&str) -> Option<String>,
    secrets: &[(&str, &str)],
) -> Result<Config, String> {
    config
        .with_secrets(
            |name| match secrets.iter().find(|(variable, _)| *variable == name) {
                Some((_, value)) => Some((*value).to_owned()),
                None => env(name),
            },
        )
        .map_err(|e| e.to_string())
}

/// Where a deployed function's AWS credentials come from. Only the environment is consulted:
/// neither platform offers profile files or an instance metadata service, and looking for
/// them costs every cold start.
enum AwsCredentials {
    /// `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` (and `AWS_SESSION_TOKEN`): what Lambda
    /// sets from the execution role, or access keys given to Vercel.
    Environment,
    /// Vercel's OIDC federation: `AWS_ROLE_ARN`, assumed with the project's OIDC token.
    VercelOidc {
        role_arn: String,
        session_name: String,
        initial_token: Option<String>,
    },
}

impl AwsCredentials {
    /// On Vercel a role (`AWS_ROLE_ARN`) comes before access keys; on Lambda the keys Lambda
    /// sets are the only source. Neither: the start is refused, naming what to set.
    fn from_lookup(
        platform: Platform,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, String> {
        let set = |name: &str| env(name).filter(|value| !value.trim().is_empty());
        if platform == Platform::Vercel
            && let Some(role_arn) = set("AWS_ROLE_ARN")
        {
            return Ok(Self::VercelOidc {
                role_arn: role_arn.trim().to_owned(),
                session_name: set("AWS_ROLE_SESSION_NAME")
                    .unwrap_or_else(|| "neptun-users".to_owned()),
                initial_token: set("VERCEL_OIDC_TOKEN"),
            });
        }
        if set("AWS_ACCESS_KEY_ID").is_some() && set("AWS_SECRET_ACCESS_KEY").is_some() {
            return Ok(Self::Environment);
        }
        Err(match platform {
            Platform::Lambda => "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (Lambda sets them from the function's execution role)",
            Platform::Vercel => "no AWS credentials: set AWS_ROLE_ARN (Vercel OIDC federation, recommended) or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
        }
        .into())
    }

    /// `sdk_config` with these credentials: what every client of the function shares. With
    /// OIDC federation also the slot the Vercel platform fills with each request's token.
    fn added_to(self, sdk_config: SdkConfig) -> (SdkConfig, Option<OidcToken>) {
        let (provider, token) = match self {
            Self::Environment => (
                SharedCredentialsProvider::new(EnvironmentVariableCredentialsProvider::new()),
                None,
            ),
            Self::VercelOidc {
                role_arn,
                session_name,
                initial_token,
            } => {
                let token = OidcToken::new(initial_token);
                // STS's AssumeRoleWithWebIdentity is unsigned: its client needs no credentials.
                let sts = aws_sdk_sts::Client::new(&sdk_config);
                let provider =
                    VercelOidcCredentials::new(role_arn, session_name, token.clone(), sts);
                (SharedCredentialsProvider::new(provider), Some(token))
            }
        };
        let sdk_config = sdk_config
            .into_builder()
            .credentials_provider(provider)
            .build();
        (sdk_config, token)
    }
}

/// Everything a platform does before its platform's runtime takes over: logging the way the
/// platform wants it, then [`init`]. A refusal has been printed as one line; its exit status
/// stops the runtime.
pub async fn start(platform: Platform) -> Result<Startup, ExitCode> {
    match platform {
        Platform::Lambda => crate::telemetry::init_lambda(),
        Platform::Vercel => crate::telemetry::init(true),
    }
    init(platform)
        .await
        .map_err(|message| refuse_to_start(&message))
}

/// The exit status once the platform's runtime has returned.
pub fn stopped<E: std::fmt::Display>(platform: Platform, outcome: Result<(), E>) -> ExitCode {
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => refuse_to_start(&format!("the {platform:?} runtime failed: {error}")),
    }
}

/// Prints the start-up failure as one line and gives the exit status that stops the runtime.
pub(crate) fn refuse_to_start(message: &str) -> ExitCode {
    eprintln!("neptun-users: refusing to start: {message}");
    ExitCode::FAILURE
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The configuration from `env`, with `secrets` answering for the secrets kept elsewhere.
    fn read_config(
        env: impl Fn(&str) -> Option<String>,
        secrets: &[(&str, &str)],
    ) -> Result<Config, String> {
        let config = Config::without_secrets(&env).map_err(|e| e.to_string())?;
        with_secrets(config, env, secrets)
    }

    #[test]
    fn credentials_come_from_a_role_on_vercel_then_from_keys() {
        type Vars = &'static [(&'static str, &'static str)];
        // (platform, settings, expected source or refusal, why)
        let cases: [(Platform, Vars, &str, &str); 7] = [
            (
                Platform::Vercel,
                &[("AWS_ROLE_ARN", "arn:aws:iam::1:role/r")],
                "oidc",
                "a role",
            ),
            (
                Platform::Vercel,
                &[
                    ("AWS_ROLE_ARN", "arn:aws:iam::1:role/r"),
                    ("AWS_ACCESS_KEY_ID", "AKIA"),
                    ("AWS_SECRET_ACCESS_KEY", "s"),
                ],
                "oidc",
                "a role before keys",
            ),
            (
                Platform::Vercel,
                &[
                    ("AWS_ACCESS_KEY_ID", "AKIA"),
                    ("AWS_SECRET_ACCESS_KEY", "s"),
                ],
                "keys",
                "keys as the fallback",
            ),
            (
                Platform::Lambda,
                &[
                    ("AWS_ROLE_ARN", "arn:aws:iam::1:role/r"),
                    ("AWS_ACCESS_KEY_ID", "ASIA"),
                    ("AWS_SECRET_ACCESS_KEY", "s"),
                ],
                "keys",
                "Lambda's own keys, whatever AWS_ROLE_ARN says",
            ),
            (
                Platform::Vercel,
                &[("AWS_ACCESS_KEY_ID", "AKIA")],
                "no AWS credentials: set AWS_ROLE_ARN (Vercel OIDC federation, recommended) or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
                "half a key pair",
            ),
            (
                Platform::Vercel,
                &[("AWS_ROLE_ARN", " ")],
                "no AWS credentials: set AWS_ROLE_ARN (Vercel OIDC federation, recommended) or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
                "a blank role",
            ),
            (
                Platform::Lambda,
                &[("AWS_ROLE_ARN", "arn:aws:iam::1:role/r")],
                "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (Lambda sets them from the function's execution role)",
                "no role federation on Lambda",
            ),
        ];
        for (platform, vars, expected, why) in cases {
            let lookup = |name: &str| {
                vars.iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            };
            let found = match AwsCredentials::from_lookup(platform, lookup) {
                Ok(AwsCredentials::VercelOidc { .. }) => "oidc".to_owned(),
                Ok(AwsCredentials::Environment) => "keys".to_owned(),
                Err(refusal) => refusal,
            };
            assert_eq!(found, expected, "{why}");
        }
    }

    #[test]
    fn a_secret_kept_elsewhere_answers_for_its_variable_only() {
        let env = |name: &str| match name {
            "SESSION_SECRET" => Some("never-read-when-the-secret-is-elsewhere".to_owned()),
            "USERS_TABLE" => Some("from-the-environment".to_owned()),
            _ => None,
        };
        let read = "a-secret-read-from-secrets-manager-48-characters";
        let config = read_config(env, &[("SESSION_SECRET", read)]).unwrap();
        assert_eq!(config.session.all(), [read]);
        assert_eq!(config.users_table, "from-the-environment");
        let short = read_config(env, &[("SESSION_SECRET", "short")]).unwrap_err();
        assert_eq!(
            short,
            "SESSION_SECRET is too short: it must be at least 32 bytes"
        );
    }

    #[test]
    fn previous_secrets_kept_elsewhere_are_a_comma_separated_list_that_may_be_empty() {
        let env = |name: &str| match name {
            "SESSION_SECRET_PREVIOUS" => Some("never-read-when-the-list-is-elsewhere".to_owned()),
            _ => None,
        };
        let current = "a-secret-read-from-secrets-manager-48-characters";
        let old = "an-older-secret-from-secrets-manager-48-characters";
        let older = "the-oldest-secret-from-secrets-manager-48-chars!";
        // (the previous secret's value, the secrets accepted, why)
        let listed = format!("{old}, {older}");
        let cases: [(&str, Vec<&str>, &str); 4] = [
            (&listed, vec![current, old, older], "two, comma-separated"),
            (old, vec![current, old], "one"),
            ("", vec![current], "empty: none"),
            (" , ", vec![current], "blank entries: none"),
        ];
        for (previous, accepted, why) in cases {
            let config = read_config(
                env,
                &[
                    ("SESSION_SECRET", current),
                    ("SESSION_SECRET_PREVIOUS", previous),
                ],
            )
            .unwrap();
            assert_eq!(config.session.all(), accepted, "{why}");
        }
        let short = read_config(
            env,
            &[
                ("SESSION_SECRET", current),
                ("SESSION_SECRET_PREVIOUS", "short"),
            ],
        )
        .unwrap_err();
        assert_eq!(
            short,
            "each SESSION_SECRET_PREVIOUS entry is too short: it must be at least 32 bytes"
        );
    }
}
