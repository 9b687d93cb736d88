//! Argon2id hashing off the async executor, bounded, and behind every cheaper request.
//!
//! Hashes run on a small pool of dedicated threads, one per core, each keeping its own
//! `argon2-rust` arena (19 MiB) for every hash it computes: a burst of password changes costs
//! at most `threads × 19 MiB` however many requests wait, and no hash pays for fresh pages.
//! Waiting requests queue in a channel. The threads run as `SCHED_BATCH` at nice 10, so
//! email updates and other cheap requests go first when the CPU is contended, while hashes
//! still get about a tenth of it: a burst of hashes barely moves the email p99, and a
//! password change still finishes on a CPU that cheap requests keep saturated (at
//! `SCHED_IDLE` it starved there until [`HASH_WAIT`] answered 500). That is why they are our
//! own threads and not tokio's shared `spawn_blocking` pool, whose threads must keep normal
//! priority (and an unprivileged thread cannot raise its priority back).
//! `argon2-rust` produces the reference implementation's exact output; its PHC strings verify
//! with RustCrypto's `argon2` and the other way round (tests/argon2_compat.rs).

use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use argon2_rust::params::Memory;
use argon2_rust::{Algorithm, Argon2, Params, Version};
use tokio::sync::oneshot;

use crate::domain::{CurrentPassword, NewPassword};

/// Memory cost in KiB (OWASP's Argon2id recommendation).
pub const ARGON2_MEMORY_KIB: u32 = 19_456;
/// Iterations.
pub const ARGON2_ITERATIONS: u32 = 2;
/// Lanes.
pub const ARGON2_PARALLELISM: u32 = 1;

/// How long a password change waits for its hash before it fails with a 500: the bound for
/// a machine so overloaded that a tenth of the CPU does not clear the queue. Together with
/// the store's 5 s bound this stays inside the functions' 10 s limit.
pub const HASH_WAIT: Duration = Duration::from_secs(3);

/// Waiting hashes allowed per hashing thread; past that a password change fails at once
/// rather than queueing work that cannot finish within [`HASH_WAIT`].
pub const QUEUE_PER_THREAD: usize = 64;

/// The hashing threads' nice value (CFS weight 110 against 1024 at nice 0).
pub const HASH_NICENESS: i32 = 10;
/// [`HASH_NICENESS`] on thread-priority's 0..=99 scale, which it maps linearly onto nice 19..-20.
const HASH_PRIORITY: u8 = 22;

/// With the test-only `forced-panic` feature, hashing this password panics on the hashing
/// thread, so a smoke run can prove the panic answers 500 from a release build. Builds that
/// serve users never enable the feature, and without it this is an ordinary password.
pub const FORCED_PANIC_PASSWORD: &str = "forced-panic-in-the-hasher";

// A panicking hash answers 500 because `catch_unwind` below catches it. Under `panic = "abort"`
// (what cargo-lambda uses when the release profile names no strategy) it would end the whole
// function instead, so such a build is refused here rather than deployed.
#[cfg(panic = "abort")]
compile_error!("neptun-users needs panic = \"unwind\": a panic must answer 500, not abort");

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

impl PasswordHash {
    /// Whether a password verified against this hash should be hashed again with the
    /// contract's parameters: a bcrypt hash, or Argon2id with other parameters.
    pub fn needs_upgrade(&self) -> bool {
        !self.0.starts_with(&format!(
            "$argon2id$v=19$m={ARGON2_MEMORY_KIB},t={ARGON2_ITERATIONS},p={ARGON2_PARALLELISM}$"
        ))
    }
}

/// What verifying a password against a stored hash found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    /// Not the password (or a hash nothing can match).
    Wrong,
    /// The password; with the contract's Argon2id hash of it when the stored one was weaker.
    Right {
        /// The upgraded hash, to be stored in the same write.
        rehash: Option<PasswordHash>,
    },
}

/// An Argon2id hash with the contract's parameters of a random password nobody knows: an
/// unknown address's sign-in is verified against it, so that it costs what a known one does.
pub const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$XrnzRNKifFj8cH1f8j8yjw$iTtrlScHnh2kmdKx4u7XX8gWuFrI2GfWeZhFazdBi0M";

/// Hashing failed (the worker panicked or Argon2 refused); the cause is not user-facing.
#[derive(Debug, thiserror::Error)]
#[error("password hashing failed")]
pub struct HashError;

