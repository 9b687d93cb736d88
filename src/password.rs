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

/// The ceiling on a stored hash's cost: Argon2 memory in KiB. A stored or imported hash above
/// any of these is never run (imports refuse it, verification answers "wrong password"): one
/// record must not cost more than the function's deadline in CPU, or set a thread count.
pub(crate) const CEILING_ARGON2_MEMORY_KIB: u32 = 65_536;
/// The ceiling on Argon2 iterations (`t`).
pub(crate) const CEILING_ARGON2_ITERATIONS: u32 = 10;
/// The ceiling on Argon2 lanes (`p`).
pub(crate) const CEILING_ARGON2_PARALLELISM: u32 = 4;
/// The ceiling on a bcrypt cost (2^14 rounds: about a second on one core).
pub(crate) const CEILING_BCRYPT_COST: u32 = 14;
/// The longest Argon2 salt and tag accepted, in bytes (the contract's are 16 and 32).
const MAX_ARGON2_FIELD_BYTES: usize = 64;

/// How long a password change waits for its hash before it fails with a 500: the bound for
/// a machine so overloaded that a tenth of the CPU does not clear the queue. Together with
/// the store's 5 s bound this stays inside the functions' 10 s limit.
pub const HASH_WAIT: Duration = Duration::from_secs(3);

/// Waiting hashes allowed per hashing thread; past that a password change fails at once
/// rather than queueing work that cannot finish within [`HASH_WAIT`].
pub(crate) const QUEUE_PER_THREAD: usize = 64;

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

impl PasswordHash {
    /// Whether a hash that has just verified should be replaced by one made with the
    /// contract's parameters: a bcrypt hash, or Argon2id with other parameters. A hash above
    /// the ceiling never verifies, and would need one too.
    pub(crate) fn needs_upgrade(&self) -> bool {
        hash_within_ceiling(self)
            != Ok(HashKind::Argon2id {
                memory_kib: ARGON2_MEMORY_KIB,
                iterations: ARGON2_ITERATIONS,
                parallelism: ARGON2_PARALLELISM,
            })
    }
}

/// A stored hash within the ceiling, and what it costs to verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HashKind {
    /// `$argon2id$v=19$m=…,t=…,p=…$<salt>$<tag>`.
    Argon2id {
        /// `m`, KiB.
        memory_kib: u32,
        /// `t`.
        iterations: u32,
        /// `p`.
        parallelism: u32,
    },
    /// `$2a$`, `$2b$` or `$2y$` with a two-digit cost.
    Bcrypt {
        /// The cost (log2 of the rounds).
        cost: u32,
    },
}

/// Why a stored hash is never run. The message follows "password_hash" (an import's refusal
/// reads `password_hash costs more than …`) and never quotes the hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum CeilingError {
    /// Not an Argon2id PHC string (version 19, `m`, `t` and `p` only, salt and tag in
    /// unpadded base64) or a bcrypt hash.
    #[error("is not a well-formed Argon2id PHC string or bcrypt hash")]
    Malformed,
    /// Argon2i or Argon2d.
    #[error("is an Argon2 variant other than argon2id")]
    NotArgon2id,
    /// `m` above [`CEILING_ARGON2_MEMORY_KIB`].
    #[error("costs more than the ceiling: Argon2 memory (m) above 65536 KiB")]
    Memory,
    /// `t` above [`CEILING_ARGON2_ITERATIONS`].
    #[error("costs more than the ceiling: Argon2 iterations (t) above 10")]
    Iterations,
    /// `p` above [`CEILING_ARGON2_PARALLELISM`].
    #[error("costs more than the ceiling: Argon2 parallelism (p) above 4")]
    Parallelism,
    /// A bcrypt cost above [`CEILING_BCRYPT_COST`].
    #[error("costs more than the ceiling: bcrypt cost above 14")]
    BcryptCost,
}

