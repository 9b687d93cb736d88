//! `DynamoStore`: users and their email claims in one DynamoDB table.
//!
//! Layout (key attribute `pk`, a string; no sort key):
//!
//! | item | `pk` | attributes |
//! | --- | --- | --- |
//! | user | `USER#<id>` | `email`, `email_lower`, `password_hash` (absent for a user without a password), `session_version`, `created_at`, `updated_at` (Unix seconds), `password_changed_at_ms`; the `current_password` attempt window `attempts`, `attempts_window_start_ms`, `attempts_by_session` (a map: session id → count); the sign-in attempt window `sign_in_attempts`, `sign_in_window_start_ms` (times in Unix milliseconds) |
//! | email claim | `EMAIL#<lower-cased address>` | `user_id` |
//! | id counter | `COUNTER#users` | `last_id` |
//!
//! An update is one call: `UpdateItem` when the address stays the same (case changes
//! included), else one `TransactWriteItems` that updates the user, claims the new address with
//! `attribute_not_exists(pk)` and releases the old claim. The conditions check that the user
//! exists and that the caller's session is still valid (its version equals the stored one, or,
//! for a session without a version, it logged in no earlier than `password_changed_at_ms`);
//! `ReturnValuesOnConditionCheckFailure` hands
//! back the old user item so a failure is told apart without another read.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_config::{Region, SdkConfig};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, Delete, KeySchemaElement, KeyType, Put,
    ReturnValue, ReturnValuesOnConditionCheckFailure, ScalarAttributeType, TransactWriteItem,
    Update,
};

use super::{
    AttemptKind, Attempts, Imported, SignedIn, StoreError, StoredUser, Updated, UserPatch,
    UserStore,
};
use crate::aws::{self, command_line_sdk_config};
use crate::domain::{Email, SessionCheck, UserId};
use crate::password::PasswordHash;

/// The table's only key attribute (a string partition key). `template.yaml` declares the same.
pub const KEY_ATTRIBUTE: &str = "pk";

/// How often a transaction cancelled only by a concurrent transaction is tried again.
const CONFLICT_RETRIES: u32 = 3;
/// How often a sign-up reads the id counter and tries its transaction: concurrent sign-ups
/// move the counter under each other, and all but one try again.
const SIGN_UP_TRIES: u32 = 10;

/// Users in a DynamoDB table.
#[derive(Clone)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

/// What a failed condition revealed about the user item.
enum Refusal {
    Store(StoreError),
    /// The caller's copy of the email is stale; this is the stored one.
    StaleEmail(String),
    /// A concurrent transaction touched the same items.
    Conflict,
    /// The condition failed because this very update already landed: the SDK retried an
    /// attempt whose answer was lost. The stored item says what it wrote.
    AlreadyApplied(Updated),
}

impl DynamoStore {
    /// The command line's store: the SDK configuration and client built once, from the
    /// environment and the shared profile files (region, credentials,
    /// `AWS_ENDPOINT_URL_DYNAMODB` / `AWS_ENDPOINT_URL`), with bounded timeouts and standard
    /// retries. Fails when no region is configured.
    pub async fn from_env(table: &str) -> Result<Self, StoreError> {
        Ok(Self::new(&command_line_sdk_config().await?, table))
    }

    /// A client built from `sdk_config` (see `aws::command_line_sdk_config`), on `table`.
    pub fn new(sdk_config: &SdkConfig, table: &str) -> Self {
        Self::with_client(Client::new(sdk_config), table)
    }

    /// Wraps an existing client (tests add interceptors to count calls).
    pub fn with_client(client: Client, table: &str) -> Self {
        Self {
            client,
            table: table.to_owned(),
        }
    }

    /// The SDK client (tests scan the table with it; `test-util` feature).
    #[cfg(feature = "test-util")]
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// The region the client was built for, for start-up messages.
    pub fn region(&self) -> Option<Region> {
        self.client.config().region().cloned()
    }

    /// Creates the table (on-demand, key `pk`) and waits until it is active. An existing
    /// table is left as it is.
    pub async fn create_table(&self) -> Result<bool, StoreError> {
        let created = self
            .client
            .create_table()
            .table_name(&self.table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(KEY_ATTRIBUTE)
                    .attribute_type(ScalarAttributeType::S)
                    .build()
                    .map_err(unavailable)?,
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name(KEY_ATTRIBUTE)
                    .key_type(KeyType::Hash)
                    .build()
                    .map_err(unavailable)?,
            )
            .send()
            .await;
        match created {
            Ok(_) => {}
            Err(error) if error.code() == Some("ResourceInUseException") => return Ok(false),
            Err(error) => return Err(sdk_failure("CreateTable", &error)),
        }
        for _ in 0..60 {
            let table = self
                .client
                .describe_table()
                .table_name(&self.table)
                .send()
                .await;
            let status = table
                .ok()
                .and_then(|t| t.table)
                .and_then(|t| t.table_status)
                .map(|s| s.as_str().to_owned());
            if status.as_deref() == Some("ACTIVE") {
                return Ok(true);
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        Err(StoreError::Unavailable(
            "table did not become active".into(),
        ))
    }

    /// The id counter's value (0 before the first user), read strongly consistent.
    async fn last_id(&self) -> Result<Option<u64>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(KEY_ATTRIBUTE, s(COUNTER_KEY))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_failure("GetItem", &e))?;
        Ok(output.item().and_then(|item| number(item, "last_id")))
    }

