//! Sustained mixed load over DynamoDB with an injected outage, then every invariant checked
//! by scanning the table. `NEPTUN_SOAK_SECONDS` sets the length (CI runs a short one;
//! `NEPTUN_SOAK_SECONDS=60 scripts/test --test soak -- --nocapture` is the long run).

use crate::common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::dynamo::{Outage, assert_claims_consistent, emulator_port};
use common::*;
use neptun_users::aws::OPERATION_TIMEOUT;
use neptun_users::clock::unix_now_ms;
use neptun_users::domain::UserId;
use neptun_users::password::verify;
use neptun_users::store::{DynamoStore, UserStore};
use serde_json::json;

const USERS: u64 = 8;
const SHARED_ADDRESSES: u64 = 4;

/// What one user's worker saw: everything a 200 confirmed, and what a 500 left uncertain.
#[derive(Default)]
struct Ledger {
    email: String,
    password: String,
    /// The session version, exact while nothing is uncertain.
    version: u64,
    /// Attempts answered 500 since the last confirmation: they may or may not have landed.
    uncertain_emails: Vec<String>,
    uncertain_passwords: Vec<String>,
    statuses: std::collections::BTreeMap<u16, u64>,
    latencies_ms: Vec<f64>,
    slowest_500_ms: f64,
}

/// The reasons the server logged for store failures (never SDK text, by design).
fn store_errors() -> Vec<String> {
    captured_logs()
        .lines()
        .filter(|line| line.contains("store unavailable"))
        .map(str::to_owned)
        .collect()
}

