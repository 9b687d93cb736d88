//! `Email`: an address zod 3's `z.string().min(5).max(256).email()` accepts, stored as given.

use std::fmt;

use super::{Issue, length_issues};

const MIN_LENGTH: u64 = 5;
const MAX_LENGTH: u64 = 256;

/// A valid email address, exactly as the user typed it (no trimming, case kept).
#[derive(Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// Checks length (UTF-16 code units) then format, reporting every failing check.
    pub fn parse(raw: &str) -> Result<Self, Vec<Issue>> {
        let mut issues = length_issues(raw, (MIN_LENGTH, MAX_LENGTH), "Email", "email");
        if !zod_accepts(raw) {
            issues.push(Issue::invalid_string("email", "Invalid email", "email"));
        }
        if issues.is_empty() {
            Ok(Self(raw.to_owned()))
        } else {
            Err(issues)
        }
    }

    /// Rebuilds an address read back from the store, which only ever holds parsed ones.
    pub fn from_stored(stored: String) -> Self {
        Self(stored)
    }

    /// The address as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The key that makes uniqueness case-insensitive. Valid addresses are ASCII.
    pub fn normalized(&self) -> String {
        self.0.to_ascii_lowercase()
    }

    /// Whether two addresses name the same mailbox for uniqueness purposes.
    pub(crate) fn same_address(&self, other: &str) -> bool {
        self.0.eq_ignore_ascii_case(other)
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Email").field(&self.0).finish()
    }
}

/// The command line's parser: the message quotes the address (the user's own input).
impl std::str::FromStr for Email {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, String> {
        Self::parse(raw).map_err(|_| format!("{raw:?} is not a valid email address"))
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// zod 3's email check, written out by hand because the `regex` crate has no look-ahead:
///
/// `/^(?!\.)(?!.*\.\.)([A-Z0-9_'+\-\.]*)[A-Z0-9_+-]@([A-Z0-9][A-Z0-9\-]*\.)+[A-Z]{2,}$/i`
///
/// The `i` flag without `u` folds ASCII letters only, so every accepted address is ASCII.
fn zod_accepts(s: &str) -> bool {
    // (?!\.) and (?!.*\.\.): no line terminator can occur in an accepted address, so
    // `.*` reaching the whole string changes nothing.
    if s.starts_with('.') || s.contains("..") {
        return false;
    }
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    let local_ok = match local.as_bytes().split_last() {
        Some((last, rest)) => {
            rest.iter()
                .all(|&b| b.is_ascii_alphanumeric() || b"_'+-.".contains(&b))
                && (last.is_ascii_alphanumeric() || b"_+-".contains(last))
        }
        None => false,
    };
    local_ok && domain_ok(domain)
}

/// `([A-Z0-9][A-Z0-9\-]*\.)+[A-Z]{2,}`
fn domain_ok(domain: &str) -> bool {
    let Some((labels, tld)) = domain.rsplit_once('.') else {
        return false;
    };
    let tld_ok = tld.len() >= 2 && tld.bytes().all(|b| b.is_ascii_alphabetic());
    tld_ok
        && labels
            .split('.')
            .all(|label| match label.as_bytes().split_first() {
                Some((first, rest)) => {
                    first.is_ascii_alphanumeric()
                        && rest.iter().all(|&b| b.is_ascii_alphanumeric() || b == b'-')
                }
                None => false,
            })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct Verdict {
        input: String,
        valid: bool,
    }

    /// The table was produced by running zod itself: `scripts/zod-emails/generate.mjs`.
    #[test]
    fn format_check_agrees_with_zod_on_every_recorded_address() {
        let table: Vec<Verdict> =
            serde_json::from_str(include_str!("../../tests/data/zod_emails.json")).unwrap();
        assert!(
            table.len() >= 40,
            "the table should hold at least 40 addresses"
        );
        let disagreements: Vec<_> = table
            .iter()
            .filter(|v| zod_accepts(&v.input) != v.valid)
            .map(|v| format!("{:?}: zod says {}", v.input, v.valid))
            .collect();
        assert!(disagreements.is_empty(), "{disagreements:#?}");
    }

    #[test]
    fn reports_every_failing_check_in_zods_order() {
        let long = format!("{}@example.com", "a".repeat(250));
        let cases: [(&str, &[&str]); 5] = [
            ("a@b.co", &[]),
            ("a@b", &["too_small", "invalid_string"]),
            (" a@b.co", &["invalid_string"]),
            (&long, &["too_big"]),
            ("é@x", &["too_small", "invalid_string"]),
        ];
        for (input, codes) in cases {
            let got: Vec<_> = match Email::parse(input) {
                Ok(_) => Vec::new(),
                Err(issues) => issues
                    .iter()
                    .map(|i| {
                        serde_json::to_value(i).unwrap()["code"]
                            .as_str()
                            .unwrap()
                            .to_owned()
                    })
                    .collect(),
            };
            assert_eq!(got, *codes, "for {input:?}");
        }
    }

    #[test]
    fn length_counts_utf16_code_units() {
        // "😀" is two UTF-16 code units, so "😀@a" is 4 long, not 3 chars or 6 bytes.
        let issues = Email::parse("😀@a").unwrap_err();
        assert_eq!(
            serde_json::to_value(&issues[0]).unwrap()["code"],
            "too_small"
        );
        let issues = Email::parse("😀😀@a").unwrap_err();
        assert_eq!(
            issues.len(),
            1,
            "6 code units is long enough; only the format fails"
        );
    }

    #[test]
    fn uniqueness_ignores_ascii_case() {
        let email = Email::parse("Jane.Doe@Example.COM").unwrap();
        assert_eq!(email.normalized(), "jane.doe@example.com");
        assert!(email.same_address("jane.doe@example.com"));
        assert_eq!(email.as_str(), "Jane.Doe@Example.COM");
    }
}
