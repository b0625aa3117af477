//! The event store on DynamoDB: `BatchWriteItem` of event and catalogue items, handing back
//! whatever DynamoDB left unprocessed.

use std::collections::HashMap;

use audit_domain::ports::{EventStore, Record, StoreError};
use aws_sdk_dynamodb::types::{AttributeValue, PutRequest, WriteRequest};
use aws_sdk_dynamodb::Client;

use crate::error::{rejected, store_error};

#[derive(Clone, Debug)]
pub struct DynamoStore {
    client: Client,
    table: String,
}

impl DynamoStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    pub fn from_sdk(sdk: &aws_config::SdkConfig, table: impl Into<String>) -> Self {
        Self::new(crate::endpoint::dynamodb_client(sdk), table)
    }
}

type Item = HashMap<String, AttributeValue>;

fn to_item(record: &Record) -> Result<Item, StoreError> {
    let item = match record {
        Record::Event(r) => serde_dynamo::to_item(r),
        Record::Name(r) => serde_dynamo::to_item(r),
    };
    item.map_err(rejected("mapping a record to an item"))
}

fn key_of(item: &Item) -> Option<(String, String)> {
    match (item.get("pk"), item.get("sk")) {
        (Some(AttributeValue::S(pk)), Some(AttributeValue::S(sk))) => {
            Some((pk.clone(), sk.clone()))
        }
        _ => None,
    }
}

impl EventStore for DynamoStore {
    async fn write(&self, records: Vec<Record>) -> Result<Vec<Record>, StoreError> {
        if records.is_empty() {
            return Ok(Vec::new());
        }
        let mut requests = Vec::with_capacity(records.len());
        for record in &records {
            let put = PutRequest::builder()
                .set_item(Some(to_item(record)?))
                .build()
                .map_err(rejected("DynamoDB BatchWriteItem"))?;
            requests.push(WriteRequest::builder().put_request(put).build());
        }
        let output = self
            .client
            .batch_write_item()
            .request_items(&self.table, requests)
            .send()
            .await
            .map_err(store_error("DynamoDB BatchWriteItem"))?;

        let unprocessed = output
            .unprocessed_items
            .unwrap_or_default()
            .remove(&self.table)
            .unwrap_or_default();
        if unprocessed.is_empty() {
            return Ok(Vec::new());
        }
        // Hand back our own records for the keys DynamoDB did not process.
        let mut by_key: HashMap<(String, String), Record> = records
            .into_iter()
            .map(|r| {
                let (pk, sk) = r.key();
                ((pk.to_owned(), sk.to_owned()), r)
            })
            .collect();
        Ok(unprocessed
            .iter()
            .filter_map(|w| w.put_request.as_ref().and_then(|p| key_of(&p.item)))
            .filter_map(|key| by_key.remove(&key))
            .collect())
    }
}
