//! The checkpoints' copies in S3, under Object Lock in `COMPLIANCE` mode: one object per
//! checkpoint, `checkpoints/<tenant>/<size>`, holding `{"checkpoint": body, "signature": base64}`.
//! A re-signed checkpoint of the same size is a new version of the same key; Object Lock keeps
//! every version until its retention ends, so a rewritten table shows against these.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use audit_domain::ports::StoreError;
use audit_domain::seal::{archive_key, Archive, Signed};
use audit_domain::Tenant;
use aws_sdk_s3::primitives::{ByteStream, DateTime};
use aws_sdk_s3::types::ObjectLockMode;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{json, Value};

use crate::error::store_error;

#[derive(Clone, Debug)]
pub struct S3Archive {
    client: aws_sdk_s3::Client,
    bucket: Arc<str>,
    retention: Duration,
}

impl S3Archive {
    pub fn new(client: aws_sdk_s3::Client, bucket: &str, retention_days: u32) -> Self {
        Self {
            client,
            bucket: Arc::from(bucket),
            retention: Duration::from_secs(u64::from(retention_days) * 86_400),
        }
    }

    pub fn from_sdk(sdk: &aws_config::SdkConfig, bucket: &str, retention_days: u32) -> Self {
        Self::new(crate::endpoint::s3_client(sdk), bucket, retention_days)
    }

    pub fn bucket(&self) -> &str {
        &self.bucket
    }
}

impl Archive for S3Archive {
    async fn put(&self, tenant: &Tenant, size: u64, signed: &Signed) -> Result<(), StoreError> {
        let body = json!({
            "checkpoint": signed.body,
            "signature": STANDARD.encode(&signed.signature),
        })
        .to_string();
        let until = SystemTime::now() + self.retention;
        self.client
            .put_object()
            .bucket(self.bucket.as_ref())
            .key(archive_key(tenant, size))
            .content_type("application/json")
            .body(ByteStream::from(body.into_bytes()))
            .object_lock_mode(ObjectLockMode::Compliance)
            .object_lock_retain_until_date(DateTime::from(until))
            .send()
            .await
            .map_err(store_error("S3 PutObject"))?;
        Ok(())
    }

    async fn get(&self, tenant: &Tenant, size: u64) -> Result<Option<Signed>, StoreError> {
        let result = self
            .client
            .get_object()
            .bucket(self.bucket.as_ref())
            .key(archive_key(tenant, size))
            .send()
            .await;
        let output = match result {
            Ok(output) => output,
            Err(error) if error.as_service_error().is_some_and(|e| e.is_no_such_key()) => {
                return Ok(None)
            }
            Err(error) => return Err(store_error("S3 GetObject")(error)),
        };
        let bytes = output
            .body
            .collect()
            .await
            .map_err(|e| StoreError::unavailable("S3 GetObject", e))?
            .into_bytes();
        let value: Value = serde_json::from_slice(&bytes)
            .map_err(|e| StoreError::rejected("reading an archived checkpoint", e))?;
        let body = value["checkpoint"].as_str().unwrap_or_default().to_owned();
        let signature = STANDARD
            .decode(value["signature"].as_str().unwrap_or_default())
            .map_err(|e| StoreError::rejected("reading an archived checkpoint", e))?;
        Ok(Some(Signed { body, signature }))
    }

    async fn sizes(&self, tenant: &Tenant) -> Result<Vec<u64>, StoreError> {
        let prefix = format!("checkpoints/{}/", tenant.as_str());
        let mut sizes = Vec::new();
        let mut token = None;
        loop {
            let output = self
                .client
                .list_objects_v2()
                .bucket(self.bucket.as_ref())
                .prefix(&prefix)
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(store_error("S3 ListObjectsV2"))?;
            for object in output.contents() {
                if let Some(size) = object
                    .key()
                    .and_then(|k| k.strip_prefix(&prefix))
                    .and_then(|s| s.parse().ok())
                {
                    sizes.push(size);
                }
            }
            match output.next_continuation_token {
                Some(next) if output.is_truncated == Some(true) => token = Some(next),
                _ => break,
            }
        }
        sizes.sort_unstable();
        Ok(sizes)
    }
}