/// What `stored` is, if it is well formed and within the ceiling; else why not. Reads the
/// string only: nothing is hashed.
pub(crate) fn hash_within_ceiling(stored: &PasswordHash) -> Result<HashKind, CeilingError> {
    let hash = stored.as_str();
    if let Some(rest) = hash.strip_prefix("$argon2id$") {
        return argon2id_within_ceiling(rest);
    }
    if ["$argon2i$", "$argon2d$"]
        .iter()
        .any(|p| hash.starts_with(p))
    {
        return Err(CeilingError::NotArgon2id);
    }
    let Some(rest) = ["$2a$", "$2b$", "$2y$"]
        .iter()
        .find_map(|prefix| hash.strip_prefix(prefix))
    else {
        return Err(CeilingError::Malformed);
    };
    let (cost, digest) = rest.split_at_checked(2).ok_or(CeilingError::Malformed)?;
    let well_formed = cost.bytes().all(|b| b.is_ascii_digit())
        && digest.strip_prefix('$').is_some_and(|d| {
            d.len() == 53
                && d.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'/')
        });
    let cost: u32 = cost.parse().map_err(|_| CeilingError::Malformed)?;
    match cost {
        _ if !well_formed => Err(CeilingError::Malformed),
        // bcrypt's own minimum.
        0..4 => Err(CeilingError::Malformed),
        4..=CEILING_BCRYPT_COST => Ok(HashKind::Bcrypt { cost }),
        _ => Err(CeilingError::BcryptCost),
    }
}

/// `v=19$m=M,t=T,p=P$<salt>$<tag>`, what follows `$argon2id$`: exactly that shape, decimal
/// numbers without leading zeros, salt and tag in unpadded base64 of Argon2's minimum length
/// or more and at most [`MAX_ARGON2_FIELD_BYTES`].
fn argon2id_within_ceiling(rest: &str) -> Result<HashKind, CeilingError> {
    use base64::Engine as _;
    let mut fields = rest.split('$');
    let (Some("v=19"), Some(params), Some(salt), Some(tag), None) = (
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
        fields.next(),
    ) else {
        return Err(CeilingError::Malformed);
    };
    let mut params = params.split(',');
    let mut number = |key: &str| {
        let digits = params
            .next()
            .and_then(|p| p.strip_prefix(key))
            .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
            .filter(|d| *d == "0" || !d.starts_with('0'))
            .ok_or(CeilingError::Malformed)?;
        // All digits: too long for a u64 is simply very large.
        Ok::<u64, CeilingError>(digits.parse().unwrap_or(u64::MAX))
    };
    let (m, t, p) = (number("m=")?, number("t=")?, number("p=")?);
    if params.next().is_some() {
        return Err(CeilingError::Malformed);
    }
    if m > u64::from(CEILING_ARGON2_MEMORY_KIB) {
        return Err(CeilingError::Memory);
    }
    if t > u64::from(CEILING_ARGON2_ITERATIONS) {
        return Err(CeilingError::Iterations);
    }
    if p > u64::from(CEILING_ARGON2_PARALLELISM) {
        return Err(CeilingError::Parallelism);
    }
    // Argon2's own lower bounds: one pass, one lane, 8 KiB per lane.
    if t < 1 || p < 1 || m < 8 * p {
        return Err(CeilingError::Malformed);
    }
    let decoded = |field: &str, min: usize| {
        base64::engine::general_purpose::STANDARD_NO_PAD
            .decode(field)
            .ok()
            .filter(|bytes| (min..=MAX_ARGON2_FIELD_BYTES).contains(&bytes.len()))
            .ok_or(CeilingError::Malformed)
    };
    decoded(salt, 8)?;
    decoded(tag, 4)?;
    // Each is at most its ceiling, which fits in u32.
    Ok(HashKind::Argon2id {
        memory_kib: u32::try_from(m).map_err(|_| CeilingError::Malformed)?,
        iterations: u32::try_from(t).map_err(|_| CeilingError::Malformed)?,
        parallelism: u32::try_from(p).map_err(|_| CeilingError::Malformed)?,
    })
}

