//! The session secrets from AWS Secrets Manager instead of plain environment variables:
//! `SESSION_SECRET_ID` (or `NUXT_SESSION_PASSWORD_ID` with `SESSION_FORMAT=nuxt`) names the
//! secret holding the current one, and `SESSION_SECRET_PREVIOUS_ID` (or
//! `NUXT_SESSION_PASSWORD_PREVIOUS_ID`) the one holding the older ones still accepted during a
//! rotation, comma-separated, possibly none. A deployed function reads them once per cold
//! start, with the same SDK configuration (HTTPS client, timeouts, retries, credentials) as its
//! DynamoDB client.
//!
//! A secret that cannot be read stops the start with one line naming the variable and the
//! error's code, never the secret's id or value.

use aws_config::SdkConfig;

use crate::aws;
use crate::config::secret_variable;

/// Where a session secret is kept when a variable like `SESSION_SECRET_ID` says so.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretReference {
    /// The setting the secret stands for: `SESSION_SECRET` or `NUXT_SESSION_PASSWORD`, or
    /// their `_PREVIOUS` lists.
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
    /// Where the current secret is kept, if the settings say. Setting both the secret and its
    /// id is refused: one of them would be silently ignored.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Option<Self>, String> {
        let variable = secret_variable(&lookup);
        Self::named(&lookup, variable)
    }

    /// Where the previous secrets are kept (`SESSION_SECRET_PREVIOUS_ID`,
    /// `NUXT_SESSION_PASSWORD_PREVIOUS_ID`), if the settings say; refused beside the plain
    /// list as [`SecretReference::from_lookup`] is.
    pub fn previous_from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, String> {
        let variable = match secret_variable(&lookup) {
            "NUXT_SESSION_PASSWORD" => "NUXT_SESSION_PASSWORD_PREVIOUS",
            _ => "SESSION_SECRET_PREVIOUS",
        };
        Self::named(&lookup, variable)
    }

    /// Every secret kept in Secrets Manager: the current one's first.
    pub fn all_from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Vec<Self>, String> {
        let current = Self::from_lookup(&lookup)?;
        let previous = Self::previous_from_lookup(&lookup)?;
        Ok(current.into_iter().chain(previous).collect())
    }

    fn named(
        lookup: &impl Fn(&str) -> Option<String>,
        variable: &'static str,
    ) -> Result<Option<Self>, String> {
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

    /// The setting the secret stands for (`SESSION_SECRET`, `SESSION_SECRET_PREVIOUS`, ...).
    pub fn variable(&self) -> &'static str {
        self.variable
    }

    /// The variable naming the secret (`SESSION_SECRET_ID`, `SESSION_SECRET_PREVIOUS_ID`, ...).
    pub fn id_variable(&self) -> String {
        format!("{}_ID", self.variable)
    }

    /// Whether the secret may hold nothing: a list of previous secrets may be empty (a
    /// deployment that has never rotated, or has retired the last old one).
    fn may_be_empty(&self) -> bool {
        self.variable.ends_with("_PREVIOUS")
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
            .filter(|value| self.may_be_empty() || !value.is_empty())
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
    fn the_previous_secrets_may_be_kept_in_secrets_manager_too() {
        type Vars = &'static [(&'static str, &'static str)];
        type Found = Result<Vec<&'static str>, &'static str>;
        // (settings, expected id variables or refusal, why)
        let cases: [(Vars, Found, &str); 6] = [
            (
                &[("SESSION_SECRET_PREVIOUS_ID", "previous")],
                Ok(vec!["SESSION_SECRET_PREVIOUS_ID"]),
                "the previous ones only",
            ),
            (
                &[
                    ("SESSION_SECRET_ID", "current"),
                    ("SESSION_SECRET_PREVIOUS_ID", "previous"),
                ],
                Ok(vec!["SESSION_SECRET_ID", "SESSION_SECRET_PREVIOUS_ID"]),
                "both, the current first",
            ),
            (
                &[
                    ("SESSION_FORMAT", "nuxt"),
                    ("NUXT_SESSION_PASSWORD_ID", "current"),
                    ("NUXT_SESSION_PASSWORD_PREVIOUS_ID", "previous"),
                    ("SESSION_SECRET_PREVIOUS_ID", "not this format's"),
                ],
                Ok(vec![
                    "NUXT_SESSION_PASSWORD_ID",
                    "NUXT_SESSION_PASSWORD_PREVIOUS_ID",
                ]),
                "the Nuxt format's",
            ),
            (
                &[("SESSION_SECRET_PREVIOUS_ID", " ")],
                Ok(vec![]),
                "a blank id is none",
            ),
            (
                &[
                    ("SESSION_SECRET_PREVIOUS", "plain-previous"),
                    ("SESSION_SECRET_PREVIOUS_ID", "previous"),
                ],
                Err(
                    "both SESSION_SECRET_PREVIOUS and SESSION_SECRET_PREVIOUS_ID are set: set only one of them",
                ),
                "the plain list and its id",
            ),
            (
                &[
                    ("SESSION_FORMAT", "nuxt"),
                    ("NUXT_SESSION_PASSWORD_PREVIOUS", "plain-previous"),
                    ("NUXT_SESSION_PASSWORD_PREVIOUS_ID", "previous"),
                ],
                Err(
                    "both NUXT_SESSION_PASSWORD_PREVIOUS and NUXT_SESSION_PASSWORD_PREVIOUS_ID are set: set only one of them",
                ),
                "the Nuxt plain list and its id",
            ),
        ];
        for (vars, expected, why) in cases {
            let found = SecretReference::all_from_lookup(lookup(vars)).map(|all| {
                all.iter()
                    .map(SecretReference::id_variable)
                    .collect::<Vec<_>>()
            });
            let expected = expected
                .map(|ids| ids.into_iter().map(str::to_owned).collect::<Vec<_>>())
                .map_err(str::to_owned);
            assert_eq!(found, expected, "{why}");
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
