//! The controller lease in DynamoDB: the only module importing `aws_sdk_dynamodb`.
//!
//! One item per group in a table keyed by the string attribute `lease` (the stack's
//! `LeaseTable`): `holder` and `expires_at` (Unix ms, a number). A claim is one
//! `UpdateItem` with the condition "absent, mine, or expired"; a refused claim reads the
//! item (strongly consistent) to say who holds it. Release is a `DeleteItem` on the
//! condition "mine". Every call has the SDK's timeouts and retry ([`crate::aws::sdk_config`]);
//! the daemon bounds each by the tick's budget on top.

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::AttributeValue;

use crate::lease::{Claim, LeaseError, LeaseStore};

/// The item's key attribute (the table's partition key, a string).
pub const KEY_ATTRIBUTE: &str = "lease";

#[derive(Debug, Clone)]
pub struct DynamoLease {
    client: Client,
    table: String,
    key: String,
}

impl DynamoLease {
    pub fn new(sdk: &aws_config::SdkConfig, table: &str, key: &str) -> Self {
        Self::from_client(Client::new(sdk), table, key)
    }

    pub fn from_client(client: Client, table: &str, key: &str) -> Self {
        DynamoLease {
            client,
            table: table.into(),
            key: key.into(),
        }
    }

    fn key(&self) -> AttributeValue {
        AttributeValue::S(self.key.clone())
    }

    /// Who holds the item now (strongly consistent read), if anyone.
    async fn read(&self) -> Result<Option<(String, u64)>, LeaseError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key(KEY_ATTRIBUTE, self.key())
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| error("GetItem", &e))?;
        let Some(item) = out.item() else {
            return Ok(None);
        };
        // Untrusted until checked: a malformed item is an error, not a holder.
        let holder = match item.get("holder") {
            Some(AttributeValue::S(h)) if !h.is_empty() && h.len() <= 256 => h.clone(),
            other => return Err(malformed("holder", other)),
        };
        let until = match item.get("expires_at") {
            Some(AttributeValue::N(n)) => n
                .parse::<u64>()
                .map_err(|_| malformed("expires_at", item.get("expires_at")))?,
            other => return Err(malformed("expires_at", other)),
        };
        Ok(Some((holder, until)))
    }
}

fn error<E>(operation: &'static str, err: &E) -> LeaseError
where
    E: std::error::Error + ProvideErrorMetadata + 'static,
{
    LeaseError {
        operation,
        message: crate::errors::sdk_error_line(operation, "dynamodb", err),
    }
}

fn malformed(field: &str, value: Option<&AttributeValue>) -> LeaseError {
    LeaseError {
        operation: "GetItem",
        message: format!("the lease item's {field} is malformed: {value:?}"),
    }
}

fn is_condition_failure<E: ProvideErrorMetadata>(err: &E) -> bool {
    err.code() == Some("ConditionalCheckFailedException")
}

#[async_trait]
impl LeaseStore for DynamoLease {
    async fn claim(
        &self,
        holder: &str,
        now_ms: u64,
        expires_at_ms: u64,
    ) -> Result<Claim, LeaseError> {
        let sent = self
            .client
            .update_item()
            .table_name(&self.table)
            .key(KEY_ATTRIBUTE, self.key())
            .update_expression("SET holder = :me, expires_at = :exp")
            .condition_expression(
                "attribute_not_exists(holder) OR holder = :me OR expires_at < :now",
            )
            .expression_attribute_values(":me", AttributeValue::S(holder.into()))
            .expression_attribute_values(":exp", AttributeValue::N(expires_at_ms.to_string()))
            .expression_attribute_values(":now", AttributeValue::N(now_ms.to_string()))
            .send()
            .await;
        match sent {
            Ok(_) => Ok(Claim::Granted),
            Err(e) if e.as_service_error().is_some_and(is_condition_failure) => {
                // Freed between the two calls: the next claim takes it.
                let (holder, until_ms) = self.read().await?.unwrap_or_else(|| ("(none)".into(), 0));
                Ok(Claim::HeldBy { holder, until_ms })
            }
            Err(e) => Err(error("UpdateItem", &e)),
        }
    }

    async fn release(&self, holder: &str) -> Result<(), LeaseError> {
        let sent = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key(KEY_ATTRIBUTE, self.key())
            .condition_expression("holder = :me")
            .expression_attribute_values(":me", AttributeValue::S(holder.into()))
            .send()
            .await;
        match sent {
            Ok(_) => Ok(()),
            // Not ours (any more): nothing to release.
            Err(e) if e.as_service_error().is_some_and(is_condition_failure) => Ok(()),
            Err(e) => Err(error("DeleteItem", &e)),
        }
    }

    fn location(&self) -> String {
        format!("dynamodb:{}/{}", self.table, self.key)
    }
}
