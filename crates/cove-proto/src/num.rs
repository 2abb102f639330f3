//! Lenient integer parsing for proto3 JSON: numbers may arrive as JSON numbers or as decimal
//! strings, and `null` means zero. Use with `#[serde(deserialize_with = "cove_proto::num::deserialize")]`
//! (or `num::option::deserialize` for `Option<_>`); output stays a plain JSON number.

use std::fmt;

use serde::de::{Error, Visitor};
use serde::Deserializer;

struct IntVisitor;

impl Visitor<'_> for IntVisitor {
    type Value = Option<i128>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an integer or a decimal string")
    }
    fn visit_i64<E: Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Some(i128::from(v)))
    }
    fn visit_u64<E: Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(Some(i128::from(v)))
    }
    fn visit_f64<E: Error>(self, v: f64) -> Result<Self::Value, E> {
        // proto3 JSON allows exponent notation such as 1e3 as long as the value is integral.
        if v.fract() == 0.0 && v.abs() < 1e38 {
            Ok(Some(v as i128))
        } else {
            Err(E::custom(format!("{v} is not an integer")))
        }
    }
    fn visit_str<E: Error>(self, v: &str) -> Result<Self::Value, E> {
        let t = v.trim();
        if let Ok(n) = t.parse::<i128>() {
            return Ok(Some(n));
        }
        t.parse::<f64>()
            .map_err(|_| E::custom(format!("invalid integer {v:?}")))
            .and_then(|f| self.visit_f64(f))
    }
    fn visit_unit<E: Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_none<E: Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

pub(crate) fn parse<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<i128>,
{
    match d.deserialize_any(IntVisitor)? {
        Some(n) => T::try_from(n)
            .map(Some)
            .map_err(|_| D::Error::custom(format!("integer {n} out of range"))),
        None => Ok(None),
    }
}

/// Deserializes an integer from a number or string; `null` gives zero.
pub fn deserialize<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<i128> + Default,
{
    Ok(parse(d)?.unwrap_or_default())
}

/// The same for `Option<_>` fields; `null` gives `None`.
pub mod option {
    use serde::Deserializer;

    pub fn deserialize<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
    where
        D: Deserializer<'de>,
        T: TryFrom<i128>,
    {
        super::parse(d)
    }
}
