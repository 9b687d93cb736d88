//! Argon2id hashing off the async executor, with a bound on how many hashes run at once.
//!
//! Each hash needs 19 MiB of working memory. The hasher keeps one `argon2-rust` arena per
//! permitted concurrent hash and reuses it, so a burst of password changes costs at most
//! `concurrency × 19 MiB` however many requests wait, and no hash pays for fresh pages.
//! `argon2-rust` produces the reference implementation's exact output; its PHC strings verify
//! with RustCrypto's `argon2` and the other way round (tested below).

use std::fmt;
use std::sync::{Arc, Mutex};

use argon2_rust::params::Memory;
use argon2_rust::{Algorithm, Argon2, Params, Version};
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

fn argon2() -> Argon2 {
    let params = Params::builder()
        .memory(Memory::kib(u64::from(ARGON2_MEMORY_KIB)))
        .passes(ARGON2_ITERATIONS)
        .lanes(ARGON2_PARALLELISM)
        .build()
        .expect("BUG: the Argon2 parameters are valid constants");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// Hashes passwords on the blocking pool, at most `concurrency` at a time; others wait.
#[derive(Clone)]
pub struct Hasher {
    permits: Arc<Semaphore>,
    /// Idle arenas: one per permit once each has been used. Arenas are allocated on first
    /// use, so a cold start that never changes a password never maps 19 MiB.
    arenas: Arc<Mutex<Vec<argon2_rust::Hasher>>>,
    concurrency: usize,
}

impl Hasher {
    /// A hasher running at most `concurrency` hashes at once (at least one).
    pub fn new(concurrency: usize) -> Self {
        let concurrency = concurrency.max(1);
        Self {
            permits: Arc::new(Semaphore::new(concurrency)),
            arenas: Arc::new(Mutex::new(Vec::with_capacity(concurrency))),
            concurrency,
        }
    }

    /// One hash per core: more would only queue on the CPU while holding memory.
    pub fn per_core() -> Self {
        Self::new(std::thread::available_parallelism().map_or(1, usize::from))
    }

    /// How many hashes may run at once.
    pub fn concurrency(&self) -> usize {
        self.concurrency
    }

    /// Hashes with a fresh random 16-byte salt from the OS.
    pub async fn hash(&self, password: NewPassword) -> Result<PasswordHash, HashError> {
        let permit = Arc::clone(&self.permits)
            .acquire_owned()
            .await
            .map_err(|_| HashError)?;
        let arenas = Arc::clone(&self.arenas);
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let take = || arenas.lock().unwrap_or_else(|p| p.into_inner()).pop();
            // Empty only before first use, or if a hashing thread panicked with one.
            let mut hasher = take().unwrap_or_else(|| argon2().hasher());
            let phc = hasher.hash_password_with_random_salt(password.expose().as_bytes());
            arenas
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(hasher);
            phc.map(PasswordHash).map_err(|_| HashError)
        })
        .await
        .map_err(|_| HashError)?
    }
}

/// Whether `password` matches the stored PHC string (parameters are read from the string).
pub fn verify(password: &str, phc: &PasswordHash) -> bool {
    Argon2::verify_encoded(phc.as_str(), password.as_bytes(), Algorithm::Argon2id).is_ok()
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

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn arenas_are_reused_and_never_exceed_the_concurrency() {
        let hasher = Hasher::new(2);
        let tasks: Vec<_> = (0..6)
            .map(|i| {
                let hasher = hasher.clone();
                tokio::spawn(async move {
                    hasher
                        .hash(NewPassword::parse(&format!("password-{i}")).unwrap())
                        .await
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        let idle = hasher.arenas.lock().unwrap().len();
        assert!((1..=2).contains(&idle), "{idle} arenas for 2 permits");
    }
}
