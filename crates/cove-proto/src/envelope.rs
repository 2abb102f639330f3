//! Connect streaming envelopes: `[flags u8][length u32 big-endian][payload]`. Streaming requests and
//! responses are sequences of these; a response always ends with one end-stream envelope (flag
//! 0x02) whose payload is an [`EndStream`](crate::EndStream) JSON object.

use crate::code::{ConnectError, EndStream};

/// Flag bit of a compressed payload; the E2B SDKs never compress, so Cove rejects it.
pub const FLAG_COMPRESSED: u8 = 0x01;
/// Flag bit of the end-stream envelope that closes a response stream.
pub const FLAG_END_STREAM: u8 = 0x02;
/// Largest payload accepted, so a corrupt length prefix cannot make the decoder buffer gigabytes.
pub const MAX_FRAME_LEN: usize = 16 * 1024 * 1024;
/// Size of the envelope prefix.
pub const HEADER_LEN: usize = 5;

/// Frames one payload.
pub fn encode(flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.push(flags);
    // Payloads are produced by us and bounded far below 4 GiB; saturate rather than wrap just in case.
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// Serializes a message as JSON and frames it as a data envelope.
pub fn encode_message<T: serde::Serialize>(msg: &T) -> Result<Vec<u8>, serde_json::Error> {
    Ok(encode(0, &serde_json::to_vec(msg)?))
}

/// The successful end-stream envelope (`{}`).
pub fn end_stream_ok() -> Vec<u8> {
    encode(FLAG_END_STREAM, b"{}")
}

/// An end-stream envelope carrying an error.
pub fn end_stream_error(err: &ConnectError) -> Vec<u8> {
    let end = EndStream {
        error: Some(err.clone()),
    };
    // Serializing two strings cannot fail; the fallback only keeps this function total.
    let payload = serde_json::to_vec(&end).unwrap_or_else(|_| b"{}".to_vec());
    encode(FLAG_END_STREAM, &payload)
}

/// One decoded envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub flags: u8,
    pub payload: Vec<u8>,
}

impl Frame {
    pub fn is_end_stream(&self) -> bool {
        self.flags & FLAG_END_STREAM != 0
    }
}

/// Why an envelope stream cannot be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("compressed envelopes are not supported")]
    Compressed,
    #[error("envelope of {0} bytes exceeds the limit of {MAX_FRAME_LEN} bytes")]
    TooLarge(usize),
    #[error("stream ended inside an envelope ({0} bytes left over)")]
    Truncated(usize),
}

/// Incremental decoder: feed bytes as they arrive with [`push`](Self::push), then drain complete
/// frames with [`next_frame`](Self::next_frame). Frames may be split across pushes arbitrarily.
#[derive(Debug, Default)]
pub struct EnvelopeDecoder {
    buf: Vec<u8>,
    /// Offset of the first unconsumed byte; compacting lazily avoids O(n^2) copying.
    start: usize,
}

impl EnvelopeDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 && self.start >= self.buf.len() / 2 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Bytes buffered but not yet returned as a frame.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// Returns the next complete frame, `None` if more bytes are needed.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, EnvelopeError> {
        let avail = &self.buf[self.start..];
        if avail.len() < HEADER_LEN {
            return Ok(None);
        }
        let flags = avail[0];
        if flags & FLAG_COMPRESSED != 0 {
            return Err(EnvelopeError::Compressed);
        }
        let len = u32::from_be_bytes([avail[1], avail[2], avail[3], avail[4]]) as usize;
        if len > MAX_FRAME_LEN {
            return Err(EnvelopeError::TooLarge(len));
        }
        if avail.len() < HEADER_LEN + len {
            return Ok(None);
        }
        let payload = avail[HEADER_LEN..HEADER_LEN + len].to_vec();
        self.start += HEADER_LEN + len;
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
        Ok(Some(Frame { flags, payload }))
    }

    /// Call at end of input: errors if a partial frame is left over.
    pub fn finish(&self) -> Result<(), EnvelopeError> {
        match self.buffered() {
            0 => Ok(()),
            n => Err(EnvelopeError::Truncated(n)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::code::Code;

    #[test]
    fn encode_layout() {
        assert_eq!(encode(0, b"{}"), vec![0, 0, 0, 0, 2, b'{', b'}']);
        assert_eq!(end_stream_ok(), vec![2, 0, 0, 0, 2, b'{', b'}']);
    }

    #[test]
    fn split_across_pushes() {
        let bytes = encode(0, br#"{"a":1}"#);
        let mut d = EnvelopeDecoder::new();
        for b in &bytes[..bytes.len() - 1] {
            d.push(std::slice::from_ref(b));
            assert_eq!(d.next_frame(), Ok(None));
        }
        d.push(&bytes[bytes.len() - 1..]);
        let f = d.next_frame().ok().flatten();
        assert_eq!(
            f,
            Some(Frame {
                flags: 0,
                payload: br#"{"a":1}"#.to_vec()
            })
        );
        assert_eq!(d.next_frame(), Ok(None));
        assert_eq!(d.finish(), Ok(()));
    }

    #[test]
    fn multiple_frames_in_one_push() {
        let mut all = encode(0, b"1");
        all.extend(encode(0, b"22"));
        all.extend(end_stream_error(&ConnectError::new(Code::NotFound, "gone")));
        all.extend(&[0, 0]); // start of an incomplete fourth frame
        let mut d = EnvelopeDecoder::new();
        d.push(&all);
        let mut frames = Vec::new();
        while let Ok(Some(f)) = d.next_frame() {
            frames.push(f);
        }
        assert_eq!(frames.len(), 3);
        assert_eq!(frames[0].payload, b"1");
        assert_eq!(frames[1].payload, b"22");
        assert!(frames[2].is_end_stream());
        let end: EndStream = serde_json::from_slice(&frames[2].payload).unwrap_or_default();
        assert_eq!(end.error.map(|e| e.code()), Some(Code::NotFound));
        assert_eq!(d.finish(), Err(EnvelopeError::Truncated(2)));
    }

    #[test]
    fn rejects_compressed_and_huge() {
        let mut d = EnvelopeDecoder::new();
        d.push(&encode(FLAG_COMPRESSED, b"x"));
        assert_eq!(d.next_frame(), Err(EnvelopeError::Compressed));
        let mut d = EnvelopeDecoder::new();
        d.push(&[0, 0x10, 0, 0, 1]);
        assert!(matches!(d.next_frame(), Err(EnvelopeError::TooLarge(_))));
    }
}
