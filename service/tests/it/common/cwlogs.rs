//! Reading what reached moto's CloudWatch Logs.

use aws_sdk_cloudwatchlogs::Client;
use aws_sdk_cloudwatchlogs::config::{BehaviorVersion, Credentials, Region};
use testkit::Moto;

pub const GROUP: &str = "HelloWorldAPI-test";

pub fn sdk_config(moto: &Moto) -> aws_sdk_cloudwatchlogs::Config {
    aws_sdk_cloudwatchlogs::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(moto.endpoint())
        .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
        .build()
}

/// Every message in the stream, read with GetLogEvents from the head, sorted.
pub async fn read_stream(moto: &Moto, stream: &str) -> Vec<String> {
    let logs = Client::from_conf(sdk_config(moto));
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..100 {
        let resp = logs
            .get_log_events()
            .log_group_name(GROUP)
            .log_stream_name(stream)
            .start_from_head(true)
            .set_next_token(token.clone())
            .send()
            .await
            .expect("GetLogEvents");
        if resp.events().is_empty() {
            break;
        }
        out.extend(
            resp.events()
                .iter()
                .map(|e| e.message().unwrap_or_default().to_owned()),
        );
        let next = resp.next_forward_token().map(str::to_owned);
        if next == token {
            break;
        }
        token = next;
    }
    out.sort();
    out
}
