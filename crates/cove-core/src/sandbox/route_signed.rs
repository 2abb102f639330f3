//! Routing of E2B signed file URLs (`/files?…&signature=v1_…`), which carry no sandbox id and no
//! access token: the sandbox is the one whose token produced the signature.

use super::route::AgentRoute;
use super::SandboxService;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine as _;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// `v1_` + unpadded standard base64 of sha256("path:operation:username:token[:expiration]"), the
/// scheme the E2B SDKs use and the agent verifies.
fn sign(path: &str, operation: &str, username: &str, token: &str, exp: Option<&str>) -> String {
    let mut raw = format!("{path}:{operation}:{username}:{token}");
    if let Some(exp) = exp {
        raw.push(':');
        raw.push_str(exp);
    }
    format!(
        "v1_{}",
        STANDARD_NO_PAD.encode(Sha256::digest(raw.as_bytes()))
    )
}

impl SandboxService {
    /// The running sandbox whose access token yields `signature` for this file operation
    /// (`operation` is `read` or `write`). Expiry is not checked here: the agent enforces it, and a
    /// stale URL should reach it to get the agent's 401 rather than "sandbox not found".
    pub fn route_by_file_signature(
        &self,
        path: &str,
        operation: &str,
        username: &str,
        expiration: Option<&str>,
        signature: &str,
    ) -> Option<AgentRoute> {
        let map = self.inner.live.read().ok()?;
        let mut found = None;
        // Every candidate is hashed and compared in constant time, so the time taken does not say
        // which sandbox (if any) matched.
        for live in map.values() {
            let expected = sign(path, operation, username, &live.token, expiration);
            if bool::from(expected.as_bytes().ct_eq(signature.as_bytes())) {
                found = Some(AgentRoute {
                    sandbox_id: live.id.clone(),
                    client: live.client.clone(),
                });
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::sign;

    #[test]
    fn matches_the_sdk_scheme() {
        // Vector computed independently (Python hashlib + base64, padding stripped).
        let s = sign("/home/user/a.txt", "read", "", "tok", None);
        assert_eq!(s, "v1_Zkbb3914oLJLvMBzCAHQhm2ydBLxbSx2eQUR/kLdvIY");
        assert_ne!(s, sign("/home/user/a.txt", "read", "", "tok", Some("1")));
    }
}
