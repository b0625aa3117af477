//! The local runner: API Gateway on a local port, the SQS event source mapping and the table's
//! stream event source mapping, all calling the Lambdas' own handlers in one process, against the
//! emulator that `AWS_ENDPOINT_URL` names.

pub mod devkey;
pub mod gateway;
pub mod poller;
pub mod stream;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use audit_aws::counters::DynamoCounters;
use audit_aws::DynamoReader;
use audit_aws::{Config, DynamoKeys, DynamoStore, SqsQueue};
use audit_count::{Count, Invocation};
use audit_domain::auth::Verifier;
use audit_drain::Drain;
use audit_infra::{self as infra, InfraSpec, ResourceNames};
use audit_read::ReadHandler;
use audit_write::WriteHandler;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use lambda_http::{Body, Request, Response};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A function handler as the gateway calls it.
pub trait Handler: Send + Sync + 'static {
    fn call(&self, request: Request) -> Pin<Box<dyn Future<Output = Response<Body>> + Send + '_>>;
}

impl Handler for ReadHandler<DynamoReader, DynamoKeys, SqsQueue> {
    fn call(&self, request: Request) -> Pin<Box<dyn Future<Output = Response<Body>> + Send + '_>> {
        Box::pin(self.handle(request))
    }
}

impl stream::StreamHandler for Count<DynamoCounters> {
    fn handle(
        &self,
        payload: serde_json::Value,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<String>, stream::BoxError>> + Send + '_>> {
        Box::pin(async move {
            let invocation: Invocation = serde_json::from_value(payload)?;
            let (response, _) = self.invoke(invocation).await?;
            Ok(response
                .batch_item_failures
                .into_iter()
                .filter_map(|failure| failure.item_identifier)
                .collect())
        })
    }
}

impl Handler for WriteHandler<SqsQueue, DynamoKeys> {
    fn call(&self, request: Request) -> Pin<Box<dyn Future<Output = Response<Body>> + Send + '_>> {
        Box::pin(self.handle(request))
    }
}

/// How to start the runner.
pub struct Settings {
    pub config: Config,
    pub sdk: aws_config::SdkConfig,
    /// Where to listen; port 0 picks a free one (tests).
    pub listen: SocketAddr,
    /// Overrides the template's visibility timeout, so that local retries come back in seconds.
    pub visibility_timeout: Option<u32>,
    /// Long-poll wait of the queue drain.
    pub poll_wait: Duration,
    /// Times each stream batch is handed to the count function: 1 as Lambda does when all goes
    /// well; the fault suite sets 2, as a retry after a lost answer would deliver it.
    pub stream_deliveries: usize,
}