/// Argon2id v19 with the contract's parameters (what every stored hash is made with).
pub fn argon2id() -> Argon2 {
    let params = Params::builder()
        .memory(Memory::kib(u64::from(ARGON2_MEMORY_KIB)))
        .passes(ARGON2_ITERATIONS)
        .lanes(ARGON2_PARALLELISM)
        .build()
        .expect("BUG: the Argon2 parameters are valid constants");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// What a hashing thread is asked to do, and where the answer goes.
enum Job {
    /// Hash a new password with a fresh salt.
    Hash(
        NewPassword,
        oneshot::Sender<Result<PasswordHash, HashError>>,
    ),
    /// Verify a current password against a stored hash (Argon2id or bcrypt).
    Verify(
        CurrentPassword,
        PasswordHash,
        oneshot::Sender<Result<Verification, HashError>>,
    ),
}

/// Hashes passwords on `concurrency` low-priority threads; others wait their turn.
#[derive(Clone)]
pub struct Hasher {
    inner: Arc<Pool>,
}

struct Pool {
    concurrency: usize,
    /// Argon2 or bcrypt computations started, ever (what a test counts to prove a request
    /// bought none).
    started: AtomicUsize,
    /// One permit per place in the queue (waiting or running); none left: refuse at once.
    places: Arc<tokio::sync::Semaphore>,
    /// Started on first use, so a cold start that never changes a password starts no thread
    /// and maps no arena.
    jobs: OnceLock<mpsc::Sender<Job>>,
}

impl Hasher {
    /// A hasher running at most `concurrency` hashes at once (at least one).
    pub fn new(concurrency: usize) -> Self {
        Self {
            inner: Arc::new(Pool {
                concurrency: concurrency.max(1),
                started: AtomicUsize::new(0),
                places: Arc::new(tokio::sync::Semaphore::new(
                    concurrency.max(1) * (QUEUE_PER_THREAD + 1),
                )),
                jobs: OnceLock::new(),
            }),
        }
    }

    /// One hash per core: more would only queue on the CPU while holding memory.
    pub fn per_core() -> Self {
        Self::new(std::thread::available_parallelism().map_or(1, usize::from))
    }

    /// How many hashes and verifications this hasher has been asked for.
    pub fn jobs_started(&self) -> usize {
        self.inner.started.load(Ordering::Relaxed)
    }

    /// How many hashes may run at once.
    pub fn concurrency(&self) -> usize {
        self.inner.concurrency
    }

    /// Hashes with a fresh random 16-byte salt from the OS. Fails when too many hashes are
    /// already waiting, or when this one waited longer than [`HASH_WAIT`].
    pub async fn hash(&self, password: NewPassword) -> Result<PasswordHash, HashError> {
        self.run(|reply| Job::Hash(password, reply)).await?
    }

    /// Whether `password` is the one `stored` was made from: an Argon2id PHC string (any
    /// parameters) or a bcrypt hash (`$2a$`/`$2b$`/`$2y$`, imported users). Runs on the
    /// hashing threads, under the same bounds as [`Hasher::hash`]: a verify costs what a hash
    /// costs, and must not run on the async executor either.
    ///
    /// A right password whose stored hash is weaker than the contract's is hashed again in
    /// the same job ([`Verification::Right`] carries the new hash).
    pub async fn verify(
        &self,
        password: CurrentPassword,
        stored: PasswordHash,
    ) -> Result<Verification, HashError> {
        self.run(|reply| Job::Verify(password, stored, reply))
            .await?
    }

    /// Queues one job made by `job` around its reply channel and waits for the answer.
    async fn run<T>(&self, job: impl FnOnce(oneshot::Sender<T>) -> Job) -> Result<T, HashError> {
        let pool = &*self.inner;
        let _place = Arc::clone(&pool.places).try_acquire_owned().map_err(|_| {
            tracing::warn!("password hash queue full");
            HashError
        })?;
        let (reply, answer) = oneshot::channel();
        pool.started.fetch_add(1, Ordering::Relaxed);
        self.jobs().send(job(reply)).map_err(|_| HashError)?;
        match tokio::time::timeout(HASH_WAIT, answer).await {
            Ok(Ok(result)) => Ok(result),
            Ok(Err(_)) => Err(HashError),
            Err(_) => {
                tracing::warn!("password hash not done within the wait limit");
                Err(HashError)
            }
        }
    }

    fn jobs(&self) -> &mpsc::Sender<Job> {
        self.inner.jobs.get_or_init(|| {
            let (jobs, queue) = mpsc::channel::<Job>();
            let queue = Arc::new(Mutex::new(queue));
            for i in 0..self.inner.concurrency {
                let queue = Arc::clone(&queue);
                let spawned = std::thread::Builder::new()
                    .name(format!("argon2-{i}"))
                    .spawn(move || work(&queue));
                if let Err(error) = spawned {
                    tracing::error!(%error, "could not start a hashing thread");
                }
            }
            jobs
        })
    }
}

/// One hashing thread: below normal priority, one arena for its whole life.
fn work(queue: &Mutex<mpsc::Receiver<Job>>) {
    use thread_priority::{
        NormalThreadSchedulePolicy, ThreadPriority, ThreadSchedulePolicy,
        set_thread_priority_and_policy, thread_native_id,
    };
    let lowered = set_thread_priority_and_policy(
        thread_native_id(),
        ThreadPriority::Crossplatform(HASH_PRIORITY.try_into().expect("a valid priority")),
        ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Batch),
    );
    if lowered.is_err() {
        tracing::warn!("hashing runs at normal priority: SCHED_BATCH was refused");
    }
    let mut hasher = argon2id().hasher();
    loop {
        // The lock is held only while waiting for the next job, never while hashing.
        let job = queue.lock().unwrap_or_else(|p| p.into_inner()).recv();
        let Ok(job) = job else { return };
        match job {
            Job::Hash(password, reply) => {
                if reply.is_closed() {
                    continue; // its request gave up waiting
                }
                let phc = catch_unwind(AssertUnwindSafe(|| {
                    #[cfg(feature = "forced-panic")]
                    assert!(
                        password.expose() != FORCED_PANIC_PASSWORD,
                        "forced panic in the hasher (test-only feature)"
                    );
                    hasher.hash_password_with_random_salt(password.expose().as_bytes())
                }));
                let _ = reply.send(match phc {
                    Ok(Ok(phc)) => Ok(PasswordHash(phc)),
                    Ok(Err(_)) | Err(_) => Err(HashError),
                });
            }
            Job::Verify(password, stored, reply) => {
                if reply.is_closed() {
                    continue;
                }
                let verified = catch_unwind(AssertUnwindSafe(|| {
                    if !verify_stored(password.expose(), &stored) {
                        return Ok(Verification::Wrong);
                    }
                    let rehash = if stored.needs_upgrade() {
                        let password = NewPassword::verified(&password);
                        let phc =
                            hasher.hash_password_with_random_salt(password.expose().as_bytes());
                        Some(PasswordHash(phc.map_err(|_| HashError)?))
                    } else {
                        None
                    };
                    Ok(Verification::Right { rehash })
                }));
                let _ = reply.send(verified.unwrap_or(Err(HashError)));
            }
        }
    }
}

