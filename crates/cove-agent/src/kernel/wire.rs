//! The Jupyter messaging protocol v5 on the wire: a message is a multipart ZeroMQ message of
//! routing prefixes, the `<IDS|MSG>` delimiter, an HMAC-SHA256 signature and four JSON frames
//! (header, parent header, metadata, content), optionally followed by binary buffers.

use bytes::Bytes;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use zeromq::ZmqMessage;

use super::error::KernelError;

const DELIMITER: &[u8] = b"<IDS|MSG>";
/// The protocol version we speak; kernels accept any 5.x.
const PROTOCOL_VERSION: &str = "5.3";

/// A decoded message; only the parts the agent reads are kept typed.
#[derive(Debug, Clone)]
pub struct Message {
    pub msg_type: String,
    /// `msg_id` of the request this message answers or reports on (empty when none).
    pub parent_id: String,
    pub content: Value,
}

/// Signs and verifies messages with the connection's key.
#[derive(Clone)]
pub struct Signer {
    key: Vec<u8>,
}

impl Signer {
    pub fn new(key: &str) -> Self {
        Signer {
            key: key.as_bytes().to_vec(),
        }
    }

    fn mac(&self, parts: &[&[u8]]) -> Option<Hmac<Sha256>> {
        // An empty key means "unsigned" in Jupyter; HMAC with an empty key would be a valid but
        // different signature that kernels would reject.
        if self.key.is_empty() {
            return None;
        }
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).ok()?;
        for p in parts {
            mac.update(p);
        }
        Some(mac)
    }

    fn sign(&self, parts: &[&[u8]]) -> String {
        match self.mac(parts) {
            Some(mac) => hex(&mac.finalize().into_bytes()),
            None => String::new(),
        }
    }

    fn verify(&self, parts: &[&[u8]], signature: &[u8]) -> bool {
        match self.mac(parts) {
            Some(mac) => {
                let Some(raw) = unhex(signature) else {
                    return false;
                };
                // `verify_slice` compares in constant time.
                mac.verify_slice(&raw).is_ok()
            }
            None => true,
        }
    }
}

/// Builds a request's frames. `session` identifies this client to the kernel across messages.
pub fn encode(
    signer: &Signer,
    session: &str,
    msg_id: &str,
    msg_type: &str,
    content: &Value,
) -> Result<ZmqMessage, KernelError> {
    let header = json!({
        "msg_id": msg_id,
        "session": session,
        "username": "cove",
        "date": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        "msg_type": msg_type,
        "version": PROTOCOL_VERSION,
    });
    let header = serde_json::to_vec(&header).map_err(KernelError::encode)?;
    let parent = b"{}".to_vec();
    let metadata = b"{}".to_vec();
    let content = serde_json::to_vec(content).map_err(KernelError::encode)?;
    let signature = signer.sign(&[&header, &parent, &metadata, &content]);
    let frames: Vec<Bytes> = vec![
        Bytes::from_static(DELIMITER),
        Bytes::from(signature.into_bytes()),
        Bytes::from(header),
        Bytes::from(parent),
        Bytes::from(metadata),
        Bytes::from(content),
    ];
    ZmqMessage::try_from(frames).map_err(|_| KernelError::Protocol("empty message".into()))
}

/// Parses and verifies one received message.
pub fn decode(signer: &Signer, msg: ZmqMessage) -> Result<Message, KernelError> {
    let frames = msg.into_vec();
    let delim = frames
        .iter()
        .position(|f| f.as_ref() == DELIMITER)
        .ok_or_else(|| KernelError::Protocol("message without <IDS|MSG> delimiter".into()))?;
    let rest = &frames[delim + 1..];
    if rest.len() < 5 {
        return Err(KernelError::Protocol(format!(
            "message with {} frames after the delimiter",
            rest.len()
        )));
    }
    let (sig, header, parent, metadata, content) =
        (&rest[0], &rest[1], &rest[2], &rest[3], &rest[4]);
    if !signer.verify(&[header, parent, metadata, content], sig) {
        return Err(KernelError::Protocol("bad message signature".into()));
    }
    let header: Value = serde_json::from_slice(header).map_err(KernelError::decode)?;
    let parent: Value = serde_json::from_slice(parent).map_err(KernelError::decode)?;
    let content: Value = serde_json::from_slice(content).map_err(KernelError::decode)?;
    let field = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    Ok(Message {
        msg_type: field(&header, "msg_type"),
        parent_id: field(&parent, "msg_id"),
        content,
    })
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    s
}

fn unhex(s: &[u8]) -> Option<Vec<u8>> {
    if s.len() & 1 != 0 {
        return None;
    }
    let nibble = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    s.chunks(2)
        .map(|p| Some(nibble(p[0])? << 4 | nibble(p[1])?))
        .collect()
}

/// Random lowercase hex from the kernel's CSPRNG, for keys and ids.
pub fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    if getrandom(&mut buf).is_err() {
        // Not reachable on Linux >= 3.17; ids stay unique through the time and counter mix-in.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        for (i, b) in buf.iter_mut().enumerate() {
            *b = (nanos >> ((i % 16) * 8)) as u8 ^ (i as u8);
        }
    }
    hex(&buf)
}

fn getrandom(buf: &mut [u8]) -> std::io::Result<()> {
    let mut filled = 0;
    while filled < buf.len() {
        // SAFETY: the pointer and length describe the unfilled tail of `buf`.
        let n =
            unsafe { libc::getrandom(buf[filled..].as_mut_ptr().cast(), buf.len() - filled, 0) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        filled += n as usize;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip_and_signature() {
        let signer = Signer::new("secret");
        let msg =
            encode(&signer, "s", "m1", "execute_request", &json!({"code": "1"})).expect("encode");
        let frames = msg.clone().into_vec();
        assert_eq!(frames[0].as_ref(), DELIMITER);
        assert_eq!(frames[1].len(), 64);
        let back = decode(&signer, msg.clone()).expect("decode");
        assert_eq!(back.msg_type, "execute_request");
        assert_eq!(back.content["code"], "1");
        assert!(decode(&Signer::new("other"), msg).is_err());
    }

    #[test]
    fn routing_prefixes_are_skipped() {
        let signer = Signer::new("");
        let msg = encode(&signer, "s", "m1", "status", &json!({})).expect("encode");
        let mut frames = msg.into_vec();
        frames.insert(0, Bytes::from_static(b"kernel.abc.status"));
        let msg = ZmqMessage::try_from(frames).expect("frames");
        assert_eq!(decode(&signer, msg).expect("decode").msg_type, "status");
    }

    #[test]
    fn hex_roundtrip() {
        assert_eq!(
            unhex(hex(&[0, 1, 0xab, 0xff]).as_bytes()),
            Some(vec![0, 1, 0xab, 0xff])
        );
        assert_eq!(random_hex(16).len(), 32);
        assert_ne!(random_hex(16), random_hex(16));
    }
}
