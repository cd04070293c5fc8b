//! The certificate records in the store.
//!
//! Layout (every id carries `dir` = the first 16 hex digits of SHA-256(directory URL), so
//! staging, production and test CAs never share an account or a certificate):
//! * `tls.accounts` / `<dir>`: the ACME account credentials (JSON), sealed.
//! * `tls.certs` / `<dir>.<domain>`: JSON `{"v":1,"chain_pem":…,"key":…,"stored_at":…}`; the
//!   chain is public, `key` is the base64url of the sealed PKCS#8 PEM.
//! * `tls.challenges` / `<dir>.<domain>`: the SHA-256 key-authorization digest of a pending
//!   TLS-ALPN-01 challenge (public: the CA sees it in the certificate), so whichever replica the
//!   CA's validation reaches can answer.
//! * lease `tls.order.<dir>.<domain>`: held by the replica placing an order.
//!
//! Sealed values are bound to their record (`space/id`), see [`super::seal`].
//! Must not know about the CA, scheduling or the backend kind.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use instant_acme::AccountCredentials;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{seal, TlsError};
use crate::{
    session::EncryptionKey,
    store::{SharedStore, StoreKey, WriteBatch},
};

/// The space of account records.
pub const ACCOUNTS: &str = "tls.accounts";
/// The space of certificate records.
pub const CERTS: &str = "tls.certs";
/// The space of pending TLS-ALPN-01 challenges (shared so any replica can answer).
pub const CHALLENGES: &str = "tls.challenges";

/// A certificate as kept in the store.
pub struct StoredCert {
    /// The chain, leaf first, PEM.
    pub chain_pem: String,
    /// The private key, PEM. Secret: never logged.
    pub key_pem: String,
}

#[derive(Serialize, Deserialize)]
struct CertRecord {
    v: u32,
    chain_pem: String,
    key: String,
    stored_at: i64,
}

/// The certificate records of one domain under one ACME directory.
#[derive(Clone)]
pub struct CertStorage {
    store: SharedStore,
    key: EncryptionKey,
    dir: String,
    domain: String,
}

/// The short hash of a directory URL used in keys.
pub fn directory_hash(url: &str) -> String {
    let digest = Sha256::digest(url.as_bytes());
    digest[..8].iter().map(|b| format!("{b:02x}")).collect()
}

impl CertStorage {
    /// The records for `domain` obtained from the directory at `directory_url`.
    pub fn new(store: SharedStore, key: EncryptionKey, directory_url: &str, domain: &str) -> Self {
        Self {
            store,
            key,
            dir: directory_hash(directory_url),
            domain: domain.to_owned(),
        }
    }

    /// The account record's key.
    pub fn account_key(&self) -> StoreKey {
        StoreKey::new(ACCOUNTS, &self.dir)
    }

    /// The certificate record's key.
    pub fn cert_key(&self) -> StoreKey {
        StoreKey::new(CERTS, format!("{}.{}", self.dir, self.domain))
    }

    /// The pending challenge's key.
    pub fn challenge_key(&self) -> StoreKey {
        StoreKey::new(CHALLENGES, format!("{}.{}", self.dir, self.domain))
    }

    /// The pending challenge digest, if any.
    pub async fn load_challenge(&self) -> Result<Option<[u8; 32]>, TlsError> {
        let key = self.challenge_key();
        match self.store.get(&key).await? {
            None => Ok(None),
            Some(r) => r.value[..]
                .try_into()
                .map(Some)
                .map_err(|_| corrupt(&key, "not 32 bytes")),
        }
    }

    /// Shares a pending challenge digest with the other replicas.
    pub async fn save_challenge(&self, digest: &[u8; 32]) -> Result<(), TlsError> {
        let put = WriteBatch::new().put(self.challenge_key(), digest.to_vec());
        self.store.write(put).await?;
        Ok(())
    }

    /// Withdraws the shared challenge.
    pub async fn delete_challenge(&self) -> Result<(), TlsError> {
        self.store
            .write(WriteBatch::new().delete(self.challenge_key()))
            .await?;
        Ok(())
    }

    /// The name of the ordering lease.
    pub fn lease_name(&self) -> String {
        format!("tls.order.{}.{}", self.dir, self.domain)
    }

    /// The stored account credentials, if any.
    pub async fn load_account(&self) -> Result<Option<AccountCredentials>, TlsError> {
        let key = self.account_key();
        let Some(record) = self.store.get(&key).await? else {
            return Ok(None);
        };
        let plain = seal::open(&self.key, &key.to_string(), &record.value)?;
        serde_json::from_slice(&plain)
            .map(Some)
            .map_err(|e| corrupt(&key, e))
    }

