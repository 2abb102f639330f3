//! Warm-pool calls.

use cove_api::{Pool, PoolList, PooledSandboxList, SetPoolRequest};
use reqwest::Method;

use crate::{decode, Client, Result};

impl Client {
    /// `GET /v1/pools`.
    pub fn pools(&self) -> Result<PoolList> {
        let rb = self.request(Method::GET, &["v1", "pools"], &[])?;
        decode(self.send(rb)?)
    }

    /// `GET /v1/pools/{template}`.
    pub fn pool(&self, template: &str) -> Result<Pool> {
        let rb = self.request(Method::GET, &["v1", "pools", template], &[])?;
        decode(self.send(rb)?)
    }

    /// `PUT /v1/pools/{template}`.
    pub fn set_pool(&self, template: &str, min_idle: u32, max: Option<u32>) -> Result<Pool> {
        let rb = self.request(Method::PUT, &["v1", "pools", template], &[])?;
        decode(self.send(rb.json(&SetPoolRequest { min_idle, max }))?)
    }

    /// `DELETE /v1/pools/{template}`.
    pub fn delete_pool(&self, template: &str) -> Result<()> {
        let rb = self.request(Method::DELETE, &["v1", "pools", template], &[])?;
        self.send(rb).map(drop)
    }

    /// `GET /v1/pools/{template}/sandboxes`.
    pub fn pool_sandboxes(&self, template: &str) -> Result<PooledSandboxList> {
        let rb = self.request(Method::GET, &["v1", "pools", template, "sandboxes"], &[])?;
        decode(self.send(rb)?)
    }
}
