//! Cove's image layer: everything between "an image or recipe somewhere" and "a list of directories
//! the runtime can stack as overlay lower dirs".
//!
//! - [`ImageStore`] is the content-addressed store under `<data>/images/` (blobs by digest,
//!   unpacked layers by diff-id or build-cache key);
//! - [`unpack`] turns a layer tarball into a layer directory with overlay-native whiteouts,
//!   refusing path traversal, writes through symlinks and device nodes;
//! - [`layout`] imports OCI image layouts (directory or tar) and `docker save` archives,
//!   [`registry`] pulls from registries, [`debian`] bootstraps Debian with `mmdebstrap`;
//! - [`recipe`] and [`dockerfile`] describe builds; [`capture`] turns a build step's overlay upper
//!   dir into a layer.
//!
//! Everything except [`registry::pull`] is synchronous: callers run it on blocking threads.

#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod capture;
pub mod debian;
pub mod digest;
pub mod dockerfile;
mod error;
pub mod layout;
pub mod oci;
pub mod recipe;
pub mod registry;
mod store;
pub mod unpack;

pub use digest::Digest;
pub use error::{ImageError, ImageResult};
pub use layout::Imported;
pub use store::{find_in_layers, is_layer_id, ImageStore};
