//! envd's `/files` endpoint: streaming downloads (optionally gzip-encoded) and uploads as multipart
//! (each part's filename is its full destination path) or raw octet-stream (optionally gzip),
//! written through a blocking writer thread fed by a bounded channel so a large upload never sits in
//! memory at once.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use flate2::write::{GzDecoder, GzEncoder};
use http_body_util::BodyExt;
use serde::Serialize;
use tokio::sync::mpsc;

use crate::connect::ChannelBody;
use crate::error::HttpError;
use crate::fsinfo;
use crate::state::{Identity, Shared};
use crate::users::User;

const CHUNK: usize = 64 * 1024;

fn query(uri: &Uri) -> Result<HashMap<String, String>, HttpError> {
    Query::<HashMap<String, String>>::try_from_uri(uri)
        .map(|q| q.0)
        .map_err(|e| HttpError::bad_request(format!("invalid query: {e}")))
}

fn identity(st: &Shared, q: &HashMap<String, String>) -> Result<Identity, HttpError> {
    st.identity(q.get("username").map(String::as_str))
        .map_err(|e| HttpError::new(StatusCode::UNAUTHORIZED, e.to_string()))
}

fn content_type(path: &Path) -> &'static str {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "txt" | "log" | "md" | "py" | "sh" | "rs" | "go" | "c" | "h" | "toml" | "yaml" | "yml" => {
            "text/plain; charset=utf-8"
        }
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "csv" => "text/csv; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" => "application/json",
        "xml" => "application/xml",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        "gz" => "application/gzip",
        "tar" => "application/x-tar",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "svg" => "image/svg+xml",
        "webp" => "image/webp",
        "wasm" => "application/wasm",
        _ => "application/octet-stream",
    }
}

/// `GET /files?path=...`: streams the file, gzip-compressed when the client accepts it.
pub async fn download(
    State(st): State<Shared>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, HttpError> {
    let q = query(&uri)?;
    let id = identity(&st, &q)?;
    let raw = q
        .get("path")
        .filter(|p| !p.is_empty())
        .ok_or_else(|| HttpError::bad_request("path is required"))?;
    let path = id.resolve(raw);
    let shown = path.to_string_lossy().into_owned();
    let md = std::fs::metadata(&path).map_err(|e| HttpError::from_io(&e, &shown))?;
    if md.is_dir() {
        return Err(HttpError::bad_request(format!(
            "path '{shown}' is a directory"
        )));
    }
    let file = File::open(&path).map_err(|e| HttpError::from_io(&e, &shown))?;
    let gzip = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|e| e.trim().starts_with("gzip")));

    let (tx, body) = ChannelBody::new(8);
    tokio::task::spawn_blocking(move || {
        let result = if gzip {
            send_gzip(file, &tx)
        } else {
            send_plain(file, &tx)
        };
        if let Err(e) = result {
            // A send error means the client left; anything else aborts the response mid-body.
            let _ = tx.blocking_send(Err(e));
        }
    });
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().replace('"', "_"))
        .unwrap_or_default();
    let mut resp = Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, content_type(&path))
        .header(
            header::CONTENT_DISPOSITION,
            format!("inline; filename=\"{name}\""),
        );
    resp = if gzip {
        resp.header(header::CONTENT_ENCODING, "gzip")
    } else {
        resp.header(header::CONTENT_LENGTH, md.len())
    };
    resp.body(Body::new(body))
        .map_err(|e| HttpError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}

type Tx = mpsc::Sender<Result<Bytes, io::Error>>;

fn gone() -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, "client went away")
}

fn send_plain(mut file: File, tx: &Tx) -> io::Result<()> {
    loop {
        let mut buf = vec![0u8; CHUNK];
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        buf.truncate(n);
        tx.blocking_send(Ok(Bytes::from(buf))).map_err(|_| gone())?;
    }
}

fn send_gzip(mut file: File, tx: &Tx) -> io::Result<()> {
    let mut enc = GzEncoder::new(Vec::with_capacity(CHUNK), flate2::Compression::fast());
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        enc.write_all(&buf[..n])?;
        if enc.get_ref().len() >= CHUNK {
            let out = std::mem::take(enc.get_mut());
            tx.blocking_send(Ok(Bytes::from(out))).map_err(|_| gone())?;
        }
    }
    let rest = enc.finish()?;
    tx.blocking_send(Ok(Bytes::from(rest)))
        .map_err(|_| gone())?;
    Ok(())
}

#[derive(Serialize)]
struct Written {
    path: String,
    name: String,
    r#type: &'static str,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    metadata: BTreeMap<String, String>,
}

/// Destination sink: a thread doing blocking writes, fed chunk by chunk.
struct Upload {
    tx: mpsc::Sender<Bytes>,
    thread: tokio::task::JoinHandle<io::Result<()>>,
    path: PathBuf,
}

impl Upload {
    fn begin(
        path: PathBuf,
        user: User,
        gzip: bool,
        metadata: BTreeMap<String, String>,
    ) -> Result<Self, HttpError> {
        let shown = path.to_string_lossy().into_owned();
        if path.is_dir() {
            return Err(HttpError::bad_request(format!(
                "path '{shown}' is a directory"
            )));
        }
        if let Some(parent) = path.parent() {
            fsinfo::create_dirs_owned(parent, &user)
                .map_err(|e| HttpError::from_io(&e, &parent.to_string_lossy()))?;
        }
        let file = File::create(&path).map_err(|e| HttpError::from_io(&e, &shown))?;
        let (tx, mut rx) = mpsc::channel::<Bytes>(8);
        let target = path.clone();
        let thread = tokio::task::spawn_blocking(move || -> io::Result<()> {
            if gzip {
                let mut sink = GzDecoder::new(file);
                while let Some(chunk) = rx.blocking_recv() {
                    sink.write_all(&chunk)?;
                }
                sink.try_finish()?;
            } else {
                let mut sink = file;
                while let Some(chunk) = rx.blocking_recv() {
                    sink.write_all(&chunk)?;
                }
                sink.flush()?;
            }
            fsinfo::chown_to(&target, &user);
            if !metadata.is_empty() {
                if let Err(e) = fsinfo::write_metadata(&target, &metadata) {
                    tracing::warn!(path = %target.display(), "storing metadata failed: {e}");
                }
            }
            Ok(())
        });
        Ok(Upload { tx, thread, path })
    }

