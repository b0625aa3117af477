//! The local runner: API Gateway on a local port, the SQS event source mapping and the table's
//! stream event source mapping, all calling the Lambdas' own handlers in one process, against the
//! emulator that `AWS_ENDPOINT_URL` names.

pub mod devkey;
pub mod gateway;
pub mod poller;
pub mod remote;
pub mod stream;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use audit_aws::counters::DynamoCounters;
use audit_aws::DynamoLog;
use audit_aws::DynamoReader;
use audit_aws::{Config, DynamoKeys, DynamoStore, SqsQueue};
use audit_aws::{KmsSigner, S3Archive};
use audit_count::{Count, Invocation};
use audit_domain::auth::Verifier;
use audit_domain::seal::WriterKey;
use audit_drain::Drain;
use audit_infra::{self as infra, InfraSpec, ResourceNames};
use audit_read::ReadHandler;
use audit_seal::checkpoint::Checkpointer;
use audit_seal::Seal;
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

impl stream::StreamHandler for Seal<DynamoLog> {
    fn handle(
        &self,
        payload: serde_json::Value,
    ) -> Pin<Box<dyn Future<Output = Result<Vec<String>, stream::BoxError>> + Send + '_>> {
        Box::pin(async move {
            let invocation: audit_seal::Invocation = serde_json::from_value(payload)?;
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
    /// Times each stream batch is handed to the stream functions: 1 as Lambda does when all goes
    /// well; the fault suite sets 2, as a retry after a lost answer would deliver it.
    pub stream_deliveries: usize,
    /// Whether to run the seal function's stream mapping and checkpoint schedule, as deployed.
    /// Tests that seed tens of thousands of events to measure reads turn it off: sealing them is
    /// work the emulator would do alongside the reads being measured.
    pub seal: bool,
}

/// A started runner. Dropping it does not stop it; call [`Running::stop`].
pub struct Running {
    pub addr: SocketAddr,
    pub queue_url: String,
    pub dead_letter_queue_url: String,
    pub table: String,
    pub counters_table: String,
    pub log_table: String,
    pub signing_key: String,
    /// The seal function the second stream poller feeds, for tests that read its store.
    pub seal: Arc<Seal<DynamoLog>>,
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
            log_table: self.log_table.clone(),
            signing_key: self.signing_key.clone(),
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
        log_table: config.log_table.clone(),
        signing_key: config.signing_key.clone(),
        dead_letter_queue: format!("{queue}-dlq"),
        queue,
    }
}

/// Creates every resource of the template under the configured names, or finds them: the events,
/// counters and log tables with their indexes and stream, the queue and its DLQ, the checkpoint
/// signing key and the Object Lock bucket.
pub async fn bootstrap(
    config: &Config,
    sdk: &aws_config::SdkConfig,
    visibility_timeout: Option<u32>,
) -> anyhow::Result<infra::Created> {
    let spec = InfraSpec::from_template(infra::TEMPLATE)?;
    let names = resource_names(config);
    let dynamo = aws_sdk_dynamodb::Client::new(sdk);
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let created = infra::ensure(&dynamo, &sqs, &spec, &names, visibility_timeout)
        .await
        .context(
            "could not create the table and queues; is the emulator running on AWS_ENDPOINT_URL? \
             (`make dev` starts it)",
        )?;
    let s3 = audit_aws::endpoint::s3_client(sdk);
    infra::ensure_checkpoint_bucket(&s3, &config.checkpoint_bucket).await?;
    let kms = audit_aws::endpoint::kms_client(sdk);
    infra::ensure_signing_key(&kms, &created.signing_key).await?;
    Ok(created)
}

/// Records per stream batch, as the template's `CountBatchSize` default.
pub const STREAM_BATCH_SIZE: i32 = 1000;
/// Records per seal batch, as the template's `SealBatchSize` default.
pub const SEAL_BATCH_SIZE: i32 = 100;
/// The stream poller's pause after a poll that found nothing: what bounds the counters' lag here.
pub const STREAM_IDLE: Duration = Duration::from_millis(250);

/// The checkpoint schedule's target: in AWS an EventBridge rule invoking the seal function every
/// minute; here a ticker.
pub trait Schedule: Send + Sync + 'static {
    fn tick(&self) -> Pin<Box<dyn Future<Output = Result<(), stream::BoxError>> + Send + '_>>;
}