/// Whether `password` matches `stored`, an Argon2id PHC string or a bcrypt hash. Anything
/// else never matches.
pub fn verify_stored(password: &str, stored: &PasswordHash) -> bool {
    let hash = stored.as_str();
    if hash.starts_with("$argon2id$") {
        verify(password, stored)
    } else if ["$2a$", "$2b$", "$2y$"].iter().any(|p| hash.starts_with(p)) {
        bcrypt::verify(password, hash).unwrap_or(false)
    } else {
        false
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

    #[tokio::test]
    async fn a_full_queue_refuses_at_once() {
        let hasher = Hasher::new(1);
        let pool = &*hasher.inner;
        let held: Vec<_> = (0..QUEUE_PER_THREAD + 1)
            .map(|_| Arc::clone(&pool.places).try_acquire_owned())
            .collect();
        assert!(held.iter().all(Result::is_ok));
        let refused = hasher
            .hash(NewPassword::parse("one too many").unwrap())
            .await;
        assert!(refused.is_err());
        drop(held);
        assert!(
            hasher
                .hash(NewPassword::parse("room again").unwrap())
                .await
                .is_ok()
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_hashes_all_complete_on_a_bounded_pool() {
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
        for (i, task) in tasks.into_iter().enumerate() {
            let phc = task.await.unwrap().unwrap();
            assert!(verify(&format!("password-{i}"), &phc));
        }
        // Every hashing thread of this process runs as SCHED_BATCH at nice 10, as the kernel
        // reports them: (field 41 of stat, the policy: 3; field 19, nice).
        let policies: Vec<(String, String)> = std::fs::read_dir("/proc/self/task")
            .unwrap()
            .filter_map(Result::ok)
            .filter(|t| {
                std::fs::read_to_string(t.path().join("comm"))
                    .is_ok_and(|name| name.starts_with("argon2-"))
            })
            .filter_map(|t| std::fs::read_to_string(t.path().join("stat")).ok())
            .filter_map(|stat| {
                let fields: Vec<&str> = stat.rsplit_once(") ")?.1.split(' ').collect();
                Some((fields.get(38)?.to_string(), fields.get(16)?.to_string()))
            })
            .collect();
        assert!(
            policies.len() >= 2,
            "this hasher's threads are running: {policies:?}"
        );
        let batch_at_nice = ("3".to_owned(), HASH_NICENESS.to_string());
        assert!(
            policies.iter().all(|p| *p == batch_at_nice),
            "SCHED_BATCH at nice {HASH_NICENESS}: {policies:?}"
        );
    }
}
