//! The instance id: the flag or `INSTANCE_ID`, else EC2 instance metadata
//! (IMDSv2, 300 ms at most), else a generated `i-local-…`.
//!
//! 169.254.169.254 is the only non-loopback address this crate contacts, and
//! only when IMDS is not disabled (`--no-imds` / `AWS_EC2_METADATA_DISABLED=true`,
//! which every test sets).

use std::time::Duration;

use axum::http::{Method, Request};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};

use crate::config::check_instance_id;
use crate::http_client;

const IMDS: &str = "http://169.254.169.254";
/// Budget for both IMDS calls together.
pub const IMDS_TIMEOUT: Duration = Duration::from_millis(300);

/// Resolves the instance id; never fails.
pub async fn resolve(flag: Option<&str>, imds_disabled: bool) -> String {
    if let Some(id) = flag {
        return id.to_owned();
    }
    if !imds_disabled {
        match tokio::time::timeout(IMDS_TIMEOUT, from_imds()).await {
            Ok(Some(id)) => return id,
            Ok(None) => tracing::debug!("no instance id from IMDS"),
            Err(_) => tracing::debug!("IMDS did not answer within {IMDS_TIMEOUT:?}"),
        }
    }
    generated()
}

/// `i-local-` and 8 random hex digits.
pub fn generated() -> String {
    format!("i-local-{:08x}", rand::random::<u32>())
}

async fn from_imds() -> Option<String> {
    let client = http_client::client();
    let token_req = Request::builder()
        .method(Method::PUT)
        .uri(format!("{IMDS}/latest/api/token"))
        .header("x-aws-ec2-metadata-token-ttl-seconds", "60")
        .body(Full::new(Bytes::new()))
        .ok()?;
    let token = body_text(client.request(token_req).await.ok()?).await?;
    let id_req = Request::builder()
        .uri(format!("{IMDS}/latest/meta-data/instance-id"))
        .header("x-aws-ec2-metadata-token", token.trim())
        .body(Full::new(Bytes::new()))
        .ok()?;
    let id = body_text(client.request(id_req).await.ok()?).await?;
    let id = id.trim().to_owned();
    check_instance_id(&id).ok()?;
    Some(id)
}

async fn body_text(resp: http_client::Response) -> Option<String> {
    if !resp.status().is_success() {
        return None;
    }
    let bytes = resp.into_body().collect().await.ok()?.to_bytes();
    String::from_utf8(bytes.to_vec()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_flag_wins() {
        assert_eq!(resolve(Some("i-0abc"), false).await, "i-0abc");
    }

    #[tokio::test]
    async fn generated_when_imds_is_disabled() {
        let id = resolve(None, true).await;
        assert!(id.starts_with("i-local-") && id.len() == 16, "{id}");
        check_instance_id(&id).unwrap();
        assert_ne!(id, resolve(None, true).await);
    }
}