    /// An UpdateItem on the item at `key`, to be given its expressions and sent with
    /// [`send_conditional_update`]: it answers with the item as written, or, when its condition
    /// fails, with the item as it stood, so no update needs a second call to learn its outcome.
    fn conditional_update(&self, key: &str) -> UpdateItemFluentBuilder {
        self.client
            .update_item()
            .table_name(&self.table)
            .key(KEY_ATTRIBUTE, s(key))
            .return_values(ReturnValue::AllNew)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
    }

    /// The item that claims `email` for `id`, written only if nobody holds the address.
    fn claim(&self, email: &Email, id: UserId) -> Result<Put, StoreError> {
        Put::builder()
            .table_name(&self.table)
            .item(KEY_ATTRIBUTE, s(&email_key(&email.normalized())))
            .item("user_id", n(id.get()))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(unavailable)
    }

    /// One transaction: the user item if its id is free, and the claim on its address if
    /// nobody holds it. A failed user condition returns the stored item, to tell an unchanged
    /// import from another record.
    async fn put_user_and_claim(&self, user: &StoredUser) -> Result<(), Cancelled> {
        let put_user = Put::builder()
            .table_name(&self.table)
            .set_item(Some(user_item(user)))
            .condition_expression("attribute_not_exists(pk)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(|e| Cancelled::Failed(unavailable(e)))?;
        let claim = self
            .claim(&user.email, user.id)
            .map_err(Cancelled::Failed)?;
        cancellation(
            self.client
                .transact_write_items()
                .transact_items(TransactWriteItem::builder().put(put_user).build())
                .transact_items(TransactWriteItem::builder().put(claim).build())
                .send()
                .await,
        )
    }

    /// One attempt at the patch, given the address the caller believes is stored.
    async fn try_update(&self, patch: &UserPatch, known_email: &str) -> Result<Updated, Refusal> {
        let known_lower = known_email.to_ascii_lowercase();
        let new_address = patch
            .email
            .as_ref()
            .filter(|e| e.normalized() != known_lower);
        let mut update = UserUpdateExpression::new(patch, known_lower.clone());
        match new_address {
            None => {
                let update = self
                    .conditional_update(&user_key(patch.id))
                    .update_expression(update.expression())
                    .condition_expression(update.condition())
                    .set_expression_attribute_values(Some(update.take_values()));
                match send_conditional_update(update)
                    .await
                    .map_err(Refusal::Store)?
                {
                    UpdateAnswer::Written(item) => updated_from(&item).ok_or_else(|| {
                        Refusal::Store(StoreError::Unavailable("malformed user item".into()))
                    }),
                    UpdateAnswer::ConditionFailed(item) => {
                        Err(refusal_from_user(Some(&item), patch, &known_lower))
                    }
                }
            }
            Some(email) => {
                let id = patch.id;
                let user = Update::builder()
                    .table_name(&self.table)
                    .key(KEY_ATTRIBUTE, s(&user_key(id)))
                    .update_expression(update.expression())
                    .condition_expression(update.condition())
                    .set_expression_attribute_values(Some(update.take_values()))
                    .return_values_on_condition_check_failure(
                        ReturnValuesOnConditionCheckFailure::AllOld,
                    )
                    .build()
                    .map_err(|e| Refusal::Store(unavailable(e)))?;
                let claim = self.claim(email, id).map_err(Refusal::Store)?;
                let release = Delete::builder()
                    .table_name(&self.table)
                    .key(KEY_ATTRIBUTE, s(&email_key(&known_lower)))
                    .condition_expression("user_id = :id")
                    .expression_attribute_values(":id", n(id.get()))
                    .build()
                    .map_err(|e| Refusal::Store(unavailable(e)))?;
                let output = self
                    .client
                    .transact_write_items()
                    .transact_items(TransactWriteItem::builder().update(user).build())
                    .transact_items(TransactWriteItem::builder().put(claim).build())
                    .transact_items(TransactWriteItem::builder().delete(release).build())
                    .send()
                    .await;
                match cancellation(output) {
                    // A transaction returns no item: the version is known only from the
                    // condition it held to.
                    Ok(()) => Ok(Updated {
                        email: email.clone(),
                        session_version: match patch.session {
                            SessionCheck::Version(version) => Some(
                                version.saturating_add(u64::from(patch.password_hash.is_some())),
                            ),
                            SessionCheck::LoggedInAt(_) | SessionCheck::VersionOrLoggedInAt(..) => {
                                None
                            }
                        },
                    }),
                    Err(Cancelled::Condition(0, item)) => {
                        Err(refusal_from_user(item.as_ref(), patch, &known_lower))
                    }
                    Err(Cancelled::Condition(1, _)) => Err(Refusal::Store(StoreError::EmailTaken)),
                    Err(Cancelled::Condition(..)) => Err(Refusal::Store(StoreError::Unavailable(
                        "the old address's claim was not the user's".into(),
                    ))),
                    Err(Cancelled::Conflict) => Err(Refusal::Conflict),
                    Err(Cancelled::Failed(error)) => Err(Refusal::Store(error)),
                }
            }
        }
    }

    /// `updated`, with the session version the caller's refresh stamps. A transaction (an
    /// address change) returns nothing, so the version is known from the condition it held to
    /// when that was a version; for a session judged by its login time
    /// (`NUXT_UNSTAMPED_SESSIONS=accept`) it is read back, and used only while that session is
    /// still valid, so a password change that landed since is never stamped into it.
    async fn with_version(
        &self,
        patch: &UserPatch,
        updated: Updated,
    ) -> Result<Updated, StoreError> {
        if updated.session_version.is_some() {
            return Ok(updated);
        }
        let stored = self.get_user(patch.id).await?;
        Ok(Updated {
            session_version: stored
                .filter(|user| user.accepts(patch.session))
                .map(|user| user.session_version),
            ..updated
        })
    }

    /// One try at reserving an attempt: `open` starts a new window, else one more is counted
    /// into the open one. Either is one conditional `UpdateItem` that returns the user.
    async fn try_reserve(
        &self,
        key: &str,
        kind: &AttemptKind<'_>,
        now_ms: i64,
        open: bool,
    ) -> Result<StoredUser, Reservation> {
        let attributes = AttemptAttributes::of(kind);
        let mut names = HashMap::from([
            ("#count".to_owned(), attributes.count.to_owned()),
            ("#start".to_owned(), attributes.window_start.to_owned()),
        ]);
        let mut values = HashMap::from([
            (":one".to_owned(), n(1)),
            (
                ":floor".to_owned(),
                n(now_ms.saturating_sub(super::ATTEMPT_WINDOW_MS)),
            ),
        ]);
        let (per_user, per_session) = kind.limits();
        let mut conditions = vec!["attribute_exists(pk)".to_owned()];
        if let AttemptKind::CurrentPassword { session, .. } = kind {
            conditions.push(session_condition(*session, &mut values).to_owned());
        }
        let mut sets = Vec::new();
        if open {
            conditions.push("(attribute_not_exists(#start) OR #start <= :floor)".into());
            sets.extend(["#count = :one", "#start = :now"]);
            values.insert(":now".into(), n(now_ms));
        } else {
            conditions.push("#start > :floor AND #count < :per_user".into());
            sets.push("#count = #count + :one");
            values.insert(":per_user".into(), n(per_user));
        }
        if let (Some(sessions), Some((session_key, limit))) = (attributes.by_session, per_session) {
            names.insert("#sessions".into(), sessions.to_owned());
            if open {
                sets.push("#sessions = :first");
                values.insert(
                    ":first".into(),
                    AttributeValue::M(HashMap::from([(session_key.to_owned(), n(1))])),
                );
            } else {
                names.insert("#session".into(), session_key.to_owned());
                conditions.push(
                    "(attribute_not_exists(#sessions.#session) OR #sessions.#session < :per_session)"
                        .into(),
                );
                sets.push("#sessions.#session = if_not_exists(#sessions.#session, :zero) + :one");
                values.insert(":per_session".into(), n(limit));
                values.insert(":zero".into(), n(0));
            }
        }
        let update = self
            .conditional_update(key)
            .update_expression(format!("SET {}", sets.join(", ")))
            .condition_expression(conditions.join(" AND "))
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values));
        match send_conditional_update(update)
            .await
            .map_err(Reservation::Failed)?
        {
            UpdateAnswer::Written(item) => user_from_keyed(&item).ok_or_else(|| {
                Reservation::Failed(StoreError::Unavailable(
                    "UpdateItem: the reservation returned no user".into(),
                ))
            }),
            UpdateAnswer::ConditionFailed(item) => Err(Reservation::Refused(item)),
        }
    }
}

