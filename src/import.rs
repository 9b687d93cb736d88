//! `user import`: existing users, one JSON line each, moved into a store without losing an id
//! or a hash.
//!
//! A line is `{"id":7,"primary_email":"a@b.co","password_hash":"$2b$12$…","created_at":"2024-05-01T10:00:00Z"}`
//! (`created_at` optional, other keys ignored). `password_hash` is an Argon2id PHC string or a
//! bcrypt hash within the ceiling ([`hash_within_ceiling`]), kept verbatim; absent or null for
//! a user with no password of its own (one who signed in through GitHub or Google only), who is
//! stored without one: no password verifies for it, and it can still change its address.
//! Every valid line becomes one atomic write of the user and its
//! address claim ([`UserStore::import_user`]), so a run can stop anywhere and be run again: a
//! line already imported unchanged is skipped, and a line whose id or address belongs to
//! another record is refused, never written over. Before the first write the id counter is
//! moved past the largest id in the input, so users created meanwhile never collide.

use std::io::BufRead;

use serde::Deserialize;

use crate::clock::parse_time_ms;
use crate::domain::{Email, UserId};
use crate::password::{PasswordHash, hash_within_ceiling};
use crate::store::{Imported, StoreError, StoredUser, UserStore};

/// What a run did, printed as its last line.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    /// Lines written.
    pub imported: u64,
    /// Lines already stored exactly so.
    pub skipped: u64,
    /// Lines not written: malformed, or their id or address belongs to another record.
    pub refused: u64,
    /// Of the lines written, those of users without a password (`password_hash` absent or
    /// null: users who sign in elsewhere). Sign-in and `current_password` refuse them; they
    /// can still change their address.
    pub without_password: u64,
}

/// One refused line: its number (from 1) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The line's number in the input, counting from 1.
    pub line: usize,
    /// Why it was refused, naming fields, never their values' secrets.
    pub reason: String,
}

/// An input line as written.
#[derive(Deserialize)]
struct Line {
    id: serde_json::Value,
    primary_email: serde_json::Value,
    #[serde(default)]
    password_hash: serde_json::Value,
    #[serde(default)]
    created_at: Option<serde_json::Value>,
}

/// Parses one line into the record it stands for; `now` is `created_at`'s default.
pub fn parse_line(line: &str, now: i64) -> Result<StoredUser, String> {
    let shape = || "a JSON object with id and primary_email is expected".to_owned();
    let value: serde_json::Value =
        serde_json::from_str(line).map_err(|_| "not valid JSON".to_owned())?;
    if !value.is_object() {
        return Err(shape());
    }
    let line: Line = serde_json::from_value(value).map_err(|_| shape())?;
    let id = line
        .id
        .as_u64()
        .and_then(UserId::new)
        .ok_or("id must be a positive integer of at most 2^53-1")?;
    let email = line
        .primary_email
        .as_str()
        .and_then(|e| Email::parse(e).ok())
        .ok_or("primary_email is not a valid address")?;
    let hash = match &line.password_hash {
        serde_json::Value::Null => None,
        hash => {
            let hash = hash
                .as_str()
                .map(|h| PasswordHash::from_stored(h.to_owned()))
                .ok_or("password_hash must be an Argon2id PHC string, a bcrypt hash or null")?;
            // A hash above the ceiling would never verify; refused here, it is never stored.
            hash_within_ceiling(&hash).map_err(|why| format!("password_hash {why}"))?;
            Some(hash)
        }
    };
    let created_at = match line.created_at {
        None | Some(serde_json::Value::Null) => now,
        Some(serde_json::Value::String(time)) => parse_time_ms(&time)
            .map(|ms| ms.div_euclid(1000))
            .ok_or("created_at must be an RFC 3339 time")?,
        Some(_) => return Err("created_at must be an RFC 3339 time".to_owned()),
    };
    let mut user = StoredUser::new(id, &email, hash.as_ref(), created_at);
    user.updated_at = created_at;
    Ok(user)
}

