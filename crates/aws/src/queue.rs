//! The event queue on SQS: events packed into as few messages as fit, sent in one request when
//! possible. Entries SQS fails within a batch are sent again under the shared backoff.

use std::time::{Duration, Instant};

use audit_domain::backoff::Backoff;
use audit_domain::envelope;
use audit_domain::ports::{EventQueue, QueueError};
use audit_domain::Event;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use aws_sdk_sqs::Client;

/// SQS takes 256 KiB per message and per batch request (AWS has since raised its own limit to
/// 1 MiB, but emulators and older regions keep 256 KiB); a little is left for attributes.
pub const MAX_MESSAGE_BYTES: usize = 250 * 1024;
const MAX_REQUEST_BYTES: usize = 256 * 1024;
const MAX_BATCH_ENTRIES: usize = 10;
/// How the entries SQS failed within a batch are sent again: a client waits for the 201, so the
/// retries stop after a few seconds and the write answers 500 (the client retries with its
/// `Idempotency-Key`, which stores nothing twice).
const PARTIAL_BACKOFF: Backoff = Backoff {
    base: Duration::from_millis(50),
    cap: Duration::from_millis(800),
};
const PARTIAL_BUDGET: Duration = Duration::from_secs(3);

#[derive(Clone, Debug)]
pub struct SqsQueue {
    client: Client,
    url: String,
}

impl SqsQueue {
    pub fn new(client: Client, url: impl Into<String>) -> Self {
        Self {
            client,
            url: url.into(),
        }
    }

    pub fn from_sdk(sdk: &aws_config::SdkConfig, url: impl Into<String>) -> Self {
        Self::new(crate::endpoint::sqs_client(sdk), url)
    }

    async fn send_one(&self, body: String) -> Result<(), QueueError> {
        self.client
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| QueueError::new("SQS SendMessage", e))
    }

    /// Sends up to ten bodies in one request, resending the entries SQS reports as failed.
    async fn send_group(&self, bodies: Vec<String>) -> Result<(), QueueError> {
        let mut pending: Vec<(String, String)> = bodies
            .into_iter()
            .enumerate()
            .map(|(i, body)| (i.to_string(), body))
            .collect();
        let mut retries = PARTIAL_BACKOFF.until(Instant::now() + PARTIAL_BUDGET);
        loop {
            let entries = pending
                .iter()
                .map(|(id, body)| {
                    SendMessageBatchRequestEntry::builder()
                        .id(id)
                        .message_body(body)
                        .build()
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| QueueError::new("SQS SendMessageBatch", e))?;
            let output = self
                .client
                .send_message_batch()
                .queue_url(&self.url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| QueueError::new("SQS SendMessageBatch", e))?;
            if output.failed.is_empty() {
                return Ok(());
            }
            let failed: Vec<&str> = output.failed.iter().map(|f| f.id.as_str()).collect();
            pending.retain(|(id, _)| failed.contains(&id.as_str()));
            let Some(delay) = retries.next_delay() else {
                return Err(QueueError::new(
                    "SQS SendMessageBatch",
                    format!(
                        "{} messages were refused after {} retries",
                        pending.len(),
                        retries.attempts()
                    ),
                ));
            };
            tokio::time::sleep(delay).await;
        }
    }
}

/// Groups message bodies into batch requests of at most ten entries and 256 KiB.
fn group(bodies: Vec<String>) -> Vec<Vec<String>> {
    let mut groups: Vec<Vec<String>> = Vec::new();
    let mut size = 0;
    for body in bodies {
        let fits = groups
            .last()
            .is_some_and(|g| g.len() < MAX_BATCH_ENTRIES && size + body.len() <= MAX_REQUEST_BYTES);
        if !fits {
            groups.push(Vec::new());
            size = 0;
        }
        size += body.len();
        groups
            .last_mut()
            .expect("a group was just pushed")
            .push(body);
    }
    groups
}

impl EventQueue for SqsQueue {
    async fn enqueue(&self, events: &[Event]) -> Result<(), QueueError> {
        let mut bodies = envelope::pack(events, MAX_MESSAGE_BYTES);
        if bodies.len() == 1 {
            return self.send_one(bodies.remove(0)).await;
        }
        for bodies in group(bodies) {
            self.send_group(bodies).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_respect_entry_and_byte_limits() {
        let groups = group(vec!["x".repeat(100); 25]);
        assert_eq!(
            groups.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![10, 10, 5]
        );
        let groups = group(vec!["x".repeat(100 * 1024); 5]);
        assert_eq!(
            groups.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![2, 2, 1]
        );
    }
}
