//! API keys on DynamoDB, in the events table: the verification item `K#<key_id>` that a request's
//! `GetItem` finds, and the tenant's listing item `KT#<tenant>`/`<key_id>`. Creating writes both in
//! one transaction; revoking marks the verification item first (that is what takes effect) and
//! then the listing.

use std::collections::HashMap;

use audit_domain::auth::{KeyId, KeyInfo, KeyRecord};
use audit_domain::layout::{self, KeyItem};
use audit_domain::ports::KeyStore;
use audit_domain::ports::StoreError;
use audit_domain::{time, Tenant};
use aws_sdk_dynamodb::types::{AttributeValue, Put, ReturnValue, TransactWriteItem};
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Utc};

use crate::error::{rejected, store_error};

type Item = HashMap<String, AttributeValue>;

#[derive(Clone, Debug)]
pub struct DynamoKeys {
    client: Client,
    table: String,
}

impl DynamoKeys {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    pub fn from_sdk(sdk: &aws_config::SdkConfig, table: impl Into<String>) -> Self {
        Self::new(crate::endpoint::dynamodb_client(sdk), table)
    }

    /// Stores a new key: both items or neither. Fails rather than overwrite an existing id.
    pub async fn create(&self, record: &KeyRecord) -> Result<(), StoreError> {
        let put =
            |item: KeyItem, condition: Option<&str>| -> Result<TransactWriteItem, StoreError> {
                let put = Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(to_item(&item)?))
                    .set_condition_expression(condition.map(str::to_owned))
                    .build()
                    .map_err(rejected("DynamoDB TransactWriteItems (API key)"))?;
                Ok(TransactWriteItem::builder().put(put).build())
            };
        self.client
            .transact_write_items()
            .transact_items(put(
                KeyItem::verification(record),
                Some("attribute_not_exists(pk)"),
            )?)
            .transact_items(put(KeyItem::listing(&record.info), None)?)
            .send()
            .await
            .map_err(store_error("DynamoDB TransactWriteItems (API key)"))?;
        Ok(())
    }

    /// A tenant's keys, oldest id first; never their hashes.
    pub async fn list(&self, tenant: &Tenant) -> Result<Vec<KeyInfo>, StoreError> {
        let mut keys = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(
                    ":pk",
                    AttributeValue::S(layout::key_listing_pk(tenant)),
                )
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(store_error("DynamoDB Query (API keys)"))?;
            for item in page.items.unwrap_or_default() {
                keys.push(
                    from_item(item)?
                        .info()
                        .ok_or_else(|| unreadable("listing"))?,
                );
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                return Ok(keys);
            }
        }
    }

    /// Marks a key revoked at `at` (or keeps an earlier revocation). `None` if no such key exists.
    pub async fn revoke(
        &self,
        id: &KeyId,
        at: DateTime<Utc>,
    ) -> Result<Option<KeyInfo>, StoreError> {
        let updated = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(layout::key_pk(id)))
            .key("sk", AttributeValue::S(layout::KEY_SK.to_owned()))
            .update_expression("SET revoked_at = if_not_exists(revoked_at, :at)")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":at", AttributeValue::S(time::to_rfc3339(&at)))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        let attributes = match updated {
            Ok(output) => output.attributes.unwrap_or_default(),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                return Ok(None)
            }
            Err(error) => return Err(store_error("DynamoDB UpdateItem (API key)")(error)),
        };
        let info = from_item(attributes)?
            .info()
            .ok_or_else(|| unreadable("verification"))?;
        let revoked_at = info.revoked_at.unwrap_or(at);
        self.client
            .update_item()
            .table_name(&self.table)
            .key(
                "pk",
                AttributeValue::S(layout::key_listing_pk(&info.tenant)),
            )
            .key("sk", AttributeValue::S(id.as_str().to_owned()))
            .update_expression("SET revoked_at = :at")
            .expression_attribute_values(":at", AttributeValue::S(time::to_rfc3339(&revoked_at)))
            .send()
            .await
            .map_err(store_error("DynamoDB UpdateItem (API key)"))?;
        Ok(Some(info))
    }
}

impl KeyStore for DynamoKeys {
    /// One eventually consistent `GetItem` (0.5 RCU): a key created a moment ago may read as
    /// unknown for about a second, which the 5 s miss cache then remembers.
    async fn find(&self, id: &KeyId) -> Result<Option<KeyRecord>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", AttributeValue::S(layout::key_pk(id)))
            .key("sk", AttributeValue::S(layout::KEY_SK.to_owned()))
            .send()
            .await
            .map_err(store_error("DynamoDB GetItem (API key)"))?;
        match output.item {
            None => Ok(None),
            Some(item) => from_item(item)?
                .record()
                .map(Some)
                .ok_or_else(|| unreadable("verification")),
        }
    }
}

fn to_item(item: &KeyItem) -> Result<Item, StoreError> {
    serde_dynamo::to_item(item).map_err(rejected("mapping an API key to an item"))
}

fn from_item(item: Item) -> Result<KeyItem, StoreError> {
    serde_dynamo::from_item(item).map_err(rejected("reading an API key item"))
}

/// An item under a key prefix that this code did not write. Its content is not quoted: it may hold
/// a hash.
fn unreadable(which: &str) -> StoreError {
    StoreError::rejected(
        "reading an API key item",
        format!("a stored API key {which} item is unreadable"),
    )
}