/// A started runner. Dropping it does not stop it; call [`Running::stop`].
pub struct Running {
    pub addr: SocketAddr,
    pub queue_url: String,
    pub dead_letter_queue_url: String,
    pub table: String,
    pub counters_table: String,
    /// The handlers the gateway calls, for tests that invoke them with raw Lambda events.
    pub routes: Arc<gateway::Routes>,
    /// The drain the poller feeds, likewise.
    pub drain: Arc<Drain<DynamoStore>>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Running {
    /// What bootstrap created or found, for a caller that cleans up after itself.
    pub fn created(&self) -> infra::Created {
        infra::Created {
            table: self.table.clone(),
            counters_table: self.counters_table.clone(),
            queue_url: self.queue_url.clone(),
            dead_letter_queue_url: self.dead_letter_queue_url.clone(),
        }
    }

    /// Stops accepting requests, draining and counting, and waits for all three to finish.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

/// The queue's name is the last segment of its URL.
fn queue_name(url: &str) -> &str {
    url.rsplit('/').next().unwrap_or(url)
}

/// The names bootstrap gives the configured resources: the DLQ is named after the queue.
pub fn resource_names(config: &Config) -> ResourceNames {
    let queue = queue_name(&config.queue_url).to_owned();
    ResourceNames {
        table: config.table.clone(),
        counters_table: config.counters_table.clone(),
        dead_letter_queue: format!("{queue}-dlq"),
        queue,
    }
}

/// Creates the template's table, indexes, queue and DLQ under the configured names, or finds them.
pub async fn bootstrap(
    config: &Config,
    dynamo: &aws_sdk_dynamodb::Client,
    sqs: &aws_sdk_sqs::Client,
    visibility_timeout: Option<u32>,
) -> anyhow::Result<infra::Created> {
    let spec = InfraSpec::from_template(infra::TEMPLATE)?;
    let names = resource_names(config);
    Ok(infra::ensure(dynamo, sqs, &spec, &names, visibility_timeout).await?)
}

/// Records per stream batch, as the template's `CountBatchSize` default.
pub const STREAM_BATCH_SIZE: i32 = 1000;
/// The stream poller's pause after a poll that found nothing: what bounds the counters' lag here.
pub const STREAM_IDLE: Duration = Duration::from_millis(250);

/// Creates the template's resources (idempotently) and starts every part of the runner.
pub async fn start(settings: Settings) -> anyhow::Result<Running> {
    let Settings {
        config,
        sdk,
        listen,
        visibility_timeout,
        poll_wait,
        stream_deliveries,
    } = settings;
    let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let created = bootstrap(&config, &dynamo, &sqs, visibility_timeout)
        .await
        .context(
            "could not create the table and queues; is the emulator running on AWS_ENDPOINT_URL? \
             (`make dev` starts it)",
        )?;
    let queue_arn = infra::queue_arn(&sqs, &created.queue_url).await?;

    // Each function verifies keys with its own cache, as two Lambda functions would.
    let write = WriteHandler::new(
        SqsQueue::new(sqs.clone(), &created.queue_url),
        verifier(&config, &dynamo, &created.table),
        config.retention_days,
    );
    let read = read_handler(&config, &dynamo, &sqs, &created);
    let routes = Arc::new(gateway::Routes {
        write: Arc::new(write),
        read,
    });

    let (stop, stopped) = watch::channel(false);
    let listener = TcpListener::bind(listen).await.with_context(|| {
        format!(
            "could not listen on {listen}; is another runner using it? (AUDIT_LISTEN sets another)"
        )
    })?;
    let addr = listener.local_addr()?;
    let http_task = tokio::spawn(accept(listener, routes.clone(), stopped.clone()));
    let drain = Arc::new(Drain::new(
        DynamoStore::new(dynamo.clone(), &created.table),
        config.shards,
    ));
    let count = Arc::new(Count::new(DynamoCounters::new(
        dynamo.clone(),
        &created.counters_table,
    )));
    let region = sdk
        .region()
        .map(|r| r.to_string())
        .unwrap_or_else(|| "us-east-1".into());
    let stream_poller = stream::StreamPoller {
        dynamo,
        streams: aws_sdk_dynamodbstreams::Client::new(&sdk),
        table: created.table.clone(),
        region: region.clone(),
        handler: count,
        batch_size: STREAM_BATCH_SIZE,
        idle: STREAM_IDLE,
        deliveries: stream_deliveries,
    };
    let stream_task = tokio::spawn(stream_poller.run(stopped.clone()));

    let poller = poller::Poller {
        sqs,
        queue_url: created.queue_url.clone(),
        queue_arn,
        region,
        drain: drain.clone(),
        wait: poll_wait,
    };
    let poll_task = tokio::spawn(poller.run(stopped));

    Ok(Running {
        addr,
        queue_url: created.queue_url,
        dead_letter_queue_url: created.dead_letter_queue_url,
        table: created.table,
        counters_table: created.counters_table,
        routes,
        drain,
        stop,
        tasks: vec![http_task, poll_task, stream_task],
    })
}

async fn accept(
    listener: TcpListener,
    routes: Arc<gateway::Routes>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let (stream, peer) = tokio::select! {
            _ = stop.changed() => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    continue;
                }
            },
        };
        let routes = routes.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| gateway::serve(routes.clone(), request, peer));
            if let Err(error) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(%error, "connection closed with an error");
            }
        });
    }
}

fn verifier(
    config: &Config,
    dynamo: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Verifier<DynamoKeys> {
    Verifier::new(DynamoKeys::new(dynamo.clone(), table), config.auth_policy())
}

fn read_handler(
    config: &Config,
    dynamo: &aws_sdk_dynamodb::Client,
    sqs: &aws_sdk_sqs::Client,
    created: &infra::Created,
) -> Arc<dyn Handler> {
    let reader = DynamoReader::new(dynamo.clone(), &created.table, &created.counters_table);
    Arc::new(
        ReadHandler::new(
            reader,
            // Exports are recorded through the write function's queue, as in the template.
            SqsQueue::new(sqs.clone(), &created.queue_url),
            audit_read::context(config),
            verifier(config, dynamo, &created.table),
        )
        .with_frame_ancestors(config.viewer_frame_ancestors.clone())
        .with_retention_days(config.retention_days)
        .with_export_limits(audit_read::export_limits(config)),
    )
}
