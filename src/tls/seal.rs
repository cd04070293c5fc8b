//! Secrets at rest: AES-256-GCM (ring) under the session's [`EncryptionKey`].
//!
//! Format of a sealed value: `0x01` (format version) ‖ 12-byte random nonce ‖ ciphertext ‖
//! 16-byte tag. The associated data is the caller's context (the store key the value lives
//! under), so a ciphertext copied to another record fails to open. A fresh random nonce per
//! seal is safe for far more than the handful of writes a certificate lifecycle makes
//! (NIST SP 800-38D §8.3 bounds random nonces at 2^32 messages per key).
//!
//! Must not know where sealed values are kept.

use ring::{
    aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN},
    rand::{SecureRandom, SystemRandom},
};

use crate::session::EncryptionKey;

/// The format version byte.
const VERSION: u8 = 1;

/// Why a sealed value could not be opened (or, rarely, sealed).
#[derive(Debug, thiserror::Error)]
pub enum SealError {
    /// Too short, unknown version, wrong key, wrong context or tampered with.
    #[error("sealed value cannot be opened (wrong session key, wrong record or tampered)")]
    Open,
    /// The system random source failed.
    #[error("the system random source failed")]
    Random,
}

fn key(k: &EncryptionKey) -> LessSafeKey {
    LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &k.0).expect("AES-256 takes a 32-byte key"))
}

/// Encrypts `plain`, binding it to `context`.
pub fn seal(k: &EncryptionKey, context: &str, plain: &[u8]) -> Result<Vec<u8>, SealError> {
    let mut nonce = [0u8; NONCE_LEN];
    SystemRandom::new()
        .fill(&mut nonce)
        .map_err(|_| SealError::Random)?;
    let mut buf = plain.to_vec();
    key(k)
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(context.as_bytes()),
            &mut buf,
        )
        .map_err(|_| SealError::Random)?;
    let mut out = Vec::with_capacity(1 + NONCE_LEN + buf.len());
    out.push(VERSION);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&buf);
    Ok(out)
}

/// Decrypts a value sealed by [`seal`] with the same key and context.
pub fn open(k: &EncryptionKey, context: &str, sealed: &[u8]) -> Result<Vec<u8>, SealError> {
    let (&version, rest) = sealed.split_first().ok_or(SealError::Open)?;
    if version != VERSION || rest.len() < NONCE_LEN + AES_256_GCM.tag_len() {
        return Err(SealError::Open);
    }
    let (nonce, body) = rest.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SealError::Open)?;
    let mut buf = body.to_vec();
    let plain = key(k)
        .open_in_place(nonce, Aad::from(context.as_bytes()), &mut buf)
        .map_err(|_| SealError::Open)?;
    Ok(plain.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(b: u8) -> EncryptionKey {
        EncryptionKey([b; 32])
    }

    #[test]
    fn round_trip_with_a_fresh_nonce_each_time() {
        let a = seal(&k(1), "tls.certs/x", b"secret key bytes").unwrap();
        let b = seal(&k(1), "tls.certs/x", b"secret key bytes").unwrap();
        assert_ne!(a, b, "nonces must differ");
        assert_eq!(a.len(), 1 + 12 + 16 + 16);
        assert!(!a.windows(6).any(|w| w == b"secret"), "plaintext leaked");
        assert_eq!(open(&k(1), "tls.certs/x", &a).unwrap(), b"secret key bytes");
    }

    #[test]
    fn tampering_wrong_key_and_wrong_context_are_detected() {
        let sealed = seal(&k(1), "ctx", b"payload").unwrap();
        for i in 0..sealed.len() {
            let mut t = sealed.clone();
            t[i] ^= 0x01;
            assert!(
                open(&k(1), "ctx", &t).is_err(),
                "flip at byte {i} not detected"
            );
        }
        assert!(open(&k(2), "ctx", &sealed).is_err());
        assert!(open(&k(1), "other", &sealed).is_err());
        assert!(open(&k(1), "ctx", &sealed[..20]).is_err());
        assert!(open(&k(1), "ctx", &[]).is_err());
    }
}
