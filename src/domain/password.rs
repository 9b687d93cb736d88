//! `NewPassword`: 8..=256 UTF-16 code units, no composition rules (NIST SP 800-63B).

use std::fmt;

use super::{Issue, js_length};

const MIN_LENGTH: u64 = 8;
const MAX_LENGTH: u64 = 256;

/// A plaintext password that passed validation. Never printed: `Debug` is redacted.
pub struct NewPassword(String);

impl NewPassword {
    /// Checks the length bounds, reporting both if both fail (they cannot).
    pub fn parse(raw: &str) -> Result<Self, Vec<Issue>> {
        let length = js_length(raw) as u64;
        let mut issues = Vec::new();
        if length < MIN_LENGTH {
            issues.push(Issue::too_small(
                "string",
                MIN_LENGTH,
                format!("Password must be at least {MIN_LENGTH} characters"),
                "password",
            ));
        }
        if length > MAX_LENGTH {
            issues.push(Issue::too_big(
                "string",
                MAX_LENGTH,
                format!("Password must be at most {MAX_LENGTH} characters"),
                "password",
            ));
        }
        if issues.is_empty() {
            Ok(Self(raw.to_owned()))
        } else {
            Err(issues)
        }
    }

    /// The plaintext, for the hasher only.
    pub fn expose(&self) -> &str {
        &self.0
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
    fn debug_never_shows_the_plaintext() {
        let password = NewPassword::parse("correct horse battery").unwrap();
        assert!(!format!("{password:?}").contains("horse"));
    }
}