/// The attributes of a user item that hold one kind of attempt window.
struct AttemptAttributes {
    count: &'static str,
    window_start: &'static str,
    by_session: Option<&'static str>,
}

impl AttemptAttributes {
    fn of(kind: &AttemptKind<'_>) -> Self {
        match kind {
            AttemptKind::CurrentPassword { .. } => Self {
                count: "attempts",
                window_start: "attempts_window_start_ms",
                by_session: Some("attempts_by_session"),
            },
            AttemptKind::SignIn => Self {
                count: "sign_in_attempts",
                window_start: "sign_in_window_start_ms",
                by_session: None,
            },
        }
    }
}

/// The condition that `session` is still valid for the user item, with its values.
fn session_condition(
    session: SessionCheck,
    values: &mut HashMap<String, AttributeValue>,
) -> &'static str {
    match session {
        SessionCheck::Version(version) => {
            values.insert(":version".into(), n(version));
            "session_version = :version"
        }
        SessionCheck::LoggedInAt(login_ms) => {
            values.insert(":login".into(), n(login_ms));
            "(attribute_not_exists(password_changed_at_ms) OR password_changed_at_ms <= :login)"
        }
        SessionCheck::VersionOrLoggedInAt(version, login_ms) => {
            values.insert(":version".into(), n(version));
            values.insert(":login".into(), n(login_ms));
            "(session_version = :version OR attribute_not_exists(password_changed_at_ms) OR password_changed_at_ms <= :login)"
        }
    }
}

