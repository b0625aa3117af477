//! The SQS event source mapping half of the runner: long-polls the queue, hands the drain handler
//! `SqsEvent` batches, and deletes only the messages the handler did not report as failed. Failed
//! messages stay on the queue, come back after the visibility timeout, and reach the dead-letter
//! queue after maxReceiveCount receives, as in AWS.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use audit_domain::ports::EventStore;
use audit_drain::Drain;
use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use aws_sdk_sqs::types::{DeleteMessageBatchRequestEntry, MessageSystemAttributeName};
use aws_sdk_sqs::Client;
use tokio::sync::watch;

/// The drain's timeout in the template (30 s), less the margin the drain keeps to answer, as the
/// Lambda's own deadline would give it: the time one batch may take before it counts as failed.
const INVOCATION_BUDGET: Duration =
    Duration::from_secs(30).saturating_sub(audit_drain::ANSWER_MARGIN);
/// Messages per receive call: SQS's maximum.
const RECEIVE_MAX: i32 = 10;

/// The queue's function as the poller calls it: an `SqsEvent` and the invocation's deadline in, the
/// message ids it reports failed (`batchItemFailures`) out. A function that fails as a whole reports
/// every message, so that nothing is deleted.
pub trait SqsHandler: Send + Sync + 'static {
    fn handle(
        &self,
        event: SqsEvent,
        deadline: Instant,
    ) -> Pin<Box<dyn Future<Output = Vec<String>> + Send + '_>>;
}

impl<S: EventStore + 'static> SqsHandler for Drain<S> {
    fn handle(
        &self,
        event: SqsEvent,
        deadline: Instant,
    ) -> Pin<Box<dyn Future<Output = Vec<String>> + Send + '_>> {
        Box::pin(async move {
            let (response, _) = Drain::handle(self, event, deadline).await;
            response
                .batch_item_failures
                .into_iter()
                .map(|f| f.item_identifier)
                .collect()
        })
    }
}

pub struct Poller<H: ?Sized> {
    pub sqs: Client,
    pub queue_url: String,
    pub queue_arn: String,
    pub region: String,
    /// The drain: in process (`make dev`, tests) or behind `cargo lambda watch` (`make watch`).
    pub handler: std::sync::Arc<H>,
    /// Long-poll wait per receive call.
    pub wait: Duration,
}

impl<H: SqsHandler + ?Sized> Poller<H> {
    /// Runs until `stop` turns true. A failing receive is logged and retried after a pause.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        tracing::info!(queue = %self.queue_url, "draining queue");
        loop {
            let receive = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(RECEIVE_MAX)
                .wait_time_seconds(self.wait.as_secs() as i32)
                .message_system_attribute_names(MessageSystemAttributeName::All)
                .send();
            let output = tokio::select! {
                _ = stop.changed() => break,
                output = receive => output,
            };
            match output {
                Ok(output) => {
                    let messages = output.messages.unwrap_or_default();
                    if !messages.is_empty() {
                        self.deliver(messages).await;
                    }
                }
                Err(error) => {
                    tracing::warn!(error = %aws_sdk_sqs::error::DisplayErrorContext(&error), "receive failed");
                    tokio::select! {
                        _ = stop.changed() => break,
                        _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                }
            }
            if *stop.borrow() {
                break;
            }
        }
        tracing::info!("queue drain stopped");
    }

    async fn deliver(&self, messages: Vec<aws_sdk_sqs::types::Message>) {
        let receipts: HashMap<String, String> = messages
            .iter()
            .filter_map(|m| Some((m.message_id.clone()?, m.receipt_handle.clone()?)))
            .collect();
        let mut event = SqsEvent::default();
        event.records = messages.into_iter().map(|m| self.to_record(m)).collect();
        let deadline = Instant::now() + INVOCATION_BUDGET;
        let failed = self.handler.handle(event, deadline).await;
        let entries: Vec<DeleteMessageBatchRequestEntry> = receipts
            .iter()
            .filter(|(id, _)| !failed.contains(id))
            .enumerate()
            .filter_map(|(i, (_, receipt))| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .receipt_handle(receipt)
                    .build()
                    .ok()
            })
            .collect();
        if entries.is_empty() {
            return;
        }
        let result = self
            .sqs
            .delete_message_batch()
            .queue_url(&self.queue_url)
            .set_entries(Some(entries))
            .send()
            .await;
        match result {
            Ok(output) if !output.failed.is_empty() => {
                tracing::warn!(
                    failed = output.failed.len(),
                    "some deletes failed; those messages will be redelivered"
                )
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(
                error = %aws_sdk_sqs::error::DisplayErrorContext(&error),
                "delete failed; the batch will be redelivered"
            ),
        }
    }

    /// The record as the event source mapping shapes it.
    fn to_record(&self, message: aws_sdk_sqs::types::Message) -> SqsMessage {
        let mut record = SqsMessage::default();
        record.message_id = message.message_id;
        record.receipt_handle = message.receipt_handle;
        record.body = message.body;
        record.md5_of_body = message.md5_of_body;
        record.attributes = message
            .attributes
            .unwrap_or_default()
            .into_iter()
            .map(|(k, v)| (k.as_str().to_owned(), v))
            .collect();
        record.event_source = Some("aws:sqs".to_owned());
        record.event_source_arn = Some(self.queue_arn.clone());
        record.aws_region = Some(self.region.clone());
        record
    }
}
