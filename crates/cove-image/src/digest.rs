//! Content digests (`sha256:<64 hex>`) and a reader that hashes what passes through it, so blobs
//! and layers are verified while they stream instead of in a second pass.

use crate::error::{ImageError, ImageResult};
use sha2::{Digest as _, Sha256};
use std::io::Read;

/// A validated `sha256:<hex>` digest. Other algorithms are refused: every image tool Cove meets
/// produces sha256, and accepting unknown ones would mean not verifying them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(String);

impl Digest {
    /// Parses and validates `s`.
    pub fn parse(s: &str) -> ImageResult<Self> {
        let hex = s
            .strip_prefix("sha256:")
            .ok_or_else(|| ImageError::Invalid(format!("unsupported digest {s:?}")))?;
        if hex.len() != 64 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(ImageError::Invalid(format!("malformed digest {s:?}")));
        }
        Ok(Self(s.to_string()))
    }

    /// The 64 hex characters; safe to use as a file name.
    pub fn hex(&self) -> &str {
        &self.0[7..]
    }

    /// `sha256:<hex>`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Self(format!("sha256:{}", hex::encode(Sha256::digest(bytes))))
    }
}

impl std::fmt::Display for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Hashes (and counts) every byte read through it.
pub struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
    bytes: u64,
}

impl<R: Read> HashingReader<R> {
    /// Wraps `inner`.
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            bytes: 0,
        }
    }

    /// Reads the rest (tar streams end before their padding) and returns the digest and size.
    pub fn finish(mut self) -> std::io::Result<(Digest, u64)> {
        std::io::copy(&mut self, &mut std::io::sink())?;
        let hex = hex::encode(self.hasher.finalize());
        Ok((Digest(format!("sha256:{hex}")), self.bytes))
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.bytes += n as u64;
        Ok(n)
    }
}

/// Fails with [`ImageError::Digest`] unless `actual == expected`.
pub fn verify(what: &str, expected: &Digest, actual: &Digest) -> ImageResult<()> {
    if expected == actual {
        Ok(())
    } else {
        Err(ImageError::Digest {
            what: what.to_string(),
            expected: expected.to_string(),
            actual: actual.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        let d = Digest::of(b"");
        assert_eq!(
            d.hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert!(Digest::parse(d.as_str()).is_ok());
        for bad in ["sha512:00", "sha256:xyz", "sha256:../../etc", "e3b0"] {
            assert!(Digest::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn hashing_reader_matches() -> std::io::Result<()> {
        let r = HashingReader::new(&b"hello"[..]);
        let (d, n) = r.finish()?;
        assert_eq!(d, Digest::of(b"hello"));
        assert_eq!(n, 5);
        Ok(())
    }
}