/// How a transaction ended when it did not commit.
enum Cancelled {
    /// The condition of the item at this index failed; with the old item where the request
    /// asked for it.
    Condition(usize, Option<HashMap<String, AttributeValue>>),
    /// A concurrent transaction touched the same items, or a retry met this one's first
    /// attempt still committing (the SDK's idempotency token makes the next try answer for it).
    Conflict,
    /// Anything else: the store is unavailable.
    Failed(StoreError),
}

/// Decodes a `TransactWriteItems` result, its cancellation reasons in one place.
fn cancellation(
    output: Result<
        aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsOutput,
        SdkError<TransactWriteItemsError, aws_sdk_dynamodb::config::http::HttpResponse>,
    >,
) -> Result<(), Cancelled> {
    let error = match output {
        Ok(_) => return Ok(()),
        Err(error) => error,
    };
    match error.as_service_error() {
        Some(TransactWriteItemsError::TransactionInProgressException(_)) => {
            Err(Cancelled::Conflict)
        }
        Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
            let reasons = cancelled.cancellation_reasons();
            if let Some(index) = reasons
                .iter()
                .position(|r| r.code() == Some("ConditionalCheckFailed"))
            {
                return Err(Cancelled::Condition(index, reasons[index].item().cloned()));
            }
            if reasons
                .iter()
                .any(|r| r.code() == Some("TransactionConflict"))
            {
                return Err(Cancelled::Conflict);
            }
            let codes: Vec<_> = reasons.iter().map(|r| r.code().unwrap_or("None")).collect();
            Err(Cancelled::Failed(StoreError::Unavailable(format!(
                "TransactWriteItems cancelled: {codes:?}"
            ))))
        }
        _ => Err(Cancelled::Failed(sdk_failure("TransactWriteItems", &error))),
    }
}

#[async_trait]
impl UserStore for DynamoStore {
    async fn create_user(
        &self,
        email: &Email,
        password_hash: &PasswordHash,
        now: i64,
        floor: UserId,
    ) -> Result<StoredUser, StoreError> {
        // The counter moves in the same transaction as the user and its claim, held to the
        // value read: a concurrent sign-up cancels one of the two, which reads again. No id
        // is ever spent on a sign-up that did not land.
        for attempt in 0..SIGN_UP_TRIES {
            let last = self.last_id().await?;
            let id = UserId::new(last.unwrap_or(0).max(floor.get() - 1) + 1)
                .ok_or_else(|| StoreError::Unavailable("user ids exhausted".into()))?;
            let user = StoredUser::new(id, email, Some(password_hash), now);
            let counter = Update::builder()
                .table_name(&self.table)
                .key(KEY_ATTRIBUTE, s(COUNTER_KEY))
                .update_expression("SET last_id = :id")
                .condition_expression(match last {
                    None => "attribute_not_exists(last_id)",
                    Some(_) => "last_id = :last",
                })
                .set_expression_attribute_values(Some(
                    [(":id", Some(id.get())), (":last", last)]
                        .into_iter()
                        .filter_map(|(name, value)| Some((name.to_owned(), n(value?))))
                        .collect(),
                ))
                .build()
                .map_err(unavailable)?;
            let put_user = Put::builder()
                .table_name(&self.table)
                .set_item(Some(user_item(&user)))
                .condition_expression("attribute_not_exists(pk)")
                .build()
                .map_err(unavailable)?;
            let output = self
                .client
                .transact_write_items()
                .transact_items(TransactWriteItem::builder().update(counter).build())
                .transact_items(TransactWriteItem::builder().put(put_user).build())
                .transact_items(
                    TransactWriteItem::builder()
                        .put(self.claim(email, id)?)
                        .build(),
                )
                .send()
                .await;
            match cancellation(output) {
                Ok(()) => return Ok(user),
                Err(Cancelled::Condition(2, _)) => return Err(StoreError::EmailTaken),
                // The counter moved (or a concurrent transaction held it): read it again.
                Err(Cancelled::Condition(0, _) | Cancelled::Conflict) => {}
                Err(Cancelled::Condition(..)) => {
                    return Err(StoreError::Unavailable(
                        "a new user's id was taken above the id counter".into(),
                    ));
                }
                Err(Cancelled::Failed(error)) => return Err(error),
            }
            // Sign-ups that collided wait apart, so they do not collide again in step.
            let jitter = u64::from(uuid::Uuid::new_v4().as_bytes()[0] % 16);
            tokio::time::sleep(Duration::from_millis(5 * u64::from(attempt) + jitter)).await;
        }
        Err(StoreError::Unavailable(
            "the id counter kept moving during a sign-up".into(),
        ))
    }

