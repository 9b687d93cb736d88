//! `NewPassword`: 8..=256 UTF-16 code units, no composition rules, and a blocklist (NIST SP
//! 800-63B §3.1.1.2; ASVS 6.2.4, 6.2.11): not one of the 10,000 most common passwords (in any
//! case), and not containing the account's address or that address's local part.
//!
//! The list is `common-passwords.txt` beside this file, compiled in: the first 10,000 lines
//! of the list Django ships (Royce Williams' list, lower-cased), which `scripts/common-passwords`
//! regenerates from Django's wheel on PyPI so anyone can check it.

use std::collections::HashSet;
use std::fmt;
use std::sync::OnceLock;

use super::{Issue, length_issues};

const MIN_LENGTH: u64 = 8;
const MAX_LENGTH: u64 = 256;

/// A plaintext password that passed validation. Never printed: `Debug` is redacted.
// `Clone` because the command line's parser (clap) keeps every parsed value cloneable.
#[derive(Clone)]
pub struct NewPassword(String);

impl NewPassword {
    /// Checks the length bounds, reporting both if both fail (they cannot).
    pub fn parse(raw: &str) -> Result<Self, Vec<Issue>> {
        within(raw, (MIN_LENGTH, MAX_LENGTH), "Password", "password").map(Self)
    }

    /// The plaintext, for the hasher only.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

/// `raw`, owned, if its length is within `bounds`; else the length issue.
fn within(
    raw: &str,
    bounds: (u64, u64),
    label: &str,
    field: &'static str,
) -> Result<String, Vec<Issue>> {
    let issues = length_issues(raw, bounds, label, field);
    if issues.is_empty() {
        Ok(raw.to_owned())
    } else {
        Err(issues)
    }
}

/// The common-password list, one lower-cased password a line.
const COMMON_PASSWORDS: &str = include_str!("common-passwords.txt");

/// The shortest local part a password may not contain: "al" or "jo" inside a password is no
/// disclosure of the address.
const MIN_LOCAL_PART: usize = 3;

/// Whether `raw` is, in any case, one of the 10,000 most common passwords.
pub(crate) fn is_common(raw: &str) -> bool {
    static LIST: OnceLock<HashSet<&'static str>> = OnceLock::new();
    let list = LIST.get_or_init(|| COMMON_PASSWORDS.lines().collect());
    list.contains(raw.to_lowercase().as_str())
}

/// The blocklist's issues for `raw` as the password of an account whose addresses (old and
/// new) are `emails`: too common, or containing an address or its local part (any case).
pub(crate) fn blocklist_issues<'a>(
    raw: &str,
    emails: impl IntoIterator<Item = &'a str>,
) -> Vec<Issue> {
    let mut issues = Vec::new();
    if is_common(raw) {
        issues.push(Issue::custom_at("Password is too common.", "password"));
    }
    let lower = raw.to_lowercase();
    let contains_address = emails.into_iter().filter(|e| !e.is_empty()).any(|email| {
        let email = email.to_lowercase();
        let local = email
            .rsplit_once('@')
            .map_or(email.as_str(), |(local, _)| local);
        lower.contains(&email) || (local.chars().count() >= MIN_LOCAL_PART && lower.contains(local))
    });
    if contains_address {
        issues.push(Issue::custom_at(
            "Password must not contain your email address.",
            "password",
        ));
    }
    issues
}

/// The rules a new password meets besides its length and the blocklist (`PASSWORD_RULES`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PasswordRules {
    /// NIST SP 800-63B: no composition rules.
    #[default]
    Nist,
    /// The web app's own login form's rules: it refuses, before sending, a password without a
    /// lowercase and an uppercase ASCII letter, an ASCII digit and one of
    /// [`SPECIAL_CHARACTERS`], so a password accepted without them locks its user out of the
    /// app.
    Neptun,
}

/// The characters the web app counts as special.
pub const SPECIAL_CHARACTERS: &str = "-._!\"`'#%&,:;<>=@{}~$()*+/\\?[]^|";

