//! When the store fails: unreachable, or slower than the request deadline; a write cut off by
//! the deadline lands whole or not at all.

use crate::common;

use common::*;
use neptun_users::password;
use serde_json::json;

#[tokio::test]
async fn a_store_that_cannot_be_reached_gets_500_without_details() {
    // A real DynamoDB client pointed at a port where nothing listens.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let store = unreachable_dynamo_store(port).await;
    let app = spawn_app_over(config(&[]), std::sync::Arc::new(store), None).await;
    let cookie = app.cookie_for(1, "a@example.com", 1);

    let started = std::time::Instant::now();
    let response = app.patch(1, &cookie, r#"{"email":"b@example.com"}"#).await;

    assert_eq!(
        (response.status, response.json()),
        (500, error_body(500, "Internal server error.", None))
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "bounded: {:?}",
        started.elapsed()
    );
    // Logged once, on the request's own line, with its cause (the operation, never SDK text).
    let request_id = response.header("x-request-id").expect("an X-Request-Id");
    let lines = logged("request", request_id);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(
        (
            &lines[0]["level"],
            &lines[0]["status"],
            &lines[0]["outcome"]
        ),
        (&json!("ERROR"), &json!(500), &json!("internal"))
    );
    let cause = lines[0]["cause"].as_str().unwrap_or_default();
    assert!(
        cause == "store unavailable: TransactWriteItems: DynamoDB unreachable",
        "{cause}"
    );
    let without_a_request = captured_logs()
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|line| {
            line.to_string().contains("store unavailable") && line["request_id"].is_null()
        })
        .count();
    assert_eq!(
        without_a_request, 0,
        "no line logs a failure apart from its request"
    );
}

#[tokio::test]
async fn a_request_past_its_deadline_gets_500_while_the_store_still_retries() {
    // Every DynamoDB call answers after 1.9 s with a retryable failure: left alone, the SDK's
    // and the store's retries would take far longer than the deadline.
    let dynamo = common::slow_dynamo::SlowDynamo::start().await;
    let store = unreachable_dynamo_store(dynamo.port).await;
    let app = spawn_app_over(
        config(&[("REQUEST_DEADLINE_MS", "3000")]),
        std::sync::Arc::new(store),
        None,
    )
    .await;
    let cookie = app.cookie_for(1, "a@example.com", 1);

    let started = std::time::Instant::now();
    let response = app.patch(1, &cookie, r#"{"email":"b@example.com"}"#).await;
    let elapsed = started.elapsed();

    assert_eq!(
        (response.status, response.json()),
        (500, error_body(500, "Internal server error.", None))
    );
    assert_eq!(
        response.text,
        r#"{"statusCode":500,"statusMessage":"Internal Server Error.","message":"Internal server error."}"#
    );
    assert!(
        elapsed >= std::time::Duration::from_millis(2_900)
            && elapsed < std::time::Duration::from_millis(4_000),
        "answered at the 3 s deadline: {elapsed:?}"
    );
    assert!(
        dynamo.calls() >= 2,
        "the store was still retrying when the deadline passed: {} calls",
        dynamo.calls()
    );
}

/// A memory store whose updates wait `before` the write and `after` it (an answer lost on
/// the way back).
struct SlowStore {
    inner: std::sync::Arc<neptun_users::store::MemoryStore>,
    before: std::time::Duration,
    after: std::time::Duration,
}

#[async_trait::async_trait]
impl neptun_users::UserStore for SlowStore {
    async fn create_user(
        &self,
        email: &neptun_users::domain::Email,
        hash: &password::PasswordHash,
        now: i64,
        floor: neptun_users::domain::UserId,
    ) -> Result<neptun_users::store::StoredUser, neptun_users::StoreError> {
        self.inner.create_user(email, hash, now, floor).await
    }

    async fn update_user(
        &self,
        patch: &neptun_users::store::UserPatch,
    ) -> Result<neptun_users::store::Updated, neptun_users::StoreError> {
        tokio::time::sleep(self.before).await;
        let updated = self.inner.update_user(patch).await;
        tokio::time::sleep(self.after).await;
        updated
    }

    async fn get_user(
        &self,
        id: neptun_users::domain::UserId,
    ) -> Result<Option<neptun_users::store::StoredUser>, neptun_users::StoreError> {
        self.inner.get_user(id).await
    }

    async fn import_user(
        &self,
        user: &neptun_users::store::StoredUser,
    ) -> Result<neptun_users::store::Imported, neptun_users::StoreError> {
        self.inner.import_user(user).await
    }

    async fn find_user_id(
        &self,
        email: &neptun_users::domain::Email,
    ) -> Result<Option<neptun_users::domain::UserId>, neptun_users::StoreError> {
        self.inner.find_user_id(email).await
    }

    async fn reserve_attempt(
        &self,
        id: Option<neptun_users::domain::UserId>,
        kind: neptun_users::store::AttemptKind<'_>,
        now_ms: i64,
    ) -> Result<neptun_users::store::StoredUser, neptun_users::StoreError> {
        self.inner.reserve_attempt(id, kind, now_ms).await
    }

    async fn sign_in(
        &self,
        signed_in: &neptun_users::store::SignedIn,
    ) -> Result<neptun_users::store::StoredUser, neptun_users::StoreError> {
        self.inner.sign_in(signed_in).await
    }

    async fn reserve_ids_through(
        &self,
        id: neptun_users::domain::UserId,
    ) -> Result<(), neptun_users::StoreError> {
        self.inner.reserve_ids_through(id).await
    }
}

#[tokio::test]
async fn a_write_cut_off_by_the_deadline_has_landed_whole_or_not_at_all() {
    use std::time::Duration;
    let long = Duration::from_secs(3);
    let cases = [
        (
            "the store is slow to write",
            long,
            Duration::ZERO,
            "a@example.com",
        ),
        (
            "the store's answer is slow to come back",
            Duration::ZERO,
            long,
            "b@example.com",
        ),
    ];
    for (why, before, after, stored_email) in cases {
        let memory = std::sync::Arc::new(neptun_users::store::MemoryStore::new());
        let store = SlowStore {
            inner: memory.clone(),
            before,
            after,
        };
        let app = spawn_app_over(
            config(&[("REQUEST_DEADLINE_MS", "800")]),
            std::sync::Arc::new(store),
            Some(memory.clone()),
        )
        .await;
        let user = app.seed("a@example.com", "seeded-password-1").await;

        let started = std::time::Instant::now();
        let response = app
            .patch(
                user.id,
                &user.cookie,
                r#"{"email":"b@example.com","password":"changed-password-1"}"#,
            )
            .await;

        assert_eq!(
            (response.status, response.json()),
            (500, error_body(500, "Internal server error.", None)),
            "{why}"
        );
        assert!(started.elapsed() < long, "{why}: {:?}", started.elapsed());
        // Give a write that was still pending every chance to land, then look behind.
        tokio::time::sleep(Duration::from_millis(100)).await;
        let stored = app.stored(user.id).await;
        let landed = stored.email.as_str() == "b@example.com";
        assert_eq!(stored.email.as_str(), stored_email, "{why}");
        assert_eq!(
            password::verify("changed-password-1", stored.password_hash.as_ref().unwrap()),
            landed,
            "{why}: the password landed with the email or not at all"
        );
        assert_eq!(stored.session_version, 1 + u64::from(landed), "{why}");
        assert_eq!(
            memory.claims(),
            [(
                stored_email.to_owned(),
                neptun_users::domain::UserId::new(user.id).unwrap()
            )],
            "{why}: exactly the stored address is claimed"
        );
    }
}
