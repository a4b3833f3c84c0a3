//! Publishing the fleet metrics: the [`MetricsSink`] trait and its implementations; the pure
//! encoder ([`encode`], [`Datum`], [`batches`]) is `fleetcore::metrics`, re-exported here.
//!
//! - [`MetricsSink`]: where data goes. Implementations: [`cloudwatch::CloudWatchSink`]
//!   (PutMetricData; the only module importing `aws_sdk_cloudwatch`), [`MemorySink`]
//!   (keeps everything, for tests) and [`NoopSink`] (publishing disabled).

pub mod cloudwatch;

use std::sync::Mutex;

use async_trait::async_trait;

pub use fleetcore::metrics::*;

#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error(
        "publishing {failed} of {total} metric values failed after {attempts} attempts: {message}"
    )]
    Publish {
        failed: usize,
        total: usize,
        attempts: u32,
        message: String,
    },
}

/// Where the fleet metrics go each tick.
#[async_trait]
pub trait MetricsSink: Send + Sync {
    /// `cloudwatch`, `memory` or `none`.
    fn kind(&self) -> &'static str;

    /// The call `publish` makes, as errors and the status name it (`PutMetricData`).
    fn operation(&self) -> &'static str {
        "publish"
    }

    /// Publishes `data` (the sink batches). Returns how many calls it made.
    async fn publish(&self, data: &[Datum]) -> Result<usize, SinkError>;
}

/// Publishing disabled.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoopSink;

#[async_trait]
impl MetricsSink for NoopSink {
    fn kind(&self) -> &'static str {
        "none"
    }

    async fn publish(&self, _data: &[Datum]) -> Result<usize, SinkError> {
        Ok(0)
    }
}

/// Keeps every published datum (tests, and `controller simulate`).
#[derive(Debug, Default)]
pub struct MemorySink {
    data: Mutex<Vec<Datum>>,
}

impl MemorySink {
    pub fn new() -> Self {
        Self::default()
    }

    /// Everything published so far, oldest first.
    pub fn data(&self) -> Vec<Datum> {
        self.data.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

#[async_trait]
impl MetricsSink for MemorySink {
    fn kind(&self) -> &'static str {
        "memory"
    }

    async fn publish(&self, data: &[Datum]) -> Result<usize, SinkError> {
        let mut held = self.data.lock().unwrap_or_else(|e| e.into_inner());
        held.extend_from_slice(data);
        Ok(batches(data, MAX_VALUES_PER_CALL).count())
    }
}

/// The sink `[metrics]` asks for: CloudWatch when `publish` is on, otherwise none.
/// `sdk`: the provider's SDK config when there is one; without it, one is built from
/// `[aws]` only when publishing is on (publishing off never touches AWS, not even the
/// instance metadata service).
pub async fn sink_for(
    config: &crate::config::Config,
    sdk: Option<&aws_config::SdkConfig>,
) -> std::sync::Arc<dyn MetricsSink> {
    if !config.metrics().publish() {
        return std::sync::Arc::new(NoopSink);
    }
    let built;
    let sdk = match sdk {
        Some(sdk) => sdk,
        None => {
            built = crate::aws::sdk_config(&config.provider().aws()).await;
            &built
        }
    };
    std::sync::Arc::new(cloudwatch::CloudWatchSink::new(
        sdk,
        config.metrics().namespace(),
        config.group().name(),
    ))
}
