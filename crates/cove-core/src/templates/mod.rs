//! Templates: what a sandbox's root filesystem and defaults come from. The embedded `base`
//! template is composed from the host; every other template is a stack of layers in the image
//! store, produced by importing an image (registry, OCI layout, archive) or by building a recipe or
//! Dockerfile in the background. Names work wherever ids do; [`catalog::Catalog::resolve`] is the
//! one place that turns either into a rootfs.

mod build;
mod catalog;
mod log;
mod service;
mod source;
mod start;
mod steps;

pub use catalog::BASE_TEMPLATE;
pub(crate) use catalog::{Catalog, Template};
pub use service::{TemplateInput, TemplateSpec, TemplateView};
