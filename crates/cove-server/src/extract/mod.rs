//! Extractors whose rejections use the native error envelope.

mod json;
mod path;
mod query;

pub(crate) use json::{json_body, ApiJson};
pub(crate) use path::ApiPath;
pub(crate) use query::ApiQuery;
