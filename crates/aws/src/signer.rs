//! The checkpoint signer on KMS: an asymmetric `ECC_NIST_P256` key, `Sign` with `ECDSA_SHA_256` and
//! `MessageType=RAW` over the checkpoint body (far under KMS's 4 KB limit for raw messages). RAW,
//! not DIGEST: the emulator signs a DIGEST request as if the digest were the message, and RAW means
//! the same on both. The signature is DER; `GetPublicKey` answers a DER SubjectPublicKeyInfo.

use std::sync::Arc;

use audit_domain::ports::StoreError;
use audit_domain::seal::Signer;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{MessageType, SigningAlgorithmSpec};
use tokio::sync::OnceCell;

use crate::error::store_error;

#[derive(Clone, Debug)]
pub struct KmsSigner {
    client: aws_sdk_kms::Client,
    key: Arc<str>,
    public_key: Arc<OnceCell<Vec<u8>>>,
}

impl KmsSigner {
    /// `key` is a key id, ARN or `alias/<name>`.
    pub fn new(client: aws_sdk_kms::Client, key: &str) -> Self {
        Self {
            client,
            key: Arc::from(key),
            public_key: Arc::default(),
        }
    }

    pub fn from_sdk(sdk: &aws_config::SdkConfig, key: &str) -> Self {
        Self::new(crate::endpoint::kms_client(sdk), key)
    }
}

impl Signer for KmsSigner {
    async fn sign(&self, message: &[u8]) -> Result<Vec<u8>, StoreError> {
        let output = self
            .client
            .sign()
            .key_id(self.key.as_ref())
            .message(Blob::new(message))
            .message_type(MessageType::Raw)
            .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
            .send()
            .await
            .map_err(store_error("KMS Sign"))?;
        output
            .signature
            .map(Blob::into_inner)
            .ok_or_else(|| StoreError::rejected("KMS Sign", "no signature in the answer"))
    }

    async fn public_key(&self) -> Result<Vec<u8>, StoreError> {
        self.public_key
            .get_or_try_init(|| async {
                let output = self
                    .client
                    .get_public_key()
                    .key_id(self.key.as_ref())
                    .send()
                    .await
                    .map_err(store_error("KMS GetPublicKey"))?;
                output.public_key.map(Blob::into_inner).ok_or_else(|| {
                    StoreError::rejected("KMS GetPublicKey", "no public key in the answer")
                })
            })
            .await
            .cloned()
    }
}
