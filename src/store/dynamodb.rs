//! `DynamoStore`: users and their email claims in one DynamoDB table.
//!
//! Layout (key attribute `pk`, a string; no sort key):
//!
//! | item | `pk` | attributes |
//! | --- | --- | --- |
//! | user | `USER#<id>` | `email`, `email_lower`, `password_hash`, `session_version`, `created_at`, `updated_at` (Unix seconds), `password_changed_at_ms`, `failed_attempts`, `failed_window_start_ms` (Unix milliseconds) |
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
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, Delete, KeySchemaElement, KeyType, Put,
    ReturnValue, ReturnValuesOnConditionCheckFailure, ScalarAttributeType, TransactWriteItem,
    Update,
};

use super::{Imported, SessionCheck, StoreError, StoredUser, Updated, UserPatch, UserStore};
use crate::aws::{self, checked_sdk_config};
use crate::domain::{Email, UserId};
use crate::password::PasswordHash;

/// The table's only key attribute (a string partition key). `template.yaml` declares the same.
pub const KEY_ATTRIBUTE: &str = "pk";

/// How often a transaction cancelled only by a concurrent transaction is tried again.
const CONFLICT_RETRIES: u32 = 3;

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
    Landed(Updated),
}

impl DynamoStore {
    /// Builds the SDK configuration and client once, from the environment (region,
    /// credentials, `AWS_ENDPOINT_URL_DYNAMODB` / `AWS_ENDPOINT_URL`), with bounded timeouts
    /// and standard retries. Fails when no region is configured.
    pub async fn from_env(table: &str) -> Result<Self, StoreError> {
        Ok(Self::new(&checked_sdk_config().await?, table))
    }

    /// A client built from `sdk_config` (see [`checked_sdk_config`]), on `table`.
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

