//! Handler CPU per email-only update, in process, over the memory store: everything a request
//! costs except the network (cookie verification, JSON, validation, the store, the refresh),
//! in both session formats; a sign-in's own CPU without its Argon2 work; and what the Nuxt
//! format's iron seal costs, whole and by primitive.

use std::sync::Arc;

use aes::cipher::{BlockEncryptMut, KeyIvInit, block_padding::Pkcs7};
use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use hmac::{Hmac, Mac};
use neptun_users::clock::{unix_now, unix_now_ms};
use neptun_users::context::Scheme;
use neptun_users::domain::{Email, UserId};
use neptun_users::iron::{self, IronPassword};
use neptun_users::password::PasswordHash;
use neptun_users::store::{MemoryStore, UserStore};
use neptun_users::{AppContext, Config, handle};

const SECRET: &str = "bench-secret-bench-secret-bench-secret-1";

/// The h3 session object a Nuxt login seals, as `tests/interop/bench-iron.mjs` seals it too.
pub const NUXT_SESSION: &str = r#"{"id":"2f273744-b82b-4ea5-bde7-ea0ba7b31e5e","createdAt":1796154020615,"data":{"user":{"id":1,"primary_email":"bench@example.com"},"loggedInAt":"2026-12-01T10:00:00.000Z"}}"#;

