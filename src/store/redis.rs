//! Redis backend (placeholder until the fred backend merges).
use std::time::Duration;
/// Connection options.
pub struct RedisOptions {
    pub url: String,
    pub key_prefix: String,
    pub insecure_tls: bool,
    pub connect_timeout: Duration,
    pub command_timeout: Duration,
}
/// Placeholder.
pub struct RedisStore;
impl RedisStore {
    /// Placeholder.
    pub async fn connect(
        _: RedisOptions,
    ) -> Result<super::embedded::EmbeddedStore, super::StoreError> {
        Err(super::StoreError::Invalid {
            context: "redis backend not merged yet".into(),
        })
    }
}
