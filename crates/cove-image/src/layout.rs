//! Importing an image from a local OCI image layout (a directory with `oci-layout`, `index.json`
//! and `blobs/`, or a `.tar` of one, as `skopeo copy … oci-archive:`, `umoci` and `docker save`
//! produce) and from the older `docker save` format (`manifest.json` + per-layer tars).

use crate::digest::{verify, Digest};
use crate::error::{ImageError, ImageResult, IoContext};
use crate::oci::{self, Descriptor, Index, Manifest, RunConfig};
use crate::store::ImageStore;
use serde::Deserialize;
use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// Largest JSON document (index, manifest, config) read into memory.
const MAX_JSON: u64 = 16 * 1024 * 1024;

/// An image whose layers are in the store.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    /// Layer ids, bottom first.
    pub layers: Vec<String>,
    /// The config's runtime defaults.
    pub config: RunConfig,
}

/// Imports the layout at `path` (directory or tar). `log` receives progress lines.
pub fn import(
    store: &ImageStore,
    path: &Path,
    log: &mut dyn FnMut(String),
) -> ImageResult<Imported> {
    let meta = fs::metadata(path).at("stat", path)?;
    if meta.is_dir() {
        return import_dir(store, path, log);
    }
    log(format!(
        "extracting archive ({:.1} MiB)",
        meta.len() as f64 / 1048576.0
    ));
    let tmp = store.tmp_dir("archive")?;
    let res = (|| {
        let f = File::open(path).at("open", path)?;
        extract_archive(f, &tmp)?;
        import_dir(store, &tmp, log)
    })();
    let _ = crate::unpack::clear(&tmp);
    res
}

/// Extracts a layout archive: only directories and regular files, at normal relative paths.
/// Symlinks (old `docker save` dedup) become copies of what they point to inside the archive.
fn extract_archive<R: Read>(r: R, dst: &Path) -> ImageResult<()> {
    let mut ar = tar::Archive::new(r);
    let mut links = Vec::new();
    for e in ar
        .entries()
        .map_err(|e| ImageError::Invalid(format!("archive: {e}")))?
    {
        let mut e = e.map_err(|e| ImageError::Invalid(format!("archive: {e}")))?;
        let raw = e.path_bytes().into_owned();
        if raw.iter().all(|b| *b == b'.' || *b == b'/') && !raw.windows(2).any(|w| w == b"..") {
            // The archive root (`./`), as `tar -C dir -cf x.tar .` writes it.
            continue;
        }
        let rel = safe_rel(&raw)
            .ok_or_else(|| ImageError::Invalid("archive has an unsafe path".into()))?;
        let out = dst.join(&rel);
        match e.header().entry_type() {
            tar::EntryType::Directory => fs::create_dir_all(&out).at("mkdir", &out)?,
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                if let Some(p) = out.parent() {
                    fs::create_dir_all(p).at("mkdir", p)?;
                }
                let mut f = File::create(&out).at("create", &out)?;
                std::io::copy(&mut e, &mut f)
                    .map_err(|err| ImageError::Invalid(format!("archive: {err}")))?;
            }
            tar::EntryType::Symlink | tar::EntryType::Link => {
                let target = e.link_name_bytes().map(|b| b.into_owned());
                if let Some(t) = target {
                    links.push((rel, t));
                }
            }
            _ => {}
        }
    }
    for (rel, target) in links {
        let base = if target.first() == Some(&b'/') {
            PathBuf::new()
        } else {
            rel.parent().map(Path::to_path_buf).unwrap_or_default()
        };
        let mut joined = base.as_os_str().as_encoded_bytes().to_vec();
        if !joined.is_empty() {
            joined.push(b'/');
        }
        joined.extend_from_slice(&target);
        let Some(src) = normalize(&joined) else {
            return Err(ImageError::Invalid(
                "archive link escapes the archive".into(),
            ));
        };
        let from = dst.join(&src);
        let to = dst.join(&rel);
        if fs::symlink_metadata(&from).is_ok_and(|m| m.is_file()) {
            if let Some(p) = to.parent() {
                fs::create_dir_all(p).at("mkdir", p)?;
            }
            fs::copy(&from, &to).at("copy", &to)?;
        }
    }
    Ok(())
}