    async fn update_user(&self, patch: &UserPatch) -> Result<Updated, StoreError> {
        let mut known_email = patch.known_email.clone();
        let mut stale_retries = 1;
        let mut conflict_retries = CONFLICT_RETRIES;
        loop {
            match self.try_update(patch, &known_email).await {
                Ok(updated) | Err(Refusal::AlreadyApplied(updated)) => {
                    return self.with_version(patch, updated).await;
                }
                Err(Refusal::Store(error)) => return Err(error),
                Err(Refusal::StaleEmail(stored)) if stale_retries > 0 => {
                    stale_retries -= 1;
                    known_email = stored;
                }
                Err(Refusal::StaleEmail(_)) => {
                    return Err(StoreError::Unavailable(
                        "the user's email changed twice during one update".into(),
                    ));
                }
                Err(Refusal::Conflict) if conflict_retries > 0 => {
                    conflict_retries -= 1;
                    let backoff = 20 * u64::from(CONFLICT_RETRIES - conflict_retries);
                    tokio::time::sleep(Duration::from_millis(backoff)).await;
                }
                Err(Refusal::Conflict) => {
                    return Err(StoreError::Unavailable(
                        "transaction conflict persisted".into(),
                    ));
                }
            }
        }
    }

    async fn get_user(&self, id: UserId) -> Result<Option<StoredUser>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(KEY_ATTRIBUTE, s(&user_key(id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_failure("GetItem", &e))?;
        match output.item() {
            None => Ok(None),
            Some(item) => user_from(id, item)
                .map(Some)
                .ok_or_else(|| StoreError::Unavailable("malformed user item".into())),
        }
    }

    async fn import_user(&self, user: &StoredUser) -> Result<Imported, StoreError> {
        match self.put_user_and_claim(user).await {
            Ok(()) => Ok(Imported::Created),
            Err(Cancelled::Condition(0, stored)) => {
                match stored.and_then(|item| user_from(user.id, &item)) {
                    Some(stored) if stored.same_import(user) => Ok(Imported::Unchanged),
                    _ => Err(StoreError::IdTaken),
                }
            }
            Err(Cancelled::Condition(_, _)) => Err(StoreError::EmailTaken),
            Err(Cancelled::Conflict) => Err(StoreError::Unavailable(
                "a concurrent transaction touched the same user".into(),
            )),
            Err(Cancelled::Failed(error)) => Err(error),
        }
    }

    async fn find_user_id(&self, email: &Email) -> Result<Option<UserId>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(KEY_ATTRIBUTE, s(&email_key(&email.normalized())))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| sdk_failure("GetItem", &e))?;
        Ok(output
            .item()
            .and_then(|item| number(item, "user_id"))
            .and_then(UserId::new))
    }

    async fn reserve_attempt(
        &self,
        id: Option<UserId>,
        kind: AttemptKind<'_>,
        now_ms: i64,
    ) -> Result<StoredUser, StoreError> {
        // An unknown address's sign-in does the same work on a key no user has (ids start at
        // 1): the condition fails and nothing is written.
        let key = id.map_or_else(|| ABSENT_USER_KEY.to_owned(), user_key);
        // Most reservations open a window (a verified attempt closes it); the answer to a
        // failed condition says which form to try next, or why none can succeed. Either form
        // can lose a race to the other, hence the few tries.
        let mut open = true;
        for _ in 0..4 {
            let refused = match self.try_reserve(&key, &kind, now_ms, open).await {
                Ok(user) => return Ok(user),
                Err(Reservation::Failed(error)) => return Err(error),
                Err(Reservation::Refused(item)) => item,
            };
            let Some(user) = id
                .filter(|_| !refused.is_empty())
                .and_then(|id| user_from(id, &refused))
            else {
                return Err(StoreError::NotFound);
            };
            if let AttemptKind::CurrentPassword { session, .. } = kind
                && !user.accepts(session)
            {
                return Err(StoreError::Revoked);
            }
            let attempts = user.attempts(&kind);
            attempts
                .admit(&kind, now_ms)
                .map_err(|until_ms| StoreError::Locked { until_ms })?;
            open = attempts.open_until(now_ms).is_none();
        }
        Err(StoreError::Unavailable(
            "attempts: the window kept changing".into(),
        ))
    }

    async fn sign_in(&self, signed_in: &SignedIn) -> Result<StoredUser, StoreError> {
        let mut values =
            HashMap::from([(":verified".to_owned(), s(signed_in.verified_hash.as_str()))]);
        let mut expression = "REMOVE sign_in_attempts, sign_in_window_start_ms".to_owned();
        if let Some(rehash) = &signed_in.rehash {
            expression.push_str(" SET password_hash = :rehash");
            values.insert(":rehash".into(), s(rehash.as_str()));
        }
        let update = self
            .conditional_update(&user_key(signed_in.id))
            .update_expression(expression)
            .condition_expression("attribute_exists(pk) AND password_hash = :verified")
            .set_expression_attribute_values(Some(values));
        match send_conditional_update(update).await? {
            UpdateAnswer::Written(item) => user_from(signed_in.id, &item)
                .ok_or_else(|| StoreError::Unavailable("malformed user item".into())),
            UpdateAnswer::ConditionFailed(item) if item.is_empty() => Err(StoreError::NotFound),
            // The password changed since it was read: what was verified is no longer it.
            UpdateAnswer::ConditionFailed(_) => Err(StoreError::Revoked),
        }
    }

    async fn reserve_ids_through(&self, id: UserId) -> Result<(), StoreError> {
        let output = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(KEY_ATTRIBUTE, s(COUNTER_KEY))
            .update_expression("SET last_id = :id")
            .condition_expression("attribute_not_exists(last_id) OR last_id < :id")
            .expression_attribute_values(":id", n(id.get()))
            .send()
            .await;
        match output {
            Ok(_) => Ok(()),
            // The counter is already there or past it.
            Err(SdkError::ServiceError(service))
                if matches!(
                    service.err(),
                    UpdateItemError::ConditionalCheckFailedException(_)
                ) =>
            {
                Ok(())
            }
            Err(error) => Err(sdk_failure("UpdateItem", &error)),
        }
    }
}