impl Schedule for Checkpointer<DynamoLog, KmsSigner, S3Archive> {
    fn tick(&self) -> Pin<Box<dyn Future<Output = Result<(), stream::BoxError>> + Send + '_>> {
        Box::pin(async move {
            self.run(chrono::Utc::now()).await?;
            Ok(())
        })
    }
}

/// What the runner's event source mappings and schedule call: the functions in this process, or
/// the ones `cargo lambda watch` runs.
pub struct Mapped {
    pub drain: Arc<dyn poller::SqsHandler>,
    pub count: Arc<dyn stream::StreamHandler>,
    /// The seal function's stream mapping and its schedule, when sealing is on.
    pub seal: Option<(Arc<dyn stream::StreamHandler>, Arc<dyn Schedule>)>,
}

/// How the mappings poll.
pub struct Polling {
    pub poll_wait: Duration,
    pub stream_deliveries: usize,
    /// Seconds between checkpoint runs (at least 1 s).
    pub seal_interval: Duration,
}

/// Starts the queue's mapping, both stream mappings and the checkpoint schedule.
pub async fn spawn_mappings(
    sdk: &aws_config::SdkConfig,
    created: &infra::Created,
    functions: Mapped,
    polling: Polling,
    stopped: watch::Receiver<bool>,
) -> anyhow::Result<Vec<JoinHandle<()>>> {
    let dynamo = aws_sdk_dynamodb::Client::new(sdk);
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let queue_arn = infra::queue_arn(&sqs, &created.queue_url).await?;
    let region = sdk
        .region()
        .map(|r| r.to_string())
        .unwrap_or_else(|| "us-east-1".into());
    let stream_poller = |handler, batch_size| stream::StreamPoller {
        dynamo: dynamo.clone(),
        streams: aws_sdk_dynamodbstreams::Client::new(sdk),
        table: created.table.clone(),
        region: region.clone(),
        handler,
        batch_size,
        idle: STREAM_IDLE,
        deliveries: polling.stream_deliveries,
    };
    let mut tasks = vec![tokio::spawn(
        stream_poller(functions.count, STREAM_BATCH_SIZE).run(stopped.clone()),
    )];
    if let Some((seal, schedule)) = functions.seal {
        // The seal function's own mapping on the same stream: its own positions, as in AWS.
        tasks.push(tokio::spawn(
            stream_poller(seal, SEAL_BATCH_SIZE).run(stopped.clone()),
        ));
        let tick = polling.seal_interval.max(Duration::from_secs(1));
        tasks.push(tokio::spawn(checkpoints(schedule, tick, stopped.clone())));
    }
    let poller = poller::Poller {
        sqs,
        queue_url: created.queue_url.clone(),
        queue_arn,
        region,
        handler: functions.drain,
        wait: polling.poll_wait,
    };
    tasks.push(tokio::spawn(poller.run(stopped)));
    Ok(tasks)
}

/// Binds `listen`, with the error a person can act on.
pub async fn listen(listen: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(listen).await.with_context(|| {
        format!(
            "could not listen on {listen}; is another runner using it? (AUDIT_LISTEN sets another)"
        )
    })
}