    /// Keeps the account credentials, sealed.
    pub async fn save_account(&self, creds: &AccountCredentials) -> Result<(), TlsError> {
        let key = self.account_key();
        let json = serde_json::to_vec(creds).map_err(|e| corrupt(&key, e))?;
        let sealed = seal::seal(&self.key, &key.to_string(), &json)?;
        self.store.write(WriteBatch::new().put(key, sealed)).await?;
        Ok(())
    }

    /// Forgets the account (the CA no longer knows it).
    pub async fn delete_account(&self) -> Result<(), TlsError> {
        self.store
            .write(WriteBatch::new().delete(self.account_key()))
            .await?;
        Ok(())
    }

    /// The stored certificate, if any.
    pub async fn load_cert(&self) -> Result<Option<StoredCert>, TlsError> {
        let key = self.cert_key();
        let Some(record) = self.store.get(&key).await? else {
            return Ok(None);
        };
        let rec: CertRecord =
            serde_json::from_slice(&record.value).map_err(|e| corrupt(&key, e))?;
        if rec.v != 1 {
            return Err(corrupt(&key, format!("unknown version {}", rec.v)));
        }
        let sealed = URL_SAFE_NO_PAD
            .decode(rec.key.as_bytes())
            .map_err(|e| corrupt(&key, e))?;
        let key_pem = seal::open(&self.key, &key.to_string(), &sealed)?;
        Ok(Some(StoredCert {
            chain_pem: rec.chain_pem,
            key_pem: String::from_utf8(key_pem).map_err(|e| corrupt(&key, e))?,
        }))
    }

    /// Keeps a certificate and its key (sealed), replacing the previous one.
    pub async fn save_cert(&self, cert: &StoredCert) -> Result<(), TlsError> {
        let key = self.cert_key();
        let sealed = seal::seal(&self.key, &key.to_string(), cert.key_pem.as_bytes())?;
        let rec = CertRecord {
            v: 1,
            chain_pem: cert.chain_pem.clone(),
            key: URL_SAFE_NO_PAD.encode(sealed),
            stored_at: time::OffsetDateTime::now_utc().unix_timestamp(),
        };
        let json = serde_json::to_vec(&rec).map_err(|e| corrupt(&key, e))?;
        self.store.write(WriteBatch::new().put(key, json)).await?;
        Ok(())
    }
}

fn corrupt(key: &StoreKey, reason: impl std::fmt::Display) -> TlsError {
    TlsError::Corrupt {
        key: key.to_string(),
        reason: reason.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::embedded::EmbeddedStore;
    use std::sync::Arc;

    #[tokio::test]
    async fn certs_round_trip_sealed_and_directories_never_mix() {
        let dir = tempfile::tempdir().unwrap();
        let store: SharedStore = Arc::new(EmbeddedStore::open(dir.path()).unwrap());
        let k = EncryptionKey([9; 32]);
        let prod = CertStorage::new(
            Arc::clone(&store),
            k.clone(),
            "https://acme.example/dir",
            "a.test",
        );
        let staging = CertStorage::new(
            Arc::clone(&store),
            k.clone(),
            "https://staging.example/dir",
            "a.test",
        );
        assert_ne!(prod.cert_key(), staging.cert_key());
        assert_ne!(prod.lease_name(), staging.lease_name());
        let cert = StoredCert {
            chain_pem: "CHAIN".into(),
            key_pem: "-----BEGIN PRIVATE KEY-----SECRET".into(),
        };
        prod.save_cert(&cert).await.unwrap();
        assert!(staging.load_cert().await.unwrap().is_none());
        let raw = store.get(&prod.cert_key()).await.unwrap().unwrap();
        assert!(
            !String::from_utf8_lossy(&raw.value).contains("SECRET"),
            "key stored in clear"
        );
        let back = prod.load_cert().await.unwrap().unwrap();
        assert_eq!(
            (back.chain_pem.as_str(), back.key_pem.as_str()),
            ("CHAIN", cert.key_pem.as_str())
        );
        // Another session key cannot open it.
        let other = CertStorage::new(
            store,
            EncryptionKey([1; 32]),
            "https://acme.example/dir",
            "a.test",
        );
        assert!(matches!(other.load_cert().await, Err(TlsError::Seal(_))));
    }
}
