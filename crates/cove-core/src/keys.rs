//! API keys: only SHA-256 hashes are stored; presented secrets are hashed and compared in constant
//! time against every known hash, so neither the secret nor the matching position leaks by timing.

use crate::error::CoreResult;
use chrono::Utc;
use cove_store::{ApiKeyRecord, Store};
use sha2::{Digest, Sha256};
use std::sync::{Arc, RwLock};
use subtle::ConstantTimeEq;

/// Verifies and issues API keys.
#[derive(Clone)]
pub struct KeyService {
    store: Arc<dyn Store>,
    hashes: Arc<RwLock<Vec<[u8; 32]>>>,
}

fn hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl KeyService {
    /// Loads the known keys.
    pub async fn load(store: Arc<dyn Store>) -> CoreResult<Self> {
        let keys = store.list_api_keys().await?;
        let mut hashes = Vec::with_capacity(keys.len());
        for k in keys {
            let mut h = [0u8; 32];
            for (i, chunk) in k.hash.as_bytes().chunks(2).enumerate().take(32) {
                let s = std::str::from_utf8(chunk).unwrap_or("00");
                h[i] = u8::from_str_radix(s, 16).unwrap_or(0);
            }
            hashes.push(h);
        }
        Ok(Self {
            store,
            hashes: Arc::new(RwLock::new(hashes)),
        })
    }

    /// Makes sure a system key exists. With `configured`, that key is registered (idempotent).
    /// Without, a key is generated when none exists yet and its secret is returned exactly once.
    pub async fn ensure_system_key(&self, configured: Option<&str>) -> CoreResult<Option<String>> {
        if let Some(secret) = configured {
            if !self.verify(secret) {
                self.insert(secret, "system", true).await?;
            }
            return Ok(None);
        }
        let has_system = self
            .store
            .list_api_keys()
            .await?
            .iter()
            .any(|k| k.is_system);
        if has_system {
            return Ok(None);
        }
        let secret = format!("cove_{}", cove_types::new_secret(40));
        self.insert(&secret, "system", true).await?;
        Ok(Some(secret))
    }

    async fn insert(&self, secret: &str, name: &str, is_system: bool) -> CoreResult<()> {
        let h = hash(secret);
        let rec = ApiKeyRecord {
            id: format!("key_{}", cove_types::new_secret(12)),
            name: name.to_string(),
            hash: hex(&h),
            prefix: secret.chars().take(8).collect(),
            is_system,
            created_at: Utc::now(),
        };
        self.store.insert_api_key(&rec).await?;
        if let Ok(mut w) = self.hashes.write() {
            w.push(h);
        }
        Ok(())
    }

    /// True when `secret` is a known key.
    pub fn verify(&self, secret: &str) -> bool {
        let h = hash(secret);
        let Ok(known) = self.hashes.read() else {
            return false;
        };
        let mut found = subtle::Choice::from(0u8);
        for k in known.iter() {
            found |= k.ct_eq(&h);
        }
        found.into()
    }
}