    /// Passes one chunk on; on failure returns the writer's error.
    async fn write(&mut self, chunk: Bytes) -> Result<(), HttpError> {
        if self.tx.send(chunk).await.is_err() {
            return Err(self.fail().await);
        }
        Ok(())
    }

    async fn fail(&mut self) -> HttpError {
        let shown = self.path.to_string_lossy().into_owned();
        match (&mut self.thread).await {
            Ok(Err(e)) => HttpError::from_io(&e, &shown),
            _ => HttpError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("{shown}: write failed"),
            ),
        }
    }

    async fn finish(self) -> Result<(), HttpError> {
        let shown = self.path.to_string_lossy().into_owned();
        drop(self.tx);
        match self.thread.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(HttpError::from_io(&e, &shown)),
            Err(e) => Err(HttpError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                e.to_string(),
            )),
        }
    }
}

fn metadata_headers(headers: &HeaderMap) -> BTreeMap<String, String> {
    headers
        .iter()
        .filter_map(|(k, v)| {
            let key = k.as_str().strip_prefix("x-metadata-")?;
            Some((key.to_ascii_lowercase(), v.to_str().ok()?.to_string()))
        })
        .filter(|(k, _)| !k.is_empty())
        .collect()
}

fn written(path: &Path, metadata: &BTreeMap<String, String>) -> Written {
    Written {
        path: path.to_string_lossy().into_owned(),
        name: path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        r#type: "file",
        metadata: metadata.clone(),
    }
}

/// `POST /files`: multipart or raw upload.
pub async fn upload(State(st): State<Shared>, req: Request) -> Result<Response, HttpError> {
    let q = query(req.uri())?;
    let id = identity(&st, &q)?;
    let headers = req.headers().clone();
    let metadata = metadata_headers(&headers);
    let gzip = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("gzip"));
    let query_path = q.get("path").filter(|p| !p.is_empty()).cloned();
    let is_multipart = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"));

    let mut results = Vec::new();
    if is_multipart {
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let boundary = multer::parse_boundary(content_type)
            .map_err(|e| HttpError::bad_request(format!("invalid multipart body: {e}")))?;
        // The body is shared with the multipart parser so that whatever follows the closing
        // boundary (the chunked terminator, an epilogue) can be read to the end before answering:
        // replying with unread request bytes makes the kernel reset the connection, and the
        // client then loses the response.
        let body = Arc::new(tokio::sync::Mutex::new(req.into_body()));
        let shared = body.clone();
        let stream = futures_util::stream::unfold(shared, |b| async move {
            let next = {
                let mut guard = b.lock().await;
                loop {
                    match guard.frame().await {
                        None => break None,
                        Some(Err(e)) => break Some(Err(std::io::Error::other(e.to_string()))),
                        Some(Ok(f)) => {
                            if let Ok(d) = f.into_data() {
                                break Some(Ok(d));
                            }
                        }
                    }
                }
            };
            next.map(|item| (item, b))
        });
        let mut mp = multer::Multipart::new(stream, boundary);
        let mut seen = HashSet::new();
        let mut first = true;
        while let Some(mut field) = mp
            .next_field()
            .await
            .map_err(|e| HttpError::bad_request(format!("invalid multipart body: {e}")))?
        {
            // The path query names the single file of a `write`; otherwise each part's filename is
            // its full destination path.
            let raw = match (&query_path, first) {
                (Some(p), true) => p.clone(),
                _ => field
                    .file_name()
                    .map(str::to_string)
                    .filter(|f| !f.is_empty())
                    .ok_or_else(|| HttpError::bad_request("multipart part without a filename"))?,
            };
            first = false;
            let path = id.resolve(&raw);
            if !seen.insert(path.clone()) {
                return Err(HttpError::bad_request(format!(
                    "path '{}' appears more than once",
                    path.display()
                )));
            }
            let mut up = Upload::begin(path.clone(), id.user.clone(), false, metadata.clone())?;
            while let Some(chunk) = field
                .chunk()
                .await
                .map_err(|e| HttpError::bad_request(format!("reading upload: {e}")))?
            {
                up.write(chunk).await?;
            }
            up.finish().await?;
            results.push(written(&path, &metadata));
        }
        drop(mp);
        let mut rest = body.lock().await;
        while let Some(frame) = rest.frame().await {
            if frame.is_err() {
                break;
            }
        }
    } else {
        let raw = query_path.ok_or_else(|| HttpError::bad_request("path is required"))?;
        let path = id.resolve(&raw);
        let mut up = Upload::begin(path.clone(), id.user.clone(), gzip, metadata.clone())?;
        let mut body = req.into_body();
        while let Some(frame) = body.frame().await {
            let frame =
                frame.map_err(|e| HttpError::bad_request(format!("reading upload: {e}")))?;
            if let Ok(data) = frame.into_data() {
                up.write(data).await?;
            }
        }
        up.finish().await?;
        results.push(written(&path, &metadata));
    }
    if results.is_empty() {
        return Err(HttpError::bad_request("no file in upload"));
    }
    Ok((StatusCode::OK, axum::Json(results)).into_response())
}