/// A small deterministic generator, so a failing run can be replayed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sustained_mixed_load_with_an_outage_keeps_every_invariant() {
    let Some(direct) = fresh_dynamo_store().await else {
        return;
    };
    let seconds: u64 = std::env::var("NEPTUN_SOAK_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(12);
    let upstream = emulator_port();
    let outage = Arc::new(Outage::start(upstream).await);
    let store = DynamoStore::with_client(dynamo_client_at(outage.port).await, direct.table());
    let app = Arc::new(spawn_app_over(config(&[]), Arc::new(store), None).await);
    let mut users = Vec::new();
    for i in 0..USERS {
        users.push(
            app.seed(
                &format!("soak{i}@example.com"),
                &format!("initial-password-{i}"),
            )
            .await,
        );
    }

    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let outage_from = Duration::from_secs(seconds * 2 / 5);
    let outage_for = Duration::from_secs(2);
    let chaos = {
        let outage = outage.clone();
        tokio::spawn(async move {
            tokio::time::sleep(outage_from).await;
            outage.cut();
            tokio::time::sleep(outage_for).await;
            outage.restore();
        })
    };
    // A 500 is allowed from the cut until every request in flight at the restore has ended.
    let outage_window =
        outage_from..outage_from + outage_for + OPERATION_TIMEOUT + Duration::from_secs(1);

    let workers = users.into_iter().enumerate().map(|(i, user)| {
        let app = app.clone();
        let direct = direct.clone();
        let outage_window = outage_window.clone();
        tokio::spawn(async move {
            let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (i as u64 + 1));
            let mut ledger = Ledger {
                email: user.email.clone(),
                password: format!("initial-password-{i}"),
                ..Ledger::default()
            };
            let mut cookie = user.cookie.clone();
            let mut n = 0;
            while Instant::now() < deadline {
                n += 1;
                let roll = rng.below(10);
                let (body, email, password) = match roll {
                    0..=2 => {
                        let address = format!("shared{}@example.com", rng.below(SHARED_ADDRESSES));
                        (json!({ "email": address }).to_string(), Some(address), None)
                    }
                    3..=4 => {
                        let address = format!("soak{i}-{n}@example.com");
                        (json!({ "email": address }).to_string(), Some(address), None)
                    }
                    5..=6 => {
                        let password = format!("password-{i}-{n}");
                        (
                            json!({ "password": password }).to_string(),
                            None,
                            Some(password),
                        )
                    }
                    7 => (r#"{"email":"not an address"}"#.to_owned(), None, None),
                    8 => ("{".to_owned(), None, None),
                    _ => (r#"{"email":5}"#.to_owned(), None, None),
                };
                let sent = Instant::now();
                let response = app.patch(user.id, &cookie, &body).await;
                let took = sent.elapsed();
                ledger.latencies_ms.push(took.as_secs_f64() * 1e3);
                *ledger.statuses.entry(response.status).or_default() += 1;
                assert!(
                    took < OPERATION_TIMEOUT + Duration::from_secs(2),
                    "no hung request: {took:?}"
                );
                match response.status {
                    200 => {
                        cookie = response.session_cookie();
                        let session = app.keys.verify([cookie.as_str()], unix_now_ms()).expect("a valid cookie");
                        if let Some(email) = email {
                            ledger.email = email;
                        }
                        if let Some(password) = password {
                            // The version moved on: no earlier uncertain write can land now.
                            ledger.password = password;
                            ledger.uncertain_passwords.clear();
                            ledger.uncertain_emails.clear();
                        }
                        ledger.version = session.session.version.expect("a signed session has a version");
                    }
                    400 => assert!(roll >= 7, "only the bad bodies are refused: {response:?}"),
                    409 => assert!(roll <= 2, "only shared addresses are contested: {response:?}"),
                    401 => {
                        // Only a password change that answered 500 yet landed (perhaps after
                        // later email changes) revokes this cookie.
                        assert!(
                            !ledger.uncertain_passwords.is_empty(),
                            "user {} at {:?}: 401 with nothing uncertain after {body}; store errors: {:?}",
                            user.id,
                            sent - started,
                            store_errors()
                        );
                        let stored = direct.get_user(UserId::new(user.id).unwrap()).await.unwrap().unwrap();
                        let most = ledger.version + ledger.uncertain_passwords.len() as u64;
                        assert!((ledger.version + 1..=most).contains(&stored.session_version), "version {} beyond {most}", stored.session_version);
                        let landed = ledger.uncertain_passwords.iter().find(|p| verify(p, stored.password_hash.as_ref().unwrap()));
                        ledger.password = landed.expect("the stored hash is one of the uncertain passwords").clone();
                        let emails: Vec<&String> = std::iter::once(&ledger.email).chain(&ledger.uncertain_emails).collect();
                        assert!(emails.iter().any(|e| e.as_str() == stored.email.as_str()), "stored {} not in {emails:?}", stored.email);
                        ledger.email = stored.email.as_str().to_owned();
                        ledger.version = stored.session_version;
                        ledger.uncertain_passwords.clear();
                        ledger.uncertain_emails.clear();
                        cookie = app.cookie_for(user.id, stored.email.as_str(), stored.session_version);
                    }
                    500 => {
                        assert_eq!(response.json()["message"], "Internal server error.");
                        let at = sent - started;
                        assert!(
                            outage_window.contains(&started.elapsed()) || outage_window.contains(&at),
                            "500 at {at:?}, outside the outage {outage_window:?}; store errors: {:?}",
                            store_errors()
                        );
                        ledger.slowest_500_ms = ledger.slowest_500_ms.max(took.as_secs_f64() * 1e3);
                        ledger.uncertain_emails.extend(email);
                        ledger.uncertain_passwords.extend(password);
                    }
                    other => panic!("unexpected status {other}: {response:?}"),
                }
            }
            (user, ledger)
        })
    });
    let results = futures::future::join_all(workers).await;
    chaos.await.unwrap();

    let mut statuses = std::collections::BTreeMap::new();
    let mut latencies = Vec::new();
    let mut slowest_500 = 0.0_f64;
    for result in results {
        let (user, ledger) = result.unwrap();
        let stored = direct
            .get_user(UserId::new(user.id).unwrap())
            .await
            .unwrap()
            .unwrap();
        let emails: Vec<&String> = std::iter::once(&ledger.email)
            .chain(&ledger.uncertain_emails)
            .collect();
        assert!(
            emails.iter().any(|e| e.as_str() == stored.email.as_str()),
            "user {}: stored {} not in {emails:?}",
            user.id,
            stored.email
        );
        let passwords: Vec<&String> = std::iter::once(&ledger.password)
            .chain(&ledger.uncertain_passwords)
            .collect();
        assert!(
            passwords
                .iter()
                .any(|p| verify(p, stored.password_hash.as_ref().unwrap())),
            "user {}: the hash verifies the last accepted password",
            user.id
        );
        let least = ledger.version;
        let most = least + ledger.uncertain_passwords.len() as u64;
        assert!(
            (least..=most).contains(&stored.session_version),
            "user {}: version {} not in {least}..={most}",
            user.id,
            stored.session_version
        );
        for (status, count) in ledger.statuses {
            *statuses.entry(status).or_insert(0) += count;
        }
        latencies.extend(ledger.latencies_ms);
        slowest_500 = slowest_500.max(ledger.slowest_500_ms);
    }
    assert_eq!(assert_claims_consistent(&direct).await, USERS as usize);
    assert!(
        statuses.get(&200).copied().unwrap_or(0) > 0,
        "the load did useful work: {statuses:?}"
    );
    latencies.sort_by(f64::total_cmp);
    let p = |q: f64| latencies[((q * latencies.len() as f64) as usize).min(latencies.len() - 1)];
    eprintln!(
        "soak: {seconds} s, {} requests, statuses {statuses:?}, latency p50 {:.1} ms p99 {:.1} ms max {:.1} ms, slowest 500 {slowest_500:.0} ms",
        latencies.len(),
        p(0.5),
        p(0.99),
        latencies[latencies.len() - 1],
    );
}
