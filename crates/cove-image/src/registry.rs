//! Pulling an image from an OCI distribution registry with `oci-client`: multi-arch indexes resolve
//! to linux/amd64, every blob is verified against its digest while it downloads (and again, with
//! the diff-id, while it unpacks), and layers already in the store are not downloaded again.

use crate::digest::Digest;
use crate::error::{ImageError, ImageResult};
use crate::layout::{check_layer_media_type, short, Imported};
use crate::oci;
use crate::store::ImageStore;
use oci_client::client::{linux_amd64_resolver, ClientConfig, ClientProtocol};
use oci_client::secrets::RegistryAuth;
use oci_client::{Client, Reference};
use std::time::Instant;

/// Credentials for a registry.
#[derive(Clone, PartialEq, Eq)]
pub enum Credentials {
    /// No credentials.
    Anonymous,
    /// HTTP basic.
    Basic {
        /// User name.
        username: String,
        /// Password.
        password: String,
    },
    /// A bearer token obtained out of band.
    Token(String),
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print secrets.
        match self {
            Credentials::Anonymous => f.write_str("Anonymous"),
            Credentials::Basic { username, .. } => write!(f, "Basic({username}, ***)"),
            Credentials::Token(_) => f.write_str("Token(***)"),
        }
    }
}

/// What to pull and how.
#[derive(Debug, Clone)]
pub struct PullRequest {
    /// Image reference, e.g. `127.0.0.1:5000/team/py:1` or `debian:bookworm`.
    pub reference: String,
    /// Talk plain HTTP to this reference's registry.
    pub insecure: bool,
    /// Credentials.
    pub credentials: Credentials,
}

fn reg_err(e: impl std::fmt::Display) -> ImageError {
    ImageError::Registry(e.to_string())
}

/// Validates an image reference without contacting anything.
pub fn parse_reference(reference: &str) -> ImageResult<String> {
    let r: Reference = reference
        .parse()
        .map_err(|e| ImageError::Invalid(format!("image reference {reference:?}: {e}")))?;
    Ok(r.whole())
}

/// Pulls `req` into the store; `log` receives progress lines.
pub async fn pull(
    store: &ImageStore,
    req: &PullRequest,
    log: &(dyn Fn(String) + Send + Sync),
) -> ImageResult<Imported> {
    let reference: Reference = req
        .reference
        .parse()
        .map_err(|e| ImageError::Invalid(format!("image reference {:?}: {e}", req.reference)))?;
    let protocol = if req.insecure {
        ClientProtocol::HttpsExcept(vec![reference.resolve_registry().to_string()])
    } else {
        ClientProtocol::Https
    };
    let client = Client::new(ClientConfig {
        protocol,
        platform_resolver: Some(Box::new(linux_amd64_resolver)),
        ..Default::default()
    });
    let auth = match &req.credentials {
        Credentials::Anonymous => RegistryAuth::Anonymous,
        Credentials::Basic { username, password } => {
            RegistryAuth::Basic(username.clone(), password.clone())
        }
        Credentials::Token(t) => RegistryAuth::Bearer(t.clone()),
    };
    log(format!("pulling {}", reference.whole()));
    let (manifest, digest) = client
        .pull_image_manifest(&reference, &auth)
        .await
        .map_err(reg_err)?;
    log(format!("manifest {digest}"));
    let mut cfg_bytes = Vec::new();
    client
        .pull_blob(&reference, &manifest.config, &mut cfg_bytes)
        .await
        .map_err(reg_err)?;
    let cfg_digest = Digest::parse(&manifest.config.digest)?;
    crate::digest::verify("image config", &cfg_digest, &Digest::of(&cfg_bytes))?;
    let (cfg, diff_ids) = oci::parse_config(&cfg_bytes, manifest.layers.len())?;
    let n = manifest.layers.len();
    let mut layers = Vec::with_capacity(n);
    for (i, (desc, diff_id)) in manifest.layers.iter().zip(&diff_ids).enumerate() {
        check_layer_media_type(&desc.media_type)?;
        let blob = Digest::parse(&desc.digest)?;
        if store.has_layer(diff_id.hex()) {
            log(format!("layer {}/{n} {} cached", i + 1, short(&blob)));
            layers.push(diff_id.hex().to_string());
            continue;
        }
        let started = Instant::now();
        log(format!(
            "layer {}/{n} {} downloading {:.1} MiB",
            i + 1,
            short(&blob),
            desc.size as f64 / 1048576.0
        ));
        let tmp = store.tmp_file("blob");
        let res = async {
            let file = tokio::fs::File::create(&tmp)
                .await
                .map_err(|e| ImageError::io("create", &tmp, e))?;
            let mut w = tokio::io::BufWriter::with_capacity(1 << 20, file);
            client
                .pull_blob(&reference, desc, &mut w)
                .await
                .map_err(reg_err)?;
            tokio::io::AsyncWriteExt::flush(&mut w)
                .await
                .map_err(|e| ImageError::io("write", &tmp, e))?;
            let downloaded = started.elapsed();
            let store2 = store.clone();
            let tmp2 = tmp.clone();
            let blob2 = blob.clone();
            let diff2 = diff_id.clone();
            let (id, u) = tokio::task::spawn_blocking(move || {
                let f = std::fs::File::open(&tmp2).map_err(|e| ImageError::io("open", &tmp2, e))?;
                store2.unpack(f, Some(&blob2), &diff2)
            })
            .await
            .map_err(|e| ImageError::Invalid(format!("unpack task: {e}")))??;
            Ok::<_, ImageError>((id, u, downloaded))
        }
        .await;
        match res {
            Ok((id, u, downloaded)) => {
                let _ = store.commit_blob(&tmp, &blob);
                log(format!(
                    "layer {}/{n} {} done: downloaded in {:.1}s, unpacked {} entries ({:.1} MiB) in {:.1}s",
                    i + 1,
                    short(&blob),
                    downloaded.as_secs_f64(),
                    u.entries,
                    u.tar_bytes as f64 / 1048576.0,
                    (started.elapsed() - downloaded).as_secs_f64()
                ));
                layers.push(id);
            }
            Err(e) => {
                let _ = tokio::fs::remove_file(&tmp).await;
                return Err(e);
            }
        }
    }
    Ok(Imported {
        layers,
        config: cfg.config.unwrap_or_default(),
    })
}