/// The `SET` expression and condition of a user update, with exactly the values they use
/// (DynamoDB refuses unused values).
struct UserUpdateExpression {
    sets: Vec<&'static str>,
    removes: Vec<&'static str>,
    conditions: Vec<&'static str>,
    values: HashMap<String, AttributeValue>,
}

impl UserUpdateExpression {
    fn new(patch: &UserPatch, known_lower: String) -> Self {
        let mut this = Self {
            sets: vec!["updated_at = :now"],
            removes: Vec::new(),
            conditions: vec!["attribute_exists(pk)"],
            values: HashMap::from([(":now".to_owned(), n(patch.now_ms.div_euclid(1000)))]),
        };
        let session = session_condition(patch.session, &mut this.values);
        this.conditions.push(session);
        if let Some(email) = &patch.email {
            this.sets
                .extend(["email = :email", "email_lower = :email_lower"]);
            this.conditions.push("email_lower = :known_lower");
            this.values.insert(":email".into(), s(email.as_str()));
            this.values
                .insert(":email_lower".into(), s(&email.normalized()));
            this.values.insert(":known_lower".into(), s(&known_lower));
        }
        if let Some(hash) = &patch.password_hash {
            this.sets.extend([
                "password_hash = :hash",
                "password_changed_at_ms = :now_ms",
                "session_version = session_version + :one",
            ]);
            this.values.insert(":hash".into(), s(hash.as_str()));
            this.values.insert(":now_ms".into(), n(patch.now_ms));
            this.values.insert(":one".into(), n(1));
        }
        if let Some(rehash) = patch
            .rehash
            .as_ref()
            .filter(|_| patch.password_hash.is_none())
        {
            this.sets.push("password_hash = :hash");
            this.values.insert(":hash".into(), s(rehash.as_str()));
        }
        if let Some(verified) = &patch.verified_hash {
            this.conditions.push("password_hash = :verified");
            this.values.insert(":verified".into(), s(verified.as_str()));
            this.removes.extend([
                "attempts",
                "attempts_window_start_ms",
                "attempts_by_session",
            ]);
        }
        this
    }

    fn expression(&self) -> String {
        let mut expression = format!("SET {}", self.sets.join(", "));
        if !self.removes.is_empty() {
            expression.push_str(" REMOVE ");
            expression.push_str(&self.removes.join(", "));
        }
        expression
    }

    fn condition(&self) -> String {
        self.conditions.join(" AND ")
    }

    fn take_values(&mut self) -> HashMap<String, AttributeValue> {
        std::mem::take(&mut self.values)
    }
}