/// Relative path with only normal components, or `None`.
fn safe_rel(raw: &[u8]) -> Option<PathBuf> {
    let p = Path::new(OsStr::from_bytes(raw));
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::Normal(n) => out.push(n),
            std::path::Component::CurDir => {}
            _ => return None,
        }
    }
    (!out.as_os_str().is_empty()).then_some(out)
}

/// Resolves `..` lexically; `None` when it climbs above the root.
fn normalize(raw: &[u8]) -> Option<PathBuf> {
    let p = Path::new(OsStr::from_bytes(raw));
    let mut out: Vec<&OsStr> = Vec::new();
    for c in p.components() {
        match c {
            std::path::Component::Normal(n) => out.push(n),
            std::path::Component::ParentDir => {
                out.pop()?;
            }
            _ => {}
        }
    }
    Some(out.iter().collect())
}

/// Opens `dir/rel` for reading, refusing anything that is not a regular file inside `dir`.
fn open_in(dir: &Path, rel: &str) -> ImageResult<File> {
    let r = safe_rel(rel.as_bytes())
        .ok_or_else(|| ImageError::Invalid(format!("unsafe path {rel:?} in image")))?;
    let p = dir.join(r);
    match fs::symlink_metadata(&p) {
        Ok(m) if m.is_file() => File::open(&p).at("open", &p),
        Ok(_) => Err(ImageError::Invalid(format!("{rel} is not a regular file"))),
        Err(_) => Err(ImageError::Invalid(format!("image is missing {rel}"))),
    }
}

fn read_small(dir: &Path, rel: &str) -> ImageResult<Vec<u8>> {
    let f = open_in(dir, rel)?;
    let mut buf = Vec::new();
    f.take(MAX_JSON + 1)
        .read_to_end(&mut buf)
        .map_err(|e| ImageError::io("read", dir.join(rel), e))?;
    if buf.len() as u64 > MAX_JSON {
        return Err(ImageError::Invalid(format!("{rel} is too large")));
    }
    Ok(buf)
}

fn blob_rel(d: &Digest) -> String {
    format!("blobs/sha256/{}", d.hex())
}

/// Reads a blob of the layout and checks its digest.
fn read_blob(dir: &Path, desc: &Descriptor) -> ImageResult<Vec<u8>> {
    let d = Digest::parse(&desc.digest)?;
    let bytes = read_small(dir, &blob_rel(&d))?;
    verify(&format!("blob {d}"), &d, &Digest::of(&bytes))?;
    Ok(bytes)
}

fn import_dir(
    store: &ImageStore,
    dir: &Path,
    log: &mut dyn FnMut(String),
) -> ImageResult<Imported> {
    if dir.join("index.json").is_file() {
        let raw = read_small(dir, "index.json")?;
        let index: Index = serde_json::from_slice(&raw)
            .map_err(|e| ImageError::Invalid(format!("index.json: {e}")))?;
        let mut desc = oci::pick_platform(&index)
            .or_else(|_| {
                index
                    .manifests
                    .first()
                    .ok_or_else(|| ImageError::Invalid("index.json lists no image".into()))
            })?
            .clone();
        // Nested indexes (multi-arch images) are followed a few levels down.
        for _ in 0..4 {
            let bytes = read_blob(dir, &desc)?;
            let value: serde_json::Value = serde_json::from_slice(&bytes)
                .map_err(|e| ImageError::Invalid(format!("manifest {}: {e}", desc.digest)))?;
            let mt = value
                .get("mediaType")
                .and_then(|v| v.as_str())
                .map(str::to_string)
                .or_else(|| Some(desc.media_type.clone()).filter(|s| !s.is_empty()));
            if oci::is_index(mt.as_deref(), &value) {
                let idx: Index = serde_json::from_value(value)
                    .map_err(|e| ImageError::Invalid(format!("index {}: {e}", desc.digest)))?;
                desc = oci::pick_platform(&idx)?.clone();
                continue;
            }
            let m: Manifest = serde_json::from_value(value)
                .map_err(|e| ImageError::Invalid(format!("manifest {}: {e}", desc.digest)))?;
            return import_manifest(store, dir, &m, log);
        }
        return Err(ImageError::Invalid("image indexes nest too deeply".into()));
    }
    if dir.join("manifest.json").is_file() {
        return import_docker_save(store, dir, log);
    }
    Err(ImageError::Invalid(
        "not an OCI image layout (no index.json) nor a docker save archive (no manifest.json)"
            .into(),
    ))
}

