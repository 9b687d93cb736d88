//! Argon2id with the contract's parameters (m=19456 KiB, t=2, p=1), implementation against
//! implementation: RustCrypto `argon2` (fresh memory per hash, and reused memory) and
//! `argon2-rust` (one-shot, and a `Hasher` that keeps its arena).

use argon2::{Algorithm, Argon2, Block, Params, Version};
use criterion::{Criterion, criterion_group, criterion_main};

const PASSWORD: &[u8] = b"correct horse battery staple";
const SALT: &[u8] = b"0123456789abcdef";

fn rustcrypto() -> Argon2<'static> {
    Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(19_456, 2, 1, Some(32)).unwrap(),
    )
}

fn argon2_rust() -> argon2_rust::Argon2 {
    neptun_users::password::argon2id()
}

fn bench(c: &mut Criterion) {
    // Both must produce the same tag, or the comparison means nothing.
    let mut a = [0u8; 32];
    rustcrypto()
        .hash_password_into(PASSWORD, SALT, &mut a)
        .unwrap();
    let mut b = [0u8; 32];
    argon2_rust().hash_into(PASSWORD, SALT, &mut b).unwrap();
    assert_eq!(a, b, "the implementations disagree");

    let mut group = c.benchmark_group("argon2id_m19456_t2_p1");
    group.sample_size(20);
    group.bench_function("rustcrypto_fresh_memory", |bench| {
        let argon2 = rustcrypto();
        bench.iter(|| {
            let mut out = [0u8; 32];
            argon2.hash_password_into(PASSWORD, SALT, &mut out).unwrap();
            out
        })
    });
    group.bench_function("rustcrypto_reused_memory", |bench| {
        let argon2 = rustcrypto();
        let mut memory = vec![Block::default(); 19_456];
        bench.iter(|| {
            let mut out = [0u8; 32];
            argon2
                .hash_password_into_with_memory(PASSWORD, SALT, &mut out, &mut memory)
                .unwrap();
            out
        })
    });
    group.bench_function("argon2_rust_fresh_memory", |bench| {
        let argon2 = argon2_rust();
        bench.iter(|| {
            let mut out = [0u8; 32];
            argon2.hash_into(PASSWORD, SALT, &mut out).unwrap();
            out
        })
    });
    group.bench_function("argon2_rust_reused_arena", |bench| {
        let mut hasher = argon2_rust().hasher();
        bench.iter(|| {
            let mut out = [0u8; 32];
            hasher.hash_into(PASSWORD, SALT, &mut out).unwrap();
            out
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