/// The ceiling as `argon2-rust` holds a decoded string to it, and one worker thread whatever
/// `p` says: verification runs on the hashing thread that took the job.
fn argon2_ceiling() -> &'static Params {
    static CEILING: OnceLock<Params> = OnceLock::new();
    CEILING.get_or_init(|| {
        Params::builder()
            .memory(Memory::kib(u64::from(CEILING_ARGON2_MEMORY_KIB)))
            .passes(CEILING_ARGON2_ITERATIONS)
            .lanes(CEILING_ARGON2_PARALLELISM)
            .threads(1)
            .tag_len(argon2_rust::params::TagLen::bytes(
                MAX_ARGON2_FIELD_BYTES as u64,
            ))
            .build()
            .expect("BUG: the ceiling's parameters are valid constants")
    })
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(<redacted>)")
    }
}

/// What verifying a password against a stored hash found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    /// Not the password.
    Wrong,
    /// A stored hash above the ceiling, or malformed: never run, and answered as a wrong
    /// password; the reason is for the request's log line.
    Unverifiable(String),
    /// The password; with the contract's Argon2id hash of it when the stored one was weaker.
    Right {
        /// The upgraded hash, to be stored in the same write.
        rehash: Option<PasswordHash>,
    },
}

/// An Argon2id hash with the contract's parameters of a random password nobody knows: an
/// unknown address's sign-in is verified against it, so that it costs what a known one does.
pub(crate) const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$XrnzRNKifFj8cH1f8j8yjw$iTtrlScHnh2kmdKx4u7XX8gWuFrI2GfWeZhFazdBi0M";

/// Hashing or verification did not finish; the reason is for the request's log line, never
/// for the response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HashError {
    /// Every queue slot was taken: the instance is over its hashing capacity.
    #[error("password hash queue full")]
    QueueFull,
    /// The job waited or ran past [`HASH_WAIT`].
    #[error("password hash not done within the wait limit")]
    TimedOut,
    /// The worker panicked, Argon2 refused, or the worker threads are gone.
    #[error("password hashing failed")]
    Failed,
}

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
    /// One permit per job admitted (waiting or running); none left: refuse at once.
    queue_slots: Arc<tokio::sync::Semaphore>,
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
                queue_slots: Arc::new(tokio::sync::Semaphore::new(
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

    /// How many hashes and verifications this hasher has been asked for (tests).
    #[cfg(any(test, feature = "test-util"))]
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

    /// Whether `password` is the one `stored` was made from: an Argon2id PHC string or a
    /// bcrypt hash (`$2a$`/`$2b$`/`$2y$`, imported users), within the ceiling
    /// (see `hash_within_ceiling`). Runs on the hashing threads, under the same bounds as
    /// [`Hasher::hash`]: a verify costs what a hash costs, and must not run on the async
    /// executor either. A hash above the ceiling, or malformed, is never run: it answers
    /// [`Verification::Unverifiable`] at once, with the reason.
    ///
    /// A right password whose stored hash is weaker than the contract's is hashed again in
    /// the same job ([`Verification::Right`] carries the new hash).
    pub async fn verify(
        &self,
        password: CurrentPassword,
        stored: PasswordHash,
    ) -> Result<Verification, HashError> {
        if let Err(why) = hash_within_ceiling(&stored) {
            return Ok(Verification::Unverifiable(why.to_string()));
        }
        self.run(|reply| Job::Verify(password, stored, reply))
            .await?
    }

    /// Queues one job made by `job` around its reply channel and waits for the answer.
    async fn run<T>(&self, job: impl FnOnce(oneshot::Sender<T>) -> Job) -> Result<T, HashError> {
        let pool = &*self.inner;
        let _slot = Arc::clone(&pool.queue_slots)
            .try_acquire_owned()
            .map_err(|_| HashError::QueueFull)?;
        let (reply, answer) = oneshot::channel();
        pool.started.fetch_add(1, Ordering::Relaxed);
        self.jobs()
            .send(job(reply))
            .map_err(|_| HashError::Failed)?;
        match tokio::time::timeout(HASH_WAIT, answer).await {
            Ok(Ok(result)) => Ok(result),
            Ok(Err(_)) => Err(HashError::Failed),
            Err(_) => Err(HashError::TimedOut),
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
                    Ok(Err(_)) | Err(_) => Err(HashError::Failed),
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
                        Some(PasswordHash(phc.map_err(|_| HashError::Failed)?))
                    } else {
                        None
                    };
                    Ok(Verification::Right { rehash })
                }));
                let _ = reply.send(verified.unwrap_or(Err(HashError::Failed)));
            }
        }
    }
}

