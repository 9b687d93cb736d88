//! Handler CPU per email-only update, in process, over the memory store: everything a request
//! costs except the network (cookie verification, JSON, validation, the store, the refresh).

use std::sync::Arc;

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use neptun_users::context::Scheme;
use neptun_users::domain::{Email, UserId};
use neptun_users::password::PasswordHash;
use neptun_users::session::unix_now;
use neptun_users::store::{MemoryStore, UserStore};
use neptun_users::{AppContext, Config, handle};

fn bench(c: &mut Criterion) {
    // The handler's request deadline needs the runtime's timer, as on every door.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let config = Config::with_secret(b"bench-secret-bench-secret-bench-secret-1".to_vec(), |_| {
        None
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
        ))
        .unwrap();
    let ctx = AppContext::new(config, store, Scheme::Http);
    let session = ctx.keys.issue(
        UserId::new(user.id.get()).unwrap(),
        "bench@example.com",
        1,
        unix_now(),
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
    let mut i = 0;
    c.bench_function("handler/email_only_update", |b| {
        b.to_async(&runtime).iter(|| {
            i += 1;
            let request = request(i);
            let ctx = &ctx;
            async move {
                let response = handle(ctx, request).await;
                assert_eq!(response.status(), 200);
                response
            }
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