fn import_manifest(
    store: &ImageStore,
    dir: &Path,
    m: &Manifest,
    log: &mut dyn FnMut(String),
) -> ImageResult<Imported> {
    let cfg_bytes = read_blob(dir, &m.config)?;
    let (cfg, diff_ids) = oci::parse_config(&cfg_bytes, m.layers.len())?;
    let mut layers = Vec::new();
    let n = m.layers.len();
    for (i, (desc, diff_id)) in m.layers.iter().zip(&diff_ids).enumerate() {
        check_layer_media_type(&desc.media_type)?;
        let blob = Digest::parse(&desc.digest)?;
        if store.has_layer(diff_id.hex()) {
            log(format!("layer {}/{n} {} cached", i + 1, short(&blob)));
            layers.push(diff_id.hex().to_string());
            continue;
        }
        let started = std::time::Instant::now();
        let f = open_in(dir, &blob_rel(&blob))?;
        let (id, u) = store.unpack(f, Some(&blob), diff_id)?;
        log(format!(
            "layer {}/{n} {} unpacked: {} entries, {:.1} MiB in {:.1}s",
            i + 1,
            short(&blob),
            u.entries,
            u.tar_bytes as f64 / 1048576.0,
            started.elapsed().as_secs_f64()
        ));
        layers.push(id);
    }
    Ok(Imported {
        layers,
        config: cfg.config.unwrap_or_default(),
    })
}

/// Accepts the layer media types Cove can unpack (compression is detected from the bytes).
pub(crate) fn check_layer_media_type(mt: &str) -> ImageResult<()> {
    let ok = mt.is_empty()
        || mt.starts_with("application/vnd.oci.image.layer.v1.tar")
        || mt.starts_with("application/vnd.docker.image.rootfs.diff.tar");
    if ok {
        Ok(())
    } else {
        Err(ImageError::Invalid(format!(
            "unsupported layer media type {mt}"
        )))
    }
}

/// First 12 hex chars, for logs.
pub(crate) fn short(d: &Digest) -> &str {
    &d.hex()[..12]
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerSaveEntry {
    config: String,
    layers: Vec<String>,
}

fn import_docker_save(
    store: &ImageStore,
    dir: &Path,
    log: &mut dyn FnMut(String),
) -> ImageResult<Imported> {
    let raw = read_small(dir, "manifest.json")?;
    let entries: Vec<DockerSaveEntry> = serde_json::from_slice(&raw)
        .map_err(|e| ImageError::Invalid(format!("manifest.json: {e}")))?;
    let e = entries
        .first()
        .ok_or_else(|| ImageError::Invalid("manifest.json lists no image".into()))?;
    let cfg_bytes = read_small(dir, &e.config)?;
    let (cfg, diff_ids) = oci::parse_config(&cfg_bytes, e.layers.len())?;
    let mut layers = Vec::new();
    let n = e.layers.len();
    for (i, (rel, diff_id)) in e.layers.iter().zip(&diff_ids).enumerate() {
        if !store.has_layer(diff_id.hex()) {
            let f = open_in(dir, rel)?;
            store.unpack(f, None, diff_id)?;
        }
        log(format!("layer {}/{n} {} ready", i + 1, short(diff_id)));
        layers.push(diff_id.hex().to_string());
    }
    Ok(Imported {
        layers,
        config: cfg.config.unwrap_or_default(),
    })
}
