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

    /// Issues a new key and returns its record and secret (the only time the secret is seen).
    /// `e2b_format` gives `e2b_` + 40 hex characters, a shape some E2B SDK versions insist on.
    pub async fn create(&self, name: &str, e2b_format: bool) -> CoreResult<(ApiKeyRecord, String)> {
        let name = name.trim();
        if name.is_empty() || name.len() > 100 {
            return Err(crate::CoreError::invalid(
                "key name must be 1..100 characters",
            ));
        }
        let secret = if e2b_format {
            use rand::Rng;
            let mut rng = rand::thread_rng();
            let hexits: String = (0..40)
                .map(|_| char::from_digit(rng.gen_range(0..16u32), 16).unwrap_or('0'))
                .collect();
            format!("e2b_{hexits}")
        } else {
            format!("cove_{}", cove_types::new_secret(40))
        };
        let rec = self.insert(&secret, name, false).await?;
        Ok((rec, secret))
    }

    /// Every key (without secrets).
    pub async fn list(&self) -> CoreResult<Vec<ApiKeyRecord>> {
        Ok(self.store.list_api_keys().await?)
    }

    async fn insert(&self, secret: &str, name: &str, is_system: bool) -> CoreResult<ApiKeyRecord> {
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
        Ok(rec)
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
