//! The session secret from AWS Secrets Manager instead of a plain environment variable:
//! `SESSION_SECRET_ID` (or `NUXT_SESSION_PASSWORD_ID` with `SESSION_FORMAT=nuxt`) names the
//! secret, and a deployed function reads it once per cold start, with the same SDK
//! configuration (HTTPS client, timeouts, retries, credentials) as its DynamoDB client.
//!
//! A secret that cannot be read stops the start with one line naming the variable and the
//! error's code, never the secret's id or value.

use aws_config::SdkConfig;

use crate::aws;
use crate::config::secret_variable;

/// Where the current session secret is kept when a variable like `SESSION_SECRET_ID` says so.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretReference {
    /// The setting the secret stands for: `SESSION_SECRET` or `NUXT_SESSION_PASSWORD`.
    variable: &'static str,
    /// The secret's name or ARN.
    secret_id: String,
}

impl std::fmt::Debug for SecretReference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretReference({})", self.id_variable())
    }
}

impl SecretReference {
    /// The reference the settings make, if any. Setting both the secret and its id is
    /// refused: one of them would be silently ignored.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Option<Self>, String> {
        let variable = secret_variable(&lookup);
        let id_variable = format!("{variable}_ID");
        let set = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        match (set(&id_variable), set(variable)) {
            (None, _) => Ok(None),
            (Some(_), Some(_)) => Err(format!(
                "both {variable} and {id_variable} are set: set only one of them"
            )),
            (Some(secret_id), None) => Ok(Some(Self {
                variable,
                secret_id: secret_id.trim().to_owned(),
            })),
        }
    }

    /// The setting the secret stands for (`SESSION_SECRET`, `NUXT_SESSION_PASSWORD`).
    pub fn variable(&self) -> &'static str {
        self.variable
    }

    /// The variable naming the secret (`SESSION_SECRET_ID`, `NUXT_SESSION_PASSWORD_ID`).
    pub fn id_variable(&self) -> String {
        format!("{}_ID", self.variable)
    }

    /// The secret's current value (`GetSecretValue`, its `SecretString`).
    pub async fn read(&self, sdk_config: &SdkConfig) -> Result<String, String> {
        let client = aws_sdk_secretsmanager::Client::new(sdk_config);
        let answer = client
            .get_secret_value()
            .secret_id(&self.secret_id)
            .send()
            .await
            .map_err(|error| {
                format!(
                    "{}: the secret it names could not be read ({})",
                    self.id_variable(),
                    aws::failure("Secrets Manager", &error)
                )
            })?;
        answer
            .secret_string
            .filter(|value| !value.is_empty())
            .ok_or_else(|| {
                format!(
                    "{}: the secret it names has no string value",
                    self.id_variable()
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn the_session_format_chooses_which_id_is_read() {
        type Vars = &'static [(&'static str, &'static str)];
        // (settings, expected id variable; None: no reference, why)
        let cases: [(Vars, Option<&str>, &str); 5] = [
            (&[], None, "nothing set"),
            (&[("SESSION_SECRET", "plain")], None, "the plain variable"),
            (
                &[(
                    "SESSION_SECRET_ID",
                    "arn:aws:secretsmanager:eu-west-1:1:secret:s",
                )],
                Some("SESSION_SECRET_ID"),
                "the signed format's id",
            ),
            (
                &[
                    ("SESSION_FORMAT", "nuxt"),
                    ("NUXT_SESSION_PASSWORD_ID", "nuxt-password"),
                ],
                Some("NUXT_SESSION_PASSWORD_ID"),
                "the Nuxt format's id",
            ),
            (
                &[("SESSION_FORMAT", "nuxt"), ("SESSION_SECRET_ID", "ignored")],
                None,
                "the other format's id is not this one's",
            ),
        ];
        for (vars, expected, why) in cases {
            let reference = SecretReference::from_lookup(lookup(vars)).unwrap();
            assert_eq!(
                reference
                    .as_ref()
                    .map(SecretReference::id_variable)
                    .as_deref(),
                expected,
                "{why}"
            );
        }
    }

    #[test]
    fn a_secret_and_its_id_together_are_refused_without_either_value() {
        let error = SecretReference::from_lookup(lookup(&[
            ("SESSION_SECRET", "the-plain-secret"),
            ("SESSION_SECRET_ID", "the-secret-id"),
        ]))
        .unwrap_err();
        assert_eq!(
            error,
            "both SESSION_SECRET and SESSION_SECRET_ID are set: set only one of them"
        );
        let reference = SecretReference::from_lookup(lookup(&[("SESSION_SECRET_ID", "the-id")]))
            .unwrap()
            .unwrap();
        assert_eq!(
            format!("{reference:?}"),
            "SecretReference(SESSION_SECRET_ID)"
        );
    }
}