/// Tells a failed user condition apart from the old item DynamoDB returned.
fn refusal_from_user(
    item: Option<&HashMap<String, AttributeValue>>,
    patch: &UserPatch,
    known_lower: &str,
) -> Refusal {
    let Some(item) = item.filter(|item| !item.is_empty()) else {
        return Refusal::Store(StoreError::NotFound);
    };
    // Every password hash has its own random salt, so finding ours stored (with the version
    // it bumped) proves an earlier attempt of this same call wrote it.
    let bumped = match patch.session {
        SessionCheck::Version(version) => number(item, "session_version") == version.checked_add(1),
        SessionCheck::LoggedInAt(_) | SessionCheck::VersionOrLoggedInAt(..) => true,
    };
    if let Some(hash) = &patch.password_hash
        && string(item, "password_hash") == Some(hash.as_str())
        && bumped
        && let Some(updated) = updated_from(item)
        && patch
            .email
            .as_ref()
            .is_none_or(|e| e.as_str() == updated.email.as_str())
    {
        return Refusal::AlreadyApplied(updated);
    }
    let valid = user_from(patch.id, item).is_some_and(|user| user.accepts(patch.session));
    let verified_still_stored = patch
        .verified_hash
        .as_ref()
        .is_none_or(|verified| string(item, "password_hash") == Some(verified.as_str()));
    // (A user without a password has no hash to verify against: nothing is verified there.)
    if !valid || !verified_still_stored {
        return Refusal::Store(StoreError::Revoked);
    }
    match string(item, "email") {
        Some(stored) if stored.to_ascii_lowercase() != known_lower => {
            Refusal::StaleEmail(stored.to_owned())
        }
        _ => Refusal::Store(StoreError::Unavailable(
            "condition failed for no known reason".into(),
        )),
    }
}

fn user_item(user: &StoredUser) -> HashMap<String, AttributeValue> {
    let mut item = HashMap::from([
        (KEY_ATTRIBUTE.to_owned(), s(&user_key(user.id))),
        ("email".to_owned(), s(user.email.as_str())),
        ("email_lower".to_owned(), s(&user.email.normalized())),
        ("session_version".to_owned(), n(user.session_version)),
        ("created_at".to_owned(), n(user.created_at)),
        ("updated_at".to_owned(), n(user.updated_at)),
    ]);
    if let Some(hash) = &user.password_hash {
        item.insert("password_hash".to_owned(), s(hash.as_str()));
    }
    if let Some(at) = user.password_changed_at_ms {
        item.insert("password_changed_at_ms".to_owned(), n(at));
    }
    for kind in [
        AttemptKind::SignIn,
        AttemptKind::CurrentPassword {
            session: SessionCheck::Version(0),
            session_key: "",
        },
    ] {
        let attempts = user.attempts(&kind);
        let attributes = AttemptAttributes::of(&kind);
        if let Some(start) = attempts.window_start_ms {
            item.insert(attributes.count.to_owned(), n(attempts.count));
            item.insert(attributes.window_start.to_owned(), n(start));
            if let Some(name) = attributes.by_session {
                let sessions = attempts
                    .by_session
                    .iter()
                    .map(|(key, count)| (key.clone(), n(count)))
                    .collect();
                item.insert(name.to_owned(), AttributeValue::M(sessions));
            }
        }
    }
    item
}

fn user_from(id: UserId, item: &HashMap<String, AttributeValue>) -> Option<StoredUser> {
    Some(StoredUser {
        id,
        email: Email::from_stored(string(item, "email")?.to_owned()),
        password_hash: string(item, "password_hash")
            .map(|hash| PasswordHash::from_stored(hash.to_owned())),
        session_version: number(item, "session_version")?,
        created_at: number(item, "created_at")?,
        updated_at: number(item, "updated_at")?,
        password_changed_at_ms: number(item, "password_changed_at_ms"),
        current_password_attempts: attempts_from(item, "attempts", "attempts_window_start_ms")
            .with_sessions(item.get("attempts_by_session")),
        sign_in_attempts: attempts_from(item, "sign_in_attempts", "sign_in_window_start_ms"),
    })
}

/// [`user_from`], the id read from the item's own key.
fn user_from_keyed(item: &HashMap<String, AttributeValue>) -> Option<StoredUser> {
    let id = string(item, KEY_ATTRIBUTE)?
        .strip_prefix(USER_KEY_PREFIX)?
        .parse()
        .ok()
        .and_then(UserId::new)?;
    user_from(id, item)
}

/// One attempt window as stored: a count and the window's start, or none.
fn attempts_from(item: &HashMap<String, AttributeValue>, count: &str, start: &str) -> Attempts {
    Attempts {
        count: number(item, count).unwrap_or(0),
        window_start_ms: number(item, start),
        by_session: Default::default(),
    }
}

