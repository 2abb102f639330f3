//! Identifier generation. Sandbox IDs are 20 characters of `[a-z0-9]`, the shape E2B clients expect.

use rand::Rng;

/// Length of a sandbox ID.
pub const SANDBOX_ID_LEN: usize = 20;

const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";

fn random_string(len: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

/// A fresh random sandbox ID.
pub fn new_sandbox_id() -> String {
    random_string(SANDBOX_ID_LEN)
}

/// True when `s` has the shape of a sandbox ID (it may still not exist).
pub fn is_sandbox_id(s: &str) -> bool {
    s.len() == SANDBOX_ID_LEN && s.bytes().all(|b| ALPHABET.contains(&b))
}

/// A random secret of `len` lowercase alphanumerics (API keys, access tokens).
pub fn new_secret(len: usize) -> String {
    random_string(len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_the_e2b_shape() {
        for _ in 0..100 {
            let id = new_sandbox_id();
            assert!(is_sandbox_id(&id), "{id}");
        }
        assert!(!is_sandbox_id("ABC"));
        assert!(!is_sandbox_id("aaaaaaaaaaaaaaaaaaa-"));
    }
}
