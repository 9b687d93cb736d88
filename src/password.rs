//! Argon2id hashing off the async executor, with a bound on how many hashes run at once.
//!
//! Each hash holds 19 MiB for about the time of one hash; without the bound, a burst of
//! password changes would allocate 19 MiB per request and could exhaust the function's memory.

use std::fmt;
use std::sync::Arc;

use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

use crate::domain::NewPassword;

/// Memory cost in KiB (OWASP's Argon2id recommendation).
pub const ARGON2_MEMORY_KIB: u32 = 19_456;
/// Iterations.
pub const ARGON2_ITERATIONS: u32 = 2;
/// Lanes.
pub const ARGON2_PARALLELISM: u32 = 1;

/// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`). `Debug` is redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// Wraps a PHC string read back from the store.
    pub fn from_stored(phc: String) -> Self {
        Self(phc)
    }

    /// The PHC string, for the store only.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(<redacted>)")
    }
}

/// Hashing failed (the worker panicked or Argon2 refused); the cause is not user-facing.
#[derive(Debug)]
pub struct HashError;

fn argon2() -> Argon2<'static> {
    let params = Params::new(
        ARGON2_MEMORY_KIB,
        ARGON2_ITERATIONS,
        ARGON2_PARALLELISM,
        None,
    )
    .expect("BUG: the Argon2 parameters are valid constants");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes passwords on the blocking pool, at most `concurrency` at a time; others wait.
#[derive(Clone)]
pub struct Hasher {
    permits: Arc<Semaphore>,
}

impl Hasher {
    /// A hasher running at most `concurrency` hashes at once (at least one).
    pub fn new(concurrency: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
        }
    }

    /// One hash per core: more would only queue on the CPU while holding memory.
    pub fn per_core() -> Self {
        Self::new(std::thread::available_parallelism().map_or(1, usize::from))
    }

    /// How many hashes may run at once.
    pub fn concurrency(&self) -> usize {
        self.permits.available_permits()
    }

    /// Hashes with a fresh random 16-byte salt.
    pub async fn hash(&self, password: NewPassword) -> Result<PasswordHash, HashError> {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| HashError)?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            argon2()
                .hash_password(password.expose().as_bytes())
                .map(|phc| PasswordHash(phc.to_string()))
                .map_err(|_| HashError)
        })
        .await
        .map_err(|_| HashError)?
    }
}

/// Whether `password` matches the stored PHC string (parameters are read from the string).
pub fn verify(password: &str, phc: &PasswordHash) -> bool {
    argon2()
        .verify_password(password.as_bytes(), phc.as_str())
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_argon2id_phc_strings_with_the_contracts_parameters() {
        let hasher = Hasher::new(1);
        let password = NewPassword::parse("correct horse battery").unwrap();
        let phc = hasher.hash(password).await.unwrap();
        assert!(
            phc.as_str().starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{}",
            phc.as_str()
        );
        let salt = phc.as_str().split('$').nth(4).unwrap();
        assert_eq!(salt.len(), 22, "16 bytes of salt are 22 base64 characters");
        assert!(verify("correct horse battery", &phc));
        assert!(!verify("correct horse battery!", &phc));
    }

    #[tokio::test]
    async fn two_hashes_of_one_password_use_different_salts() {
        let hasher = Hasher::new(2);
        let a = hasher
            .hash(NewPassword::parse("same password").unwrap())
            .await
            .unwrap();
        let b = hasher
            .hash(NewPassword::parse("same password").unwrap())
            .await
            .unwrap();
        assert_ne!(a, b);
    }
}
