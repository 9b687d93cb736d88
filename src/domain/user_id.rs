//! `UserId`: the routed id, a canonical positive decimal integer JavaScript can hold exactly.

use std::fmt;

use super::Issue;

/// The largest integer a JavaScript number holds exactly: 2^53 − 1.
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// A user's numeric id, 1..=2^53−1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId(u64);

impl UserId {
    /// Parses the percent-decoded path segment: digits only, no sign, no leading zero.
    pub fn parse(raw: &str) -> Result<Self, Vec<Issue>> {
        let canonical =
            !raw.is_empty() && raw.bytes().all(|b| b.is_ascii_digit()) && !raw.starts_with('0');
        if !canonical {
            return Err(vec![Issue::invalid_string(
                "regex",
                "user_id must be a positive integer written with digits only.",
                "user_id",
            )]);
        }
        match raw.parse::<u64>() {
            Ok(id) if id <= MAX_SAFE_INTEGER => Ok(Self(id)),
            _ => Err(vec![Issue::too_big(
                "number",
                MAX_SAFE_INTEGER,
                format!("user_id must be at most {MAX_SAFE_INTEGER}."),
                "user_id",
            )]),
        }
    }

    /// Wraps an id the store assigned or the session carries. `None` outside 1..=2^53−1.
    pub fn new(id: u64) -> Option<Self> {
        (1..=MAX_SAFE_INTEGER).contains(&id).then_some(Self(id))
    }

    /// The numeric value.
    pub fn get(self) -> u64 {
        self.0
    }
}

/// The command line's parser (`--user-id`): the same rules as the routed id.
impl std::str::FromStr for UserId {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, String> {
        Self::parse(raw).map_err(|_| format!("{raw:?} is not a positive integer of at most 2^53-1"))
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_only_canonical_positive_integers_up_to_2_pow_53_minus_1() {
        let cases = [
            ("1", Some(1), "smallest id"),
            ("123", Some(123), "plain"),
            (
                "9007199254740991",
                Some(MAX_SAFE_INTEGER),
                "largest safe integer",
            ),
            ("9007199254740992", None, "2^53 is past the safe range"),
            ("99999999999999999999999", None, "overflows u64"),
            ("0", None, "zero is not positive"),
            ("007", None, "leading zero"),
            ("-1", None, "sign"),
            ("+1", None, "plus sign"),
            ("1e2", None, "exponent"),
            ("0x10", None, "hex"),
            ("5.0", None, "decimal point"),
            (" 5", None, "leading space"),
            ("5 ", None, "trailing space"),
            ("", None, "empty"),
            ("[user_id]", None, "Vercel's literal placeholder"),
            ("١٢", None, "non-ASCII digits"),
        ];
        for (raw, expected, why) in cases {
            assert_eq!(
                UserId::parse(raw).ok().map(UserId::get),
                expected,
                "{why}: {raw:?}"
            );
        }
    }

    #[test]
    fn new_rejects_ids_outside_the_safe_range() {
        assert_eq!(UserId::new(0), None);
        assert_eq!(UserId::new(MAX_SAFE_INTEGER + 1), None);
        assert_eq!(UserId::new(7).map(UserId::get), Some(7));
    }
}