/// Creates the template's resources (idempotently) and starts every part of the runner.
pub async fn start(settings: Settings) -> anyhow::Result<Running> {
    let Settings {
        config,
        sdk,
        listen: address,
        visibility_timeout,
        poll_wait,
        stream_deliveries,
        seal: sealing,
    } = settings;
    let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let created = bootstrap(&config, &sdk, visibility_timeout).await?;
    let s3 = audit_aws::endpoint::s3_client(&sdk);
    let kms = audit_aws::endpoint::kms_client(&sdk);

    // Each function verifies keys with its own cache, as two Lambda functions would.
    let write = WriteHandler::new(
        SqsQueue::new(sqs.clone(), &created.queue_url),
        verifier(&config, &dynamo, &created.table),
        config.retention_days,
    );
    let read = read_handler(&config, &dynamo, &sqs, &kms, &created);
    let routes = Arc::new(gateway::Routes {
        write: Arc::new(write),
        read,
    });

    let (stop, stopped) = watch::channel(false);
    let listener = listen(address).await?;
    let addr = listener.local_addr()?;
    let http_task = tokio::spawn(accept(listener, routes.clone(), stopped.clone()));
    let drain = Arc::new(
        Drain::new(
            DynamoStore::new(dynamo.clone(), &created.table),
            config.shards,
        )
        .with_writer_key(WriterKey::new(config.writer_key.expose()))
        .with_concurrency(config.drain_concurrency),
    );
    let count = Arc::new(Count::new(DynamoCounters::new(
        dynamo.clone(),
        &created.counters_table,
    )));
    let seal = Arc::new(Seal::new(
        DynamoLog::new(dynamo.clone(), &created.log_table),
        WriterKey::new(config.writer_key.expose()),
    ));
    let checkpointer = Checkpointer::new(
        DynamoLog::new(dynamo.clone(), &created.log_table),
        KmsSigner::new(kms, &created.signing_key),
        S3Archive::new(
            s3,
            &config.checkpoint_bucket,
            config.checkpoint_retention_days,
        ),
        &config.log_origin,
        config.seal_interval,
    );
    let functions = Mapped {
        drain: drain.clone(),
        count,
        seal: sealing.then(|| {
            (
                seal.clone() as Arc<dyn stream::StreamHandler>,
                Arc::new(checkpointer) as Arc<dyn Schedule>,
            )
        }),
    };
    let polling = Polling {
        poll_wait,
        stream_deliveries,
        seal_interval: config.seal_interval,
    };
    let mut tasks = spawn_mappings(&sdk, &created, functions, polling, stopped).await?;
    tasks.push(http_task);

    Ok(Running {
        addr,
        queue_url: created.queue_url,
        dead_letter_queue_url: created.dead_letter_queue_url,
        table: created.table,
        counters_table: created.counters_table,
        log_table: created.log_table,
        signing_key: created.signing_key,
        seal,
        routes,
        drain,
        stop,
        tasks,
    })
}

/// Runs the schedule every `tick` until `stop`.
async fn checkpoints(schedule: Arc<dyn Schedule>, tick: Duration, mut stop: watch::Receiver<bool>) {
    loop {
        if let Err(error) = schedule.tick().await {
            tracing::warn!(error = %audit_telemetry::error_chain(error.as_ref()), "checkpoint run failed");
        }
        tokio::select! {
            _ = tokio::time::sleep(tick) => {}
            _ = stop.changed() => return,
        }
    }
}

/// Serves HTTP on `listener` through `routes` until `stop`.
pub async fn accept<G: gateway::Gateway>(
    listener: TcpListener,
    routes: Arc<G>,
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
    kms: &aws_sdk_kms::Client,
    created: &infra::Created,
) -> Arc<dyn Handler> {
    let reader = DynamoReader::new(dynamo.clone(), &created.table, &created.counters_table);
    let proofs = audit_read::proofs::Proofs::new(
        DynamoLog::new(dynamo.clone(), &created.log_table),
        KmsSigner::new(kms.clone(), &created.signing_key),
    );
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
        .with_export_limits(audit_read::export_limits(config))
        .with_log(Arc::new(proofs)),
    )
}
