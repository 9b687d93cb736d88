//! `scheme://host[:port]`, normalized for comparison: lower case, no default port.

use std::fmt;

/// A web origin as the cross-site checks compare it: lower-cased, without the scheme's
/// default port (`https://App.Example.com:443` is `https://app.example.com`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin(String);

impl Origin {
    /// An `ALLOWED_ORIGINS` entry: `http(s)://host[:port]` and nothing more, no path (not even
    /// `/`), query, fragment or user name. `null` (what a sandboxed page sends) is not an
    /// origin and never allowed.
    pub fn parse_setting(entry: &str) -> Option<Self> {
        if !is_strict_origin(entry) {
            return None;
        }
        Self::from_header(entry)
    }

    /// An `Origin` header, or the request's own origin built from its `Host`: any
    /// `scheme://authority` without a path, query, fragment or user name. `None` for `null` or
    /// a malformed one, which no allowed origin and no request's own origin equals.
    pub fn from_header(raw: &str) -> Option<Self> {
        let origin = raw.trim().to_ascii_lowercase();
        let (scheme, authority) = origin.split_once("://")?;
        if authority.is_empty() || authority.contains(['/', '?', '#', '@', ' ']) {
            return None;
        }
        let authority = match (scheme, authority.rsplit_once(':')) {
            ("http", Some((host, "80"))) | ("https", Some((host, "443"))) => host,
            _ => authority,
        };
        Some(Self(format!("{scheme}://{authority}")))
    }

    /// The normalized text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `http(s)://host[:port]`: DNS labels or an IPv6 literal, a port from 1 to 65535.
fn is_strict_origin(entry: &str) -> bool {
    let Some((scheme, authority)) = entry.split_once("://") else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return false;
    }
    let (host, port) = match authority.strip_prefix('[') {
        // An IPv6 literal: `[::1]` or `[::1]:8080`.
        Some(bracketed) => {
            let Some((address, rest)) = bracketed.split_once(']') else {
                return false;
            };
            if address.is_empty() || !address.chars().all(|c| c.is_ascii_hexdigit() || c == ':') {
                return false;
            }
            match rest {
                "" => (address, None),
                _ => match rest.strip_prefix(':') {
                    Some(port) => (address, Some(port)),
                    None => return false,
                },
            }
        }
        None => {
            let (host, port) = match authority.split_once(':') {
                Some((host, port)) => (host, Some(port)),
                None => (authority, None),
            };
            let label =
                |l: &str| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
            if !host.split('.').all(label) {
                return false;
            }
            (host, port)
        }
    };
    let port_ok = port.is_none_or(|p| {
        !p.is_empty()
            && p.len() <= 5
            && p.bytes().all(|b| b.is_ascii_digit())
            && p.parse::<u16>().is_ok_and(|p| p > 0)
    });
    !host.is_empty() && port_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_compare_case_insensitively_without_default_ports() {
        let cases = [
            (
                "https://App.Example.com:443",
                Some("https://app.example.com"),
            ),
            ("http://localhost:80", Some("http://localhost")),
            ("http://localhost:3000", Some("http://localhost:3000")),
            ("https://example.com:80", Some("https://example.com:80")),
            ("null", None),
            ("https://", None),
            ("https://a.com/path", None),
        ];
        for (raw, expected) in cases {
            let origin = Origin::from_header(raw);
            assert_eq!(origin.as_ref().map(Origin::as_str), expected, "{raw}");
        }
    }

    #[test]
    fn a_setting_is_normalized_like_a_header() {
        let origin = Origin::parse_setting("HTTPS://App.Example.com:443");
        assert_eq!(origin, Origin::from_header("https://app.example.com"));
        assert_eq!(Origin::parse_setting("https://app.example.com/"), None);
    }
}