/// Imports every line of `input` into `store`. Refusals are reported through `refused` as
/// they happen; a store that fails outright stops the run with that error.
pub async fn run(
    store: &dyn UserStore,
    input: impl BufRead,
    now: i64,
    mut refused: impl FnMut(&Refusal),
) -> Result<Summary, StoreError> {
    let mut summary = Summary::default();
    let mut users = Vec::new();
    for (index, line) in input.lines().enumerate() {
        let number = index + 1;
        let parsed = match line {
            Ok(line) if line.trim().is_empty() => continue,
            Ok(line) => parse_line(&line, now),
            Err(_) => Err("not UTF-8 text".to_owned()),
        };
        match parsed {
            Ok(user) => users.push((number, user)),
            Err(reason) => {
                summary.refused += 1;
                refused(&Refusal {
                    line: number,
                    reason,
                });
            }
        }
    }
    if let Some(largest) = users.iter().map(|(_, user)| user.id).max() {
        store.reserve_ids_through(largest).await?;
    }
    for (number, user) in &users {
        match store.import_user(user).await {
            Ok(Imported::Created) => {
                summary.imported += 1;
                summary.without_password += u64::from(user.password_hash.is_none());
            }
            Ok(Imported::Unchanged) => summary.skipped += 1,
            Err(error @ (StoreError::IdTaken | StoreError::EmailTaken)) => {
                summary.refused += 1;
                let reason = match error {
                    StoreError::IdTaken => format!("id {} belongs to another record", user.id),
                    _ => "primary_email belongs to another user (in some case)".to_owned(),
                };
                refused(&Refusal {
                    line: *number,
                    reason,
                });
            }
            Err(error) => return Err(error),
        }
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BCRYPT: &str = "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW";
    const ARGON: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g";

    #[test]
    fn good_lines_keep_their_id_hash_and_creation_time() {
        let line = format!(
            r#"{{"id":7,"primary_email":"Ada@Example.com","password_hash":"{BCRYPT}","created_at":"2024-05-01T10:00:00Z","name":"ignored"}}"#
        );
        let user = parse_line(&line, 99).unwrap();
        assert_eq!(user.id.get(), 7);
        assert_eq!(user.email.as_str(), "Ada@Example.com");
        assert_eq!(user.password_hash.unwrap().as_str(), BCRYPT);
        assert_eq!(
            (user.created_at, user.updated_at),
            (1_714_557_600, 1_714_557_600)
        );
        let line = format!(r#"{{"id":8,"primary_email":"b@b.co","password_hash":"{ARGON}"}}"#);
        assert_eq!(parse_line(&line, 99).unwrap().created_at, 99);
        for line in [
            r#"{"id":9,"primary_email":"c@b.co"}"#,
            r#"{"id":9,"primary_email":"c@b.co","password_hash":null}"#,
        ] {
            assert_eq!(parse_line(line, 99).unwrap().password_hash, None, "{line}");
        }
    }

    #[test]
    fn malformed_lines_are_refused_with_a_reason() {
        let cases = [
            ("{", "not valid JSON"),
            ("[1,2]", "a JSON object"),
            (
                r#"{"primary_email":"a@b.co","password_hash":"x"}"#,
                "a JSON object",
            ),
            (
                r#"{"id":7,"primary_email":"a@b.co","password_hash":7}"#,
                "password_hash",
            ),
            (
                &format!(r#"{{"id":"7","primary_email":"a@b.co","password_hash":"{BCRYPT}"}}"#),
                "id must be",
            ),
            (
                &format!(r#"{{"id":0,"primary_email":"a@b.co","password_hash":"{BCRYPT}"}}"#),
                "id must be",
            ),
            (
                &format!(
                    r#"{{"id":9007199254740992,"primary_email":"a@b.co","password_hash":"{BCRYPT}"}}"#
                ),
                "id must be",
            ),
            (
                &format!(
                    r#"{{"id":7,"primary_email":"not-an-address","password_hash":"{BCRYPT}"}}"#
                ),
                "primary_email",
            ),
            (
                r#"{"id":7,"primary_email":"a@b.co","password_hash":"plaintext!"}"#,
                "password_hash",
            ),
            (
                r#"{"id":7,"primary_email":"a@b.co","password_hash":"$argon2i$v=19$m=1,t=1,p=1$a$b"}"#,
                "password_hash",
            ),
            (
                r#"{"id":7,"primary_email":"a@b.co","password_hash":"$2b$12$short"}"#,
                "password_hash",
            ),
            (
                &format!(
                    r#"{{"id":7,"primary_email":"a@b.co","password_hash":"{BCRYPT}","created_at":"May 1st"}}"#
                ),
                "created_at",
            ),
        ];
        for (line, expected) in cases {
            let reason = parse_line(line, 0).unwrap_err();
            assert!(reason.contains(expected), "{line}: {reason}");
            assert!(!reason.contains("$2b$"), "a reason never echoes a hash");
        }
    }
}