/// Whether `password` matches `stored`, an Argon2id PHC string or a bcrypt hash within the
/// ceiling. Anything else never matches, and is never run.
pub(crate) fn verify_stored(password: &str, stored: &PasswordHash) -> bool {
    match hash_within_ceiling(stored) {
        Ok(HashKind::Argon2id { .. }) => verify(password, stored),
        Ok(HashKind::Bcrypt { .. }) => bcrypt::verify(password, stored.as_str()).unwrap_or(false),
        Err(_) => false,
    }
}

/// Whether `password` matches the stored PHC string (parameters are read from the string, and
/// held to the ceiling by the decoder too).
pub fn verify(password: &str, phc: &PasswordHash) -> bool {
    Argon2::verify_encoded_bounded(
        phc.as_str(),
        password.as_bytes(),
        Algorithm::Argon2id,
        argon2_ceiling(),
    )
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

    const SALT: &str = "c2FsdHNhbHRzYWx0c2FsdA";
    const TAG: &str = "aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g";
    const BCRYPT_DIGEST: &str = "R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW";

    fn argon2(variant: &str, params: &str) -> PasswordHash {
        PasswordHash::from_stored(format!("$argon2{variant}$v=19${params}${SALT}${TAG}"))
    }

    fn bcrypt_at(prefix: &str, cost: &str) -> PasswordHash {
        PasswordHash::from_stored(format!("${prefix}${cost}${BCRYPT_DIGEST}"))
    }

    fn stored(hash: &str) -> PasswordHash {
        PasswordHash::from_stored(hash.to_owned())
    }

    fn argon2id_kind(m: u32, t: u32, p: u32) -> Result<HashKind, CeilingError> {
        Ok(HashKind::Argon2id {
            memory_kib: m,
            iterations: t,
            parallelism: p,
        })
    }

    /// Every hash the ceiling refuses, and why (issue #17's first, then one past each bound),
    /// and what it lets through.
    fn ceiling_cases() -> Vec<(PasswordHash, Result<HashKind, CeilingError>, &'static str)> {
        use CeilingError::*;
        let salt_of = |bytes: usize| {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(vec![7u8; bytes])
        };
        let with =
            |salt: &str, tag: &str| stored(&format!("$argon2id$v=19$m=19456,t=2,p=1${salt}${tag}"));
        vec![
            (
                argon2("id", "m=4294967295,t=4294967295,p=16777215"),
                Err(Memory),
                "issue #17's Argon2",
            ),
            (bcrypt_at("2b", "31"), Err(BcryptCost), "bcrypt cost 31"),
            (bcrypt_at("2b", "99"), Err(BcryptCost), "bcrypt cost 99"),
            (
                stored("$argon2id$v=$$$"),
                Err(Malformed),
                "issue #17's malformed Argon2",
            ),
            (argon2("i", "m=19456,t=2,p=1"), Err(NotArgon2id), "argon2i"),
            (argon2("d", "m=19456,t=2,p=1"), Err(NotArgon2id), "argon2d"),
            (
                argon2("id", "m=65537,t=2,p=1"),
                Err(Memory),
                "m one past the ceiling",
            ),
            (
                argon2("id", "m=19456,t=11,p=1"),
                Err(Iterations),
                "t one past",
            ),
            (
                argon2("id", "m=19456,t=2,p=5"),
                Err(Parallelism),
                "p one past",
            ),
            (bcrypt_at("2b", "15"), Err(BcryptCost), "bcrypt one past"),
            (
                argon2("id", "m=99999999999999999999999,t=2,p=1"),
                Err(Memory),
                "m past u64",
            ),
            (argon2("id", "m=19456,t=0,p=1"), Err(Malformed), "no pass"),
            (argon2("id", "m=19456,t=2,p=0"), Err(Malformed), "no lane"),
            (
                argon2("id", "m=31,t=2,p=4"),
                Err(Malformed),
                "less than 8 KiB a lane",
            ),
            (
                argon2("id", "m=019456,t=2,p=1"),
                Err(Malformed),
                "a leading zero",
            ),
            (argon2("id", "m=+19456,t=2,p=1"), Err(Malformed), "a sign"),
            (
                argon2("id", "t=2,m=19456,p=1"),
                Err(Malformed),
                "another order",
            ),
            (
                argon2("id", "m=19456,t=2,p=1,keyid=AAAA"),
                Err(Malformed),
                "a key id",
            ),
            (argon2("id", "m=19456,t=2"), Err(Malformed), "no p"),
            (
                stored(&format!("$argon2id$v=16$m=19456,t=2,p=1${SALT}${TAG}")),
                Err(Malformed),
                "version 16",
            ),
            (
                stored(&format!("$argon2id$m=19456,t=2,p=1${SALT}${TAG}")),
                Err(Malformed),
                "no version",
            ),
            (
                stored(&format!("$argon2id$v=19$m=19456,t=2,p=1${SALT}")),
                Err(Malformed),
                "no tag",
            ),
            (
                stored(&format!("$argon2id$v=19$m=19456,t=2,p=1${SALT}${TAG}$")),
                Err(Malformed),
                "a field too many",
            ),
            (
                with(&salt_of(7), TAG),
                Err(Malformed),
                "a salt under 8 bytes",
            ),
            (
                with(&salt_of(65), TAG),
                Err(Malformed),
                "a salt over 64 bytes",
            ),
            (
                with(SALT, &salt_of(3)),
                Err(Malformed),
                "a tag under 4 bytes",
            ),
            (
                with(SALT, &salt_of(65)),
                Err(Malformed),
                "a tag over 64 bytes",
            ),
            (
                with(&format!("{SALT}=="), TAG),
                Err(Malformed),
                "padded base64",
            ),
            (
                with("c2FsdHNh*HRzYWx0c2FsdA", TAG),
                Err(Malformed),
                "not base64",
            ),
            (
                bcrypt_at("2b", "03"),
                Err(Malformed),
                "bcrypt under its minimum",
            ),
            (bcrypt_at("2b", "1"), Err(Malformed), "a one-digit cost"),
            (bcrypt_at("2x", "10"), Err(Malformed), "bcrypt's 2x"),
            (
                stored("$2b$10$short"),
                Err(Malformed),
                "a short bcrypt digest",
            ),
            (stored("plaintext"), Err(Malformed), "no hash at all"),
            (stored(""), Err(Malformed), "empty"),
            (
                argon2("id", "m=19456,t=2,p=1"),
                argon2id_kind(19_456, 2, 1),
                "the contract's",
            ),
            (
                argon2("id", "m=65536,t=10,p=4"),
                argon2id_kind(65_536, 10, 4),
                "at the ceiling",
            ),
            (
                argon2("id", "m=8,t=1,p=1"),
                argon2id_kind(8, 1, 1),
                "the least Argon2 allows",
            ),
            (
                with(&salt_of(64), &salt_of(64)),
                argon2id_kind(19_456, 2, 1),
                "64-byte salt and tag",
            ),
            (
                bcrypt_at("2b", "04"),
                Ok(HashKind::Bcrypt { cost: 4 }),
                "bcrypt's least",
            ),
            (
                bcrypt_at("2a", "12"),
                Ok(HashKind::Bcrypt { cost: 12 }),
                "2a",
            ),
            (
                bcrypt_at("2y", "14"),
                Ok(HashKind::Bcrypt { cost: 14 }),
                "2y at the ceiling",
            ),
        ]
    }

    #[test]
    fn stored_hashes_are_held_to_the_ceiling_with_a_reason() {
        for (hash, expected, why) in ceiling_cases() {
            let found = hash_within_ceiling(&hash);
            assert_eq!(found, expected, "{why}");
            if let Err(error) = found {
                let reason = error.to_string();
                assert!(!reason.contains('$'), "{why}: the reason quotes no hash");
            }
        }
    }

    #[test]
    fn only_argon2id_with_the_contracts_parameters_needs_no_upgrade() {
        let cases = [
            (argon2("id", "m=19456,t=2,p=1"), false, "the contract's"),
            (argon2("id", "m=65536,t=3,p=4"), true, "stronger but other"),
            (argon2("id", "m=8,t=1,p=1"), true, "weaker"),
            (argon2("id", "m=19456,t=3,p=1"), true, "another t"),
            (argon2("id", "m=19456,t=2,p=2"), true, "another p"),
            (bcrypt_at("2b", "12"), true, "bcrypt"),
            (bcrypt_at("2b", "31"), true, "above the ceiling"),
            (stored("$argon2id$v=$$$"), true, "malformed"),
        ];
        for (hash, expected, why) in cases {
            assert_eq!(hash.needs_upgrade(), expected, "{why}");
        }
    }

    #[tokio::test]
    async fn verify_answers_false_at_once_for_any_hash_the_ceiling_refuses() {
        let hasher = Hasher::new(1);
        for (hash, expected, why) in ceiling_cases() {
            if expected.is_ok() {
                continue;
            }
            let started = std::time::Instant::now();
            let verified = hasher
                .verify(
                    CurrentPassword::parse("any-password").unwrap(),
                    hash.clone(),
                )
                .await;
            let reason = expected.unwrap_err().to_string();
            assert_eq!(verified, Ok(Verification::Unverifiable(reason)), "{why}");
            assert!(
                started.elapsed() < Duration::from_millis(50),
                "{why}: at once, not after {:?}",
                started.elapsed()
            );
            assert!(!verify_stored("any-password", &hash), "{why}");
        }
        assert_eq!(hasher.jobs_started(), 0, "nothing was queued");
    }

    #[tokio::test]
    async fn hashes_within_the_ceiling_still_verify_whatever_their_parameters() {
        let hasher = Hasher::new(1);
        // (m, t, p): the ceiling's t and p, cheap on memory; and bcrypt at its least cost.
        for (m, t, p) in [(32, 10, 4), (19_456, 2, 1), (64, 1, 2)] {
            let params = Params::builder()
                .memory(Memory::kib(m))
                .passes(t)
                .lanes(p)
                .build()
                .unwrap();
            let phc = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
                .hash_encoded(b"right password", b"sixteen byte salt")
                .unwrap();
            let phc = PasswordHash::from_stored(phc);
            for (password, expected) in [("right password", true), ("wrong password", false)] {
                let verified = hasher
                    .verify(CurrentPassword::parse(password).unwrap(), phc.clone())
                    .await;
                assert_eq!(
                    matches!(verified, Ok(Verification::Right { .. })),
                    expected,
                    "m={m} t={t} p={p} {password}"
                );
            }
        }
        let bcrypt = PasswordHash::from_stored(bcrypt::hash("right password", 4).unwrap());
        let verified = hasher
            .verify(CurrentPassword::parse("right password").unwrap(), bcrypt)
            .await
            .unwrap();
        let Verification::Right {
            rehash: Some(rehash),
        } = verified
        else {
            panic!("bcrypt verifies, and is upgraded: {verified:?}");
        };
        assert!(!rehash.needs_upgrade(), "the contract's parameters");
        assert!(verify("right password", &rehash));
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
            .map(|_| Arc::clone(&pool.queue_slots).try_acquire_owned())
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