    async fn next_id(&self) -> Result<UserId, StoreError> {
        let output = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(KEY_ATTRIBUTE, s("COUNTER#users"))
            .update_expression("ADD last_id :one")
            .expression_attribute_values(":one", n(1))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(|e| sdk_failure("UpdateItem", &e))?;
        output
            .attributes()
            .and_then(|a| number(a, "last_id"))
            .and_then(UserId::new)
            .ok_or_else(|| StoreError::Unavailable("id counter returned no id".into()))
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
    async fn put_user_and_claim(
        &self,
        user: &StoredUser,
    ) -> Result<
        Result<
            aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsOutput,
            SdkError<TransactWriteItemsError, aws_sdk_dynamodb::config::http::HttpResponse>,
        >,
        StoreError,
    > {
        let put_user = Put::builder()
            .table_name(&self.table)
            .set_item(Some(user_item(user)))
            .condition_expression("attribute_not_exists(pk)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(unavailable)?;
        let claim = self.claim(&user.email, user.id)?;
        Ok(self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().put(put_user).build())
            .transact_items(TransactWriteItem::builder().put(claim).build())
            .send()
            .await)
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
                let output = self
                    .client
                    .update_item()
                    .table_name(&self.table)
                    .key(KEY_ATTRIBUTE, s(&user_key(patch.id)))
                    .update_expression(update.expression())
                    .condition_expression(update.condition())
                    .set_expression_attribute_values(Some(update.take_values()))
                    .return_values(ReturnValue::AllNew)
                    .return_values_on_condition_check_failure(
                        ReturnValuesOnConditionCheckFailure::AllOld,
                    )
                    .send()
                    .await;
                match output {
                    Ok(output) => {
                        let item = output.attributes().ok_or_else(|| {
                            Refusal::Store(StoreError::Unavailable(
                                "UpdateItem returned no item".into(),
                            ))
                        })?;
                        updated_from(item).ok_or_else(|| {
                            Refusal::Store(StoreError::Unavailable("malformed user item".into()))
                        })
                    }
                    Err(SdkError::ServiceError(service)) => match service.err() {
                        UpdateItemError::ConditionalCheckFailedException(failure) => {
                            Err(refusal_from_user(failure.item(), patch, &known_lower))
                        }
                        other => Err(Refusal::Store(service_failure("UpdateItem", other.code()))),
                    },
                    Err(error) => Err(Refusal::Store(sdk_failure("UpdateItem", &error))),
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
                match output {
                    // A transaction returns no item: the version is known only from the
                    // condition it held to.
                    Ok(_) => Ok(Updated {
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
                    // A retry of an attempt that is still committing: the SDK's idempotency
                    // token makes the next try answer for the first one.
                    Err(SdkError::ServiceError(service))
                        if matches!(
                            service.err(),
                            TransactWriteItemsError::TransactionInProgressException(_)
                        ) =>
                    {
                        Err(Refusal::Conflict)
                    }
                    Err(SdkError::ServiceError(service)) => match service.err() {
                        TransactWriteItemsError::TransactionCanceledException(cancelled) => {
                            let reasons = cancelled.cancellation_reasons();
                            let code = |i: usize| reasons.get(i).and_then(|r| r.code());
                            if code(0) == Some("ConditionalCheckFailed") {
                                let item = reasons.first().and_then(|r| r.item());
                                Err(refusal_from_user(item, patch, &known_lower))
                            } else if code(1) == Some("ConditionalCheckFailed") {
                                Err(Refusal::Store(StoreError::EmailTaken))
                            } else if reasons
                                .iter()
                                .any(|r| r.code() == Some("TransactionConflict"))
                            {
                                Err(Refusal::Conflict)
                            } else {
                                let codes: Vec<_> =
                                    reasons.iter().map(|r| r.code().unwrap_or("None")).collect();
                                Err(Refusal::Store(StoreError::Unavailable(format!(
                                    "TransactWriteItems cancelled: {codes:?}"
                                ))))
                            }
                        }
                        other => Err(Refusal::Store(service_failure(
                            "TransactWriteItems",
                            other.code(),
                        ))),
                    },
                    Err(error) => Err(Refusal::Store(sdk_failure("TransactWriteItems", &error))),
                }
            }
        }
    }
}

#[async_trait]
impl UserStore for DynamoStore {
    async fn create_user(
        &self,
        email: &Email,
        password_hash: &PasswordHash,
        now: i64,
    ) -> Result<StoredUser, StoreError> {
        let id = self.next_id().await?;
        let user = StoredUser::new(id, email, password_hash, now);
        let output = self.put_user_and_claim(&user).await?;
        match output {
            Ok(_) => Ok(user),
            Err(SdkError::ServiceError(service)) => match service.err() {
                TransactWriteItemsError::TransactionCanceledException(cancelled)
                    if cancelled
                        .cancellation_reasons()
                        .get(1)
                        .and_then(|r| r.code())
                        == Some("ConditionalCheckFailed") =>
                {
                    Err(StoreError::EmailTaken)
                }
                other => Err(service_failure("TransactWriteItems", other.code())),
            },
            Err(error) => Err(sdk_failure("TransactWriteItems", &error)),
        }
    }

    async fn update_user(&self, patch: &UserPatch) -> Result<Updated, StoreError> {
        let mut known_email = patch.known_email.clone();
        let mut stale_retries = 1;
        let mut conflict_retries = CONFLICT_RETRIES;
        loop {
            match self.try_update(patch, &known_email).await {
                Ok(updated) | Err(Refusal::Landed(updated)) => return Ok(updated),
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
        let output = self.put_user_and_claim(user).await?;
        let cancelled = match output {
            Ok(_) => return Ok(Imported::Created),
            Err(SdkError::ServiceError(service)) => match service.into_err() {
                TransactWriteItemsError::TransactionCanceledException(cancelled) => cancelled,
                other => return Err(service_failure("TransactWriteItems", other.code())),
            },
            Err(error) => return Err(sdk_failure("TransactWriteItems", &error)),
        };
        let reasons = cancelled.cancellation_reasons();
        let code = |i: usize| reasons.get(i).and_then(|r| r.code());
        if code(0) == Some("ConditionalCheckFailed") {
            let stored = reasons
                .first()
                .and_then(|r| r.item())
                .and_then(|item| user_from(user.id, item));
            return match stored {
                Some(stored) if stored.same_import(user) => Ok(Imported::Unchanged),
                _ => Err(StoreError::IdTaken),
            };
        }
        if code(1) == Some("ConditionalCheckFailed") {
            return Err(StoreError::EmailTaken);
        }
        let codes: Vec<_> = reasons.iter().map(|r| r.code().unwrap_or("None")).collect();
        Err(StoreError::Unavailable(format!(
            "TransactWriteItems cancelled: {codes:?}"
        )))
    }

    async fn record_failed_attempt(
        &self,
        id: UserId,
        now_ms: i64,
        window_ms: i64,
    ) -> Result<u32, StoreError> {
        let floor = now_ms.saturating_sub(window_ms);
        // Mostly one call: count into the open window. Only when it has closed does a second
        // call start a new one; either can lose a race to the other kind, hence the loop.
        for _ in 0..4 {
            let counted = self
                .client
                .update_item()
                .table_name(&self.table)
                .key(KEY_ATTRIBUTE, s(&user_key(id)))
                .update_expression(
                    "SET failed_attempts = if_not_exists(failed_attempts, :zero) + :one, failed_window_start_ms = if_not_exists(failed_window_start_ms, :now)",
                )
                .condition_expression(
                    "attribute_exists(pk) AND (attribute_not_exists(failed_window_start_ms) OR failed_window_start_ms > :floor)",
                )
                .expression_attribute_values(":zero", n(0))
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":now", n(now_ms))
                .expression_attribute_values(":floor", n(floor))
                .return_values(ReturnValue::UpdatedNew)
                .return_values_on_condition_check_failure(
                    ReturnValuesOnConditionCheckFailure::AllOld,
                )
                .send()
                .await;
            match counted {
                Ok(output) => return attempts_from(output.attributes()),
                Err(SdkError::ServiceError(service)) => match service.into_err() {
                    UpdateItemError::ConditionalCheckFailedException(failure)
                        if failure.item().is_none_or(HashMap::is_empty) =>
                    {
                        return Err(StoreError::NotFound);
                    }
                    UpdateItemError::ConditionalCheckFailedException(_) => {}
                    other => return Err(service_failure("UpdateItem", other.code())),
                },
                Err(error) => return Err(sdk_failure("UpdateItem", &error)),
            }
            let restarted = self
                .client
                .update_item()
                .table_name(&self.table)
                .key(KEY_ATTRIBUTE, s(&user_key(id)))
                .update_expression("SET failed_attempts = :one, failed_window_start_ms = :now")
                .condition_expression("attribute_exists(pk) AND failed_window_start_ms <= :floor")
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":now", n(now_ms))
                .expression_attribute_values(":floor", n(floor))
                .return_values(ReturnValue::UpdatedNew)
                .send()
                .await;
            match restarted {
                Ok(output) => return attempts_from(output.attributes()),
                Err(SdkError::ServiceError(service))
                    if matches!(
                        service.err(),
                        UpdateItemError::ConditionalCheckFailedException(_)
                    ) => {}
                Err(error) => return Err(sdk_failure("UpdateItem", &error)),
            }
        }
        Err(StoreError::Unavailable(
            "failed attempts: the window kept changing".into(),
        ))
    }

    async fn reserve_ids_through(&self, id: UserId) -> Result<(), StoreError> {
        let output = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(KEY_ATTRIBUTE, s("COUNTER#users"))
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
        match patch.session {
            SessionCheck::Version(version) => {
                this.conditions.push("session_version = :version");
                this.values.insert(":version".into(), n(version));
            }
            SessionCheck::LoggedInAt(login_ms) => {
                this.conditions.push(
                    "(attribute_not_exists(password_changed_at_ms) OR password_changed_at_ms <= :login)",
                );
                this.values.insert(":login".into(), n(login_ms));
            }
            SessionCheck::VersionOrLoggedInAt(version, login_ms) => {
                this.conditions.push(
                    "(session_version = :version OR attribute_not_exists(password_changed_at_ms) OR password_changed_at_ms <= :login)",
                );
                this.values.insert(":version".into(), n(version));
                this.values.insert(":login".into(), n(login_ms));
            }
        }
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
        if let Some(verified) = &patch.verified_hash {
            this.conditions.push("password_hash = :verified");
            this.values.insert(":verified".into(), s(verified.as_str()));
            this.removes
                .extend(["failed_attempts", "failed_window_start_ms"]);
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
        return Refusal::Landed(updated);
    }
    let valid = user_from(patch.id, item).is_some_and(|user| user.accepts(patch.session));
    let verified_still_stored = patch
        .verified_hash
        .as_ref()
        .is_none_or(|verified| string(item, "password_hash") == Some(verified.as_str()));
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
        ("password_hash".to_owned(), s(user.password_hash.as_str())),
        ("session_version".to_owned(), n(user.session_version)),
        ("created_at".to_owned(), n(user.created_at)),
        ("updated_at".to_owned(), n(user.updated_at)),
    ]);
    if let Some(at) = user.password_changed_at_ms {
        item.insert("password_changed_at_ms".to_owned(), n(at));
    }
    if let Some(start) = user.failed_window_start_ms {
        item.insert("failed_attempts".to_owned(), n(user.failed_attempts));
        item.insert("failed_window_start_ms".to_owned(), n(start));
    }
    item
}

fn user_from(id: UserId, item: &HashMap<String, AttributeValue>) -> Option<StoredUser> {
    Some(StoredUser {
        id,
        email: Email::from_stored(string(item, "email")?.to_owned()),
        password_hash: PasswordHash::from_stored(string(item, "password_hash")?.to_owned()),
        session_version: number(item, "session_version")?,
        created_at: number(item, "created_at")?,
        updated_at: number(item, "updated_at")?,
        password_changed_at_ms: number(item, "password_changed_at_ms"),
        failed_attempts: number(item, "failed_attempts").unwrap_or(0),
        failed_window_start_ms: number(item, "failed_window_start_ms"),
    })
}

fn updated_from(item: &HashMap<String, AttributeValue>) -> Option<Updated> {
    Some(Updated {
        email: Email::from_stored(string(item, "email")?.to_owned()),
        session_version: Some(number(item, "session_version")?),
    })
}

fn attempts_from(item: Option<&HashMap<String, AttributeValue>>) -> Result<u32, StoreError> {
    item.and_then(|item| number(item, "failed_attempts"))
        .ok_or_else(|| StoreError::Unavailable("UpdateItem returned no count".into()))
}

/// `USER#<id>`.
pub fn user_key(id: UserId) -> String {
    format!("USER#{id}")
}

/// `EMAIL#<normalized address>`.
pub fn email_key(normalized: &str) -> String {
    format!("EMAIL#{normalized}")
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

/// A failure the SDK reported, as [`aws::failure`] tells it, after the operation's name.
fn sdk_failure<E: ProvideErrorMetadata, R>(operation: &str, error: &SdkError<E, R>) -> StoreError {
    StoreError::Unavailable(format!("{operation}: {}", aws::failure("DynamoDB", error)))
}

fn service_failure(operation: &str, code: Option<&str>) -> StoreError {
    StoreError::Unavailable(format!("{operation}: {}", aws::service_error(code)))
}

fn unavailable(error: impl std::error::Error) -> StoreError {
    StoreError::Unavailable(format!("request could not be built: {error}"))
}