impl Attempts {
    /// With the per-session counts of a stored map.
    fn with_sessions(mut self, map: Option<&AttributeValue>) -> Self {
        if let Some(AttributeValue::M(map)) = map {
            self.by_session = map
                .iter()
                .filter_map(|(key, count)| Some((key.clone(), count.as_n().ok()?.parse().ok()?)))
                .collect();
        }
        self
    }
}

fn updated_from(item: &HashMap<String, AttributeValue>) -> Option<Updated> {
    Some(Updated {
        email: Email::from_stored(string(item, "email")?.to_owned()),
        session_version: Some(number(item, "session_version")?),
    })
}

/// A user key no user has (ids start at 1): where an unknown address's sign-in reserves its
/// attempt, so that it costs the same calls as a known one's and writes nothing.
const ABSENT_USER_KEY: &str = "USER#0";

/// A kind of partition key the code uses: a prefix followed by a value, or one fixed key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyPrefix {
    /// Every key that starts so, e.g. `USER#` for `USER#7`.
    Prefix(&'static str),
    /// Exactly this key.
    Exact(&'static str),
}

impl KeyPrefix {
    /// The `dynamodb:LeadingKeys` pattern (IAM `StringLike`) that allows these keys and no
    /// other: `USER#*`, or the fixed key itself.
    pub fn leading_keys_pattern(self) -> String {
        match self {
            Self::Prefix(prefix) => format!("{prefix}*"),
            Self::Exact(key) => key.to_owned(),
        }
    }
}

/// Users: `USER#<id>`.
pub(crate) const USER_KEY_PREFIX: &str = "USER#";
/// Address claims: `EMAIL#<normalized address>`.
pub(crate) const EMAIL_KEY_PREFIX: &str = "EMAIL#";
/// The id counter's one key.
pub(crate) const COUNTER_KEY: &str = "COUNTER#users";

/// Every kind of partition key the code reads or writes. `template.yaml` grants the
/// functions these and no other (`dynamodb:LeadingKeys`); tests/template.rs checks that the
/// two agree, and that every key written in this file is one of them.
pub const KEY_PREFIXES: [KeyPrefix; 3] = [
    KeyPrefix::Prefix(USER_KEY_PREFIX),
    KeyPrefix::Prefix(EMAIL_KEY_PREFIX),
    KeyPrefix::Exact(COUNTER_KEY),
];

/// `USER#<id>`.
pub(crate) fn user_key(id: UserId) -> String {
    format!("{USER_KEY_PREFIX}{id}")
}

/// `EMAIL#<normalized address>`.
pub(crate) fn email_key(normalized: &str) -> String {
    format!("{EMAIL_KEY_PREFIX}{normalized}")
}

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn string<'a>(item: &'a HashMap<String, AttributeValue>, name: &str) -> Option<&'a str> {
    item.get(name)?.as_s().ok().map(String::as_str)
}

fn number<T: std::str::FromStr>(item: &HashMap<String, AttributeValue>, name: &str) -> Option<T> {
    item.get(name)?.as_n().ok()?.parse().ok()
}

/// What a conditional UpdateItem answered, short of a failure.
enum UpdateAnswer {
    /// Written: the item as it now stands.
    Written(HashMap<String, AttributeValue>),
    /// Its condition failed: the item as it stood, empty when there was none.
    ConditionFailed(HashMap<String, AttributeValue>),
}

/// Sends an update made by [`DynamoStore::conditional_update`] and tells its answers apart.
async fn send_conditional_update(
    update: UpdateItemFluentBuilder,
) -> Result<UpdateAnswer, StoreError> {
    match update.send().await {
        Ok(output) => output
            .attributes
            .map(UpdateAnswer::Written)
            .ok_or_else(|| StoreError::Unavailable("UpdateItem returned no item".into())),
        Err(error) => match error.as_service_error() {
            Some(UpdateItemError::ConditionalCheckFailedException(failure)) => Ok(
                UpdateAnswer::ConditionFailed(failure.item().cloned().unwrap_or_default()),
            ),
            _ => Err(sdk_failure("UpdateItem", &error)),
        },
    }
}

/// A failure the SDK reported, as [`aws::failure`] tells it, after the operation's name.
fn sdk_failure<E: ProvideErrorMetadata, R>(operation: &str, error: &SdkError<E, R>) -> StoreError {
    StoreError::Unavailable(format!("{operation}: {}", aws::failure("DynamoDB", error)))
}

fn unavailable(error: impl std::error::Error) -> StoreError {
    StoreError::Unavailable(format!("request could not be built: {error}"))
}

/// Why one try at reserving an attempt did not return the user.
enum Reservation {
    /// The condition failed; the item as it was (empty when there is none).
    Refused(HashMap<String, AttributeValue>),
    /// DynamoDB could not be asked, or answered something else.
    Failed(StoreError),
}