fn email_only_update(c: &mut Criterion, name: &str, format: &str) {
    // The handler's request deadline needs the runtime's timer, as on every door.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let config = Config::from_lookup(|variable| match variable {
        "SESSION_FORMAT" => Some(format.to_owned()),
        "SESSION_SECRET" | "NUXT_SESSION_PASSWORD" => Some(SECRET.to_owned()),
        _ => None,
    })
    .unwrap();
    let store = Arc::new(MemoryStore::new());
    let user = runtime
        .block_on(store.create_user(
            &Email::parse("bench@example.com").unwrap(),
            &PasswordHash::from_stored(
                "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaA".into(),
            ),
            unix_now(),
            UserId::new(1).unwrap(),
        ))
        .unwrap();
    let ctx = AppContext::new(config, store, Scheme::Http);
    let session = ctx.keys.issue(
        UserId::new(user.id.get()).unwrap(),
        "bench@example.com",
        1,
        unix_now_ms(),
        None,
    );
    let cookie = ctx.keys.cookie_pair(&session);
    let bodies: Vec<Bytes> = (0..2)
        .map(|i| Bytes::from(format!(r#"{{"email":"bench{i}@example.com"}}"#)))
        .collect();
    let request = |i: usize| {
        http::Request::builder()
            .method("PATCH")
            .uri(format!("/api/users/{}", user.id))
            .header("host", "127.0.0.1:3000")
            .header("cookie", &cookie)
            .header("content-type", "application/json")
            .body(bodies[i % 2].clone())
            .unwrap()
    };
    // Nothing is logged: the subscriber is not installed, as with RUST_LOG=off.
    // The request is built outside the timing (a door hands the handler one it has already
    // parsed), and the response dropped outside it.
    let mut i = 0;
    c.bench_function(name, |b| {
        b.to_async(&runtime).iter_batched(
            || {
                i += 1;
                request(i)
            },
            |request| {
                let ctx = &ctx;
                async move {
                    let response = handle(ctx, request).await;
                    assert_eq!(response.status(), 200);
                    response
                }
            },
            criterion::BatchSize::SmallInput,
        )
    });
}

/// A sign-in's own CPU, everything but the verification: the account's stored hash is one no
/// verification may run (it does not parse, so the ceiling check refuses it before any job is
/// queued), so the request makes every step of a wrong password (body, look-up, attempt
/// reservation, the 401) except the Argon2 work and its thread hop. The clock moves a window
/// ahead each time, so no lock sets in.
fn sign_in_without_verification(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let config = Config::from_lookup(|variable| match variable {
        "SESSION_SECRET" => Some(SECRET.to_owned()),
        _ => None,
    })
    .unwrap();
    let store = Arc::new(MemoryStore::new());
    let user = neptun_users::store::StoredUser::new(
        UserId::new(1).unwrap(),
        &Email::parse("bench@example.com").unwrap(),
        Some(&PasswordHash::from_stored(
            "$argon2id$v=19$m=19456,t=2,p=1$unparseable".into(),
        )),
        unix_now(),
    );
    runtime.block_on(store.import_user(&user)).unwrap();
    let ctx = AppContext::new(config, store, Scheme::Http);
    let body = Bytes::from_static(br#"{"email":"bench@example.com","password":"not-it-at-all"}"#);
    c.bench_function("handler/sign_in_without_verification", |b| {
        b.to_async(&runtime).iter(|| {
            ctx.clock.advance(neptun_users::store::ATTEMPT_WINDOW_MS);
            let request = http::Request::builder()
                .method("POST")
                .uri("/api/auth/login")
                .header("host", "127.0.0.1:3000")
                .header("content-type", "application/json")
                .body(body.clone())
                .unwrap();
            let ctx = &ctx;
            async move {
                let response = handle(ctx, request).await;
                assert_eq!(response.status(), 401);
                response
            }
        })
    });
}

fn handler(c: &mut Criterion) {
    email_only_update(c, "handler/email_only_update", "signed");
    email_only_update(c, "handler/email_only_update_nuxt", "nuxt");
    sign_in_without_verification(c);
}

/// One unseal and one seal of the same session object: what a Nuxt-mode request adds, and
/// what `tests/interop/bench-iron.mjs` measures for iron-webcrypto.
fn iron_pair(c: &mut Criterion) {
    let password = IronPassword::new(SECRET).unwrap();
    let passwords = std::slice::from_ref(&password);
    let sealed = iron::seal(NUXT_SESSION.as_bytes(), &password, None);
    c.bench_function("iron/unseal_then_seal", |b| {
        b.iter(|| {
            let opened = iron::unseal(&sealed, passwords, 0).unwrap();
            iron::seal(&opened.plaintext, &password, Some(1_800_000_000_000))
        })
    });
    // The primitives, as the seal uses them (RustCrypto, the same crates): a seal makes two
    // key derivations, one AES-256-CBC encryption and one HMAC-SHA256; an unseal the same
    // with a decryption.
    let keyed = Hmac::<sha1::Sha1>::new_from_slice(SECRET.as_bytes()).unwrap();
    let salt = "5a".repeat(32);
    c.bench_function("iron/key_derivation_pbkdf2_sha1_1_iteration", |b| {
        b.iter(|| {
            let mut key = [0u8; 32];
            for (block, chunk) in key.chunks_mut(20).enumerate() {
                let mut mac = keyed.clone();
                mac.update(salt.as_bytes());
                mac.update(&u32::try_from(block + 1).unwrap().to_be_bytes());
                chunk.copy_from_slice(&mac.finalize().into_bytes()[..chunk.len()]);
            }
            key
        })
    });
    let key = [7u8; 32];
    let iv = [9u8; 16];
    c.bench_function("iron/aes_256_cbc_encrypt_200_bytes", |b| {
        b.iter(|| {
            // 200 bytes of plaintext and room for the padding block.
            let mut buffer = [b'x'; 208];
            cbc::Encryptor::<aes::Aes256>::new(&key.into(), &iv.into())
                .encrypt_padded_mut::<Pkcs7>(&mut buffer, 200)
                .map(<[u8]>::len)
                .unwrap()
        })
    });
    c.bench_function("iron/hmac_sha256_of_the_seal", |b| {
        b.iter(|| {
            let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
            mac.update(sealed.as_bytes());
            mac.finalize().into_bytes()
        })
    });
}

criterion_group!(benches, handler, iron_pair);
criterion_main!(benches);
