//! Standard Webhooks signatures (<https://www.standardwebhooks.com/>): HMAC-SHA256 over
//! `"{id}.{timestamp}.{body}"` with the endpoint's key, sent as `webhook-signature: v1,<base64>`
//! beside `webhook-id` and `webhook-timestamp` (unix seconds), so a receiver verifies with any
//! of the `standardwebhooks` libraries.

use base64::{engine::general_purpose::STANDARD, Engine};
use ring::hmac;

/// The three headers of one signed delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signed {
    /// `webhook-id`: the event's `id`, the same on every redelivery.
    pub id: String,
    /// `webhook-timestamp`: when this attempt was signed, unix seconds.
    pub timestamp: String,
    /// `webhook-signature`: `v1,<base64 HMAC-SHA256>`.
    pub signature: String,
}

/// A signing key.
pub struct Key(hmac::Key);

impl Key {
    /// The key of a `whsec_` secret's bytes.
    pub fn new(secret: &[u8]) -> Self {
        Self(hmac::Key::new(hmac::HMAC_SHA256, secret))
    }

    /// Signs `body` as message `id` at `timestamp` (unix seconds).
    pub fn sign(&self, id: &str, timestamp: i64, body: &[u8]) -> Signed {
        let timestamp = timestamp.to_string();
        let mut ctx = hmac::Context::with_key(&self.0);
        ctx.update(id.as_bytes());
        ctx.update(b".");
        ctx.update(timestamp.as_bytes());
        ctx.update(b".");
        ctx.update(body);
        let tag = ctx.sign();
        Signed {
            id: id.to_owned(),
            timestamp,
            signature: format!("v1,{}", STANDARD.encode(tag.as_ref())),
        }
    }
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification's reference libraries
    /// (`python/tests/test_webhooks.py` and the spec's README): secret
    /// `whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw`, id `msg_p5jXN8AQM9LWM0D4loKWxJek`, timestamp
    /// 1614265330, body `{"test": 2432232314}`.
    #[test]
    fn the_specification_example_signs_as_published() {
        let secret = STANDARD.decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let signed = Key::new(&secret).sign(
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(
            signed.signature,
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        assert_eq!(signed.timestamp, "1614265330");
    }
}