/// The composition issues of `raw` under `rules`, in the web app's order.
pub(crate) fn composition_issues(raw: &str, rules: PasswordRules) -> Vec<Issue> {
    if rules == PasswordRules::Nist {
        return Vec::new();
    }
    /// A class of characters, and the message when a password has none of it.
    type Class = (fn(char) -> bool, &'static str);
    let checks: [Class; 4] = [
        (
            |c| SPECIAL_CHARACTERS.contains(c),
            "Password must contain at least one special character",
        ),
        (
            |c| c.is_ascii_lowercase(),
            "Password must contain at least one lowercase letter",
        ),
        (
            |c| c.is_ascii_uppercase(),
            "Password must contain at least one uppercase letter",
        ),
        (
            |c| c.is_ascii_digit(),
            "Password must contain at least one number",
        ),
    ];
    checks
        .into_iter()
        .filter(|(found, _)| !raw.chars().any(*found))
        .map(|(_, message)| Issue::custom_at(message, "password"))
        .collect()
}

impl NewPassword {
    /// Every rule of a new password, in order: the length, the composition `rules`, then
    /// (for a password of an acceptable length: a short one already has its issue) the
    /// blocklist with the account's addresses `emails`.
    pub(crate) fn parse_with<'a>(
        raw: &str,
        rules: PasswordRules,
        emails: impl IntoIterator<Item = &'a str>,
    ) -> Result<Self, Vec<Issue>> {
        let length = length_issues(raw, (MIN_LENGTH, MAX_LENGTH), "Password", "password");
        let mut issues = length.clone();
        issues.extend(composition_issues(raw, rules));
        if length.is_empty() {
            issues.extend(blocklist_issues(raw, emails));
        }
        if issues.is_empty() {
            Ok(Self(raw.to_owned()))
        } else {
            Err(issues)
        }
    }

    /// A password that was verified against a stored hash, to be hashed again with the
    /// contract's parameters (a hash upgrade): its rules were those of its time.
    pub(crate) fn verified(password: &CurrentPassword) -> Self {
        Self(password.expose().to_owned())
    }
}

/// `current_password` as sent: 1..=256 UTF-16 code units, to be verified against the
/// stored hash. Never printed: `Debug` is redacted.
#[derive(Clone)]
pub struct CurrentPassword(String);

impl CurrentPassword {
    /// Checks the length bounds.
    pub fn parse(raw: &str) -> Result<Self, Vec<Issue>> {
        within(raw, (1, MAX_LENGTH), "Current password", "current_password").map(Self)
    }

    /// A sign-in's `password`: 1..=256 UTF-16 code units, and nothing else (a sign-in checks
    /// a password, it does not set one).
    pub(crate) fn parse_sign_in(raw: &str) -> Result<Self, Vec<Issue>> {
        within(raw, (1, MAX_LENGTH), "Password", "password").map(Self)
    }

    /// The plaintext, for the verifier only.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for CurrentPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CurrentPassword(<redacted>)")
    }
}

/// The command line's parser: the message never quotes the password.
impl std::str::FromStr for NewPassword {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, String> {
        Self::parse(raw)
            .map_err(|_| format!("the password must be {MIN_LENGTH} to {MAX_LENGTH} characters"))
    }
}

