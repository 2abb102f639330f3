//! Proto3 JSON mapping for `int64`: emitted as a decimal string (JavaScript numbers lose precision
//! above 2^53), accepted as a string or a number. Use with `#[serde(with = "cove_proto::i64_str")]`.

use serde::{Deserializer, Serializer};

pub fn serialize<S: Serializer>(value: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(value)
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    crate::num::deserialize(d)
}
