//! Reads the desired capacity from the controller's `GET /api/status` ([`proto::Status`]).
//! The one place loadgen talks to the controller; [`StatusSource`] lets the reporter run
//! with a fake in unit tests.

use std::future::Future;
use std::time::Duration;

use crate::timeline::Capacity;

#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    #[error("cannot reach the controller at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("the controller at {url} answered {status}")]
    Status { url: String, status: u16 },
    #[error("the controller at {url} sent a status loadgen cannot read: {reason}")]
    Decode { url: String, reason: String },
}

/// Where the desired capacity comes from.
pub trait StatusSource: Send + Sync + 'static {
    fn capacity(&self) -> impl Future<Output = Result<Capacity, StatusError>> + Send;
}

/// `GET {base}/api/status` with a short timeout.
#[derive(Debug, Clone)]
pub struct HttpStatus {
    client: reqwest::Client,
    url: String,
}

impl HttpStatus {
    pub fn new(base: &str, timeout: Duration) -> HttpStatus {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .unwrap_or_else(|_| reqwest::Client::new());
        HttpStatus {
            client,
            url: format!("{}/api/status", base.trim_end_matches('/')),
        }
    }
}

impl StatusSource for HttpStatus {
    async fn capacity(&self) -> Result<Capacity, StatusError> {
        let url = &self.url;
        let resp = self
            .client
            .get(url)
            .send()
            .await
            .map_err(|e| StatusError::Unreachable {
                url: url.clone(),
                reason: e.to_string(),
            })?;
        if !resp.status().is_success() {
            return Err(StatusError::Status {
                url: url.clone(),
                status: resp.status().as_u16(),
            });
        }
        let status: proto::Status = resp.json().await.map_err(|e| StatusError::Decode {
            url: url.clone(),
            reason: e.to_string(),
        })?;
        Ok(Capacity {
            desired: status.group.desired_capacity,
            in_service: status.group.in_service,
        })
    }
}

/// A fixed answer, for tests.
#[derive(Debug, Clone, Copy)]
pub struct FixedStatus(pub Option<Capacity>);

impl StatusSource for FixedStatus {
    async fn capacity(&self) -> Result<Capacity, StatusError> {
        self.0.ok_or_else(|| StatusError::Unreachable {
            url: "fixed".into(),
            reason: "down".into(),
        })
    }
}