impl fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NewPassword(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_web_apps_rules_report_each_missing_class_in_its_order() {
        let all = [
            "Password must contain at least one special character",
            "Password must contain at least one lowercase letter",
            "Password must contain at least one uppercase letter",
            "Password must contain at least one number",
        ];
        let cases: [(&str, &[&str], &str); 7] = [
            ("Quartz-lamp-88", &[], "every class"),
            ("quartzlamp-river-88", &[all[2]], "no uppercase letter"),
            ("QUARTZ-LAMP-88", &[all[1]], "no lowercase letter"),
            ("Quartz-lamp-river", &[all[3]], "no digit"),
            ("Quartzlamp88", &[all[0]], "no special character"),
            ("Ab1|", &[], "a pipe is special"),
            ("éééééééé", &all, "non-ASCII letters count as none"),
        ];
        for (raw, expected, why) in cases {
            let messages: Vec<_> = composition_issues(raw, PasswordRules::Neptun)
                .into_iter()
                .map(|issue| serde_json::to_value(issue).unwrap()["message"].clone())
                .collect();
            assert_eq!(messages, *expected, "{why}");
            assert!(
                composition_issues(raw, PasswordRules::Nist).is_empty(),
                "{why}"
            );
        }
        for special in SPECIAL_CHARACTERS.chars() {
            let raw = format!("Abcdefg1{special}");
            assert!(
                composition_issues(&raw, PasswordRules::Neptun).is_empty(),
                "{special} is special"
            );
        }
    }

    #[test]
    fn a_new_password_reports_length_then_composition_then_the_blocklist() {
        let messages = |raw: &str| -> Vec<String> {
            match NewPassword::parse_with(raw, PasswordRules::Neptun, ["ada@example.com"]) {
                Ok(_) => Vec::new(),
                Err(issues) => issues
                    .into_iter()
                    .map(|i| {
                        serde_json::to_value(i).unwrap()["message"]
                            .as_str()
                            .unwrap()
                            .to_owned()
                    })
                    .collect(),
            }
        };
        assert_eq!(
            messages("abc"),
            [
                "Password must be at least 8 characters",
                "Password must contain at least one special character",
                "Password must contain at least one uppercase letter",
                "Password must contain at least one number",
            ]
        );
        assert_eq!(
            messages("Ada-secret-1"),
            ["Password must not contain your email address."]
        );
        assert_eq!(messages("P@ssw0rd"), ["Password is too common."]);
        assert!(messages("Quartz-lamp-88").is_empty());
    }

    #[test]
    fn length_bounds_are_inclusive_and_count_utf16_code_units() {
        let cases = [
            ("1234567", false, "7 characters is too short"),
            ("12345678", true, "8 characters is enough"),
            ("😀😀😀😀", true, "4 emoji are 8 UTF-16 code units"),
            ("😀😀😀", false, "3 emoji are 6 code units"),
        ];
        for (raw, ok, why) in cases {
            assert_eq!(NewPassword::parse(raw).is_ok(), ok, "{why}");
        }
        assert!(
            NewPassword::parse(&"x".repeat(256)).is_ok(),
            "256 is the maximum"
        );
        assert!(
            NewPassword::parse(&"x".repeat(257)).is_err(),
            "257 is too long"
        );
    }

    #[test]
    fn common_passwords_are_refused_in_any_case_and_near_misses_pass() {
        let cases = [
            ("password", true, "the most famous"),
            ("PassWord", true, "in another case"),
            ("12345678", true, "digits"),
            ("QWERTYUIOP", true, "upper-cased keyboard walk"),
            ("iloveyou", true, "a phrase"),
            ("baseball", true, "a word from the list"),
            (
                "password-but-longer",
                false,
                "a common one inside a longer one",
            ),
            ("correct horse battery staple", false, "a passphrase"),
            ("p4ssw0rd!x", false, "not on the list"),
        ];
        for (raw, common, why) in cases {
            assert_eq!(is_common(raw), common, "{why}: {raw}");
        }
        assert_eq!(COMMON_PASSWORDS.lines().count(), 10_000);
    }

    #[test]
    fn passwords_containing_the_address_or_its_local_part_are_refused() {
        let too_common = "Password is too common.";
        let contains = "Password must not contain your email address.";
        let cases: [(&str, &[&str], &[&str], &str); 8] = [
            (
                "ada.lovelace@example.com!",
                &["ada.lovelace@example.com"],
                &[contains],
                "the address",
            ),
            (
                "my-ADA.LOVELACE-pw",
                &["Ada.Lovelace@example.com"],
                &[contains],
                "the local part, any case",
            ),
            (
                "xx-newname-xx",
                &["old@example.com", "newname@example.com"],
                &[contains],
                "the new address's local part",
            ),
            (
                "bob-the-builder",
                &["bob@example.com"],
                &[contains],
                "a local part of 3 characters",
            ),
            (
                "albatross-wings",
                &["al@example.com"],
                &[],
                "a local part of 2 is no disclosure",
            ),
            (
                "unrelated-secret",
                &["ada@example.com", ""],
                &[],
                "unrelated",
            ),
            (
                "password",
                &["password@example.com"],
                &[too_common, contains],
                "both, in that order",
            ),
            (
                "example.com-rocks",
                &["ada@example.com"],
                &[],
                "the domain alone is allowed",
            ),
        ];
        for (raw, emails, expected, why) in cases {
            let messages: Vec<String> = blocklist_issues(raw, emails.iter().copied())
                .iter()
                .map(|issue| {
                    serde_json::to_value(issue).unwrap()["message"]
                        .as_str()
                        .unwrap()
                        .to_owned()
                })
                .collect();
            assert_eq!(messages, expected, "{why}");
        }
        let issue = serde_json::to_value(&blocklist_issues("password", [])[0]).unwrap();
        assert_eq!(
            issue,
            serde_json::json!({"code": "custom", "validation": "custom", "message": too_common, "path": ["password"]})
        );
    }

    #[test]
    fn debug_never_shows_the_plaintext() {
        let password = NewPassword::parse("correct horse battery").unwrap();
        assert!(!format!("{password:?}").contains("horse"));
    }
}
