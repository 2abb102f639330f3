//! A typed, blocking client for Cove's native `/v1` REST API. It is blocking because its main user,
//! the `cove` CLI, is synchronous; the wire shapes come from `cove-api` so they cannot drift from
//! the server's.

mod error;
mod pools;
mod templates;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::time::Duration;

use cove_api::{
    CreateSandboxRequest, DirListing, ExecRequest, ExecResponse, FileContent, FileEntry, Health,
    LogsResponse, MkdirRequest, RenameRequest, Sandbox, SandboxList, SetTimeoutRequest,
    WriteFilesRequest, WriteFilesResponse,
};
use reqwest::blocking::{RequestBuilder, Response};
use reqwest::{Method, Url};
use serde::de::DeserializeOwned;

pub use error::ClientError;
pub use reqwest::blocking::Body;
pub use templates::Upload;

/// Result of every client call.
pub type Result<T> = std::result::Result<T, ClientError>;

/// Connection attempts fail fast, but there is deliberately no overall request timeout: `exec`
/// runs as long as its own `timeoutMs`, and create (with setup commands) and downloads can take
/// arbitrarily long, so a client-side cap would only cut off legitimate work.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// Filters and paging of [`Client::list_sandboxes`].
#[derive(Debug, Clone, Default)]
pub struct ListParams {
    /// Statuses to include (sent comma-joined); empty means the server's default.
    pub status: Vec<String>,
    /// Only sandboxes whose metadata has all these pairs.
    pub metadata: BTreeMap<String, String>,
    /// Only sandboxes of this template.
    pub template_id: Option<String>,
    /// Page size.
    pub limit: Option<u32>,
    /// `nextCursor` of the previous page.
    pub cursor: Option<String>,
}

/// What `GET /v1/sandboxes/{id}/files` returned for a path.
#[derive(Debug, Clone)]
pub enum PathContent {
    /// The path is a directory.
    Dir(DirListing),
    /// The path is a file.
    File(FileContent),
}

/// A handle on one Cove server. Cheap to clone (the connection pool is shared).
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::blocking::Client,
    base: Url,
    api_key: Option<String>,
}

impl Client {
    /// Creates a client for the server at `base_url` (e.g. `http://127.0.0.1:8089`); a path in
    /// the URL is kept as a prefix, so the server may sit behind a reverse proxy.
    pub fn new(base_url: &str, api_key: Option<String>) -> Result<Client> {
        let base = Url::parse(base_url)
            .map_err(|e| ClientError::InvalidUrl(format!("{base_url}: {e}")))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(ClientError::InvalidUrl(format!(
                "{base_url}: expected an http:// URL"
            )));
        }
        let http = reqwest::blocking::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(None::<Duration>)
            .user_agent(concat!("cove-client/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Client {
            http,
            base,
            api_key: api_key.filter(|k| !k.is_empty()),
        })
    }

    /// The API key, if any (needed by callers that open their own connections, e.g. WebSockets).
    pub fn api_key(&self) -> Option<&str> {
        self.api_key.as_deref()
    }

    /// The server's base URL.
    pub fn base_url(&self) -> &Url {
        &self.base
    }

    /// `GET /healthz`.
    pub fn health(&self) -> Result<Health> {
        let resp = self.send(self.request(Method::GET, &["healthz"], &[])?)?;
        decode(resp)
    }

    /// `POST /v1/sandboxes`.
    pub fn create_sandbox(&self, req: &CreateSandboxRequest) -> Result<Sandbox> {
        let rb = self.request(Method::POST, &["v1", "sandboxes"], &[])?;
        decode(self.send(rb.json(req))?)
    }

    /// `GET /v1/sandboxes` (one page; follow `next_cursor` for more).
    pub fn list_sandboxes(&self, params: &ListParams) -> Result<SandboxList> {
        let mut query: Vec<(String, String)> = Vec::new();
        if !params.status.is_empty() {
            query.push(("status".into(), params.status.join(",")));
        }
        for (k, v) in &params.metadata {
            query.push((format!("metadata[{k}]"), v.clone()));
        }
        if let Some(t) = &params.template_id {
            query.push(("templateId".into(), t.clone()));
        }
        if let Some(l) = params.limit {
            query.push(("limit".into(), l.to_string()));
        }
        if let Some(c) = &params.cursor {
            query.push(("cursor".into(), c.clone()));
        }
        let pairs: Vec<(&str, &str)> = query
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let rb = self.request(Method::GET, &["v1", "sandboxes"], &pairs)?;
        decode(self.send(rb)?)
    }

    /// `GET /v1/sandboxes/{idOrName}`.
    pub fn get_sandbox(&self, id_or_name: &str) -> Result<Sandbox> {
        let rb = self.request(Method::GET, &["v1", "sandboxes", id_or_name], &[])?;
        decode(self.send(rb)?)
    }

    /// `DELETE /v1/sandboxes/{id}`.
    pub fn delete_sandbox(&self, id: &str) -> Result<()> {
        let rb = self.request(Method::DELETE, &["v1", "sandboxes", id], &[])?;
        self.send(rb).map(drop)
    }

    /// `POST /v1/sandboxes/{id}/timeout`; 0 disables auto-kill.
    pub fn set_timeout(&self, id: &str, timeout_seconds: u64) -> Result<Sandbox> {
        let rb = self.request(Method::POST, &["v1", "sandboxes", id, "timeout"], &[])?;
        let body = SetTimeoutRequest { timeout_seconds };
        decode(self.send(rb.json(&body))?)
    }

    /// `GET /v1/sandboxes/{id}/logs`.
    pub fn logs(&self, id: &str) -> Result<LogsResponse> {
        let rb = self.request(Method::GET, &["v1", "sandboxes", id, "logs"], &[])?;
        decode(self.send(rb)?)
    }

    /// `POST /v1/sandboxes/{id}/exec`: runs a process to completion. A non-zero exit is not an
    /// error; inspect [`ExecResponse::exit_code`].
    pub fn exec(&self, id: &str, req: &ExecRequest) -> Result<ExecResponse> {
        let rb = self.request(Method::POST, &["v1", "sandboxes", id, "exec"], &[])?;
        decode(self.send(rb.json(req))?)
    }

    /// `GET /v1/sandboxes/{id}/files?path=P`: a directory listing or a file's content.
    pub fn read_path(&self, id: &str, path: &str) -> Result<PathContent> {
        let rb = self.request(
            Method::GET,
            &["v1", "sandboxes", id, "files"],
            &[("path", path)],
        )?;
        let bytes = self.send(rb)?.bytes()?;
        let value: serde_json::Value =
            serde_json::from_slice(&bytes).map_err(ClientError::Decode)?;
        // The two shapes share `path`; only a listing has `entries`.
        if value.get("entries").is_some() {
            serde_json::from_value(value)
                .map(PathContent::Dir)
                .map_err(ClientError::Decode)
        } else {
            serde_json::from_value(value)
                .map(PathContent::File)
                .map_err(ClientError::Decode)
        }
    }

    /// Like [`Client::read_path`], but a file is an error ([`ClientError::NotADirectory`]).
    pub fn list_files(&self, id: &str, path: &str) -> Result<DirListing> {
        match self.read_path(id, path)? {
            PathContent::Dir(d) => Ok(d),
            PathContent::File(f) => Err(ClientError::NotADirectory(f.path)),
        }
    }

    /// `GET /v1/sandboxes/{id}/file?path=P`, fully buffered.
    pub fn read_file(&self, id: &str, path: &str) -> Result<Vec<u8>> {
        let rb = self.request(
            Method::GET,
            &["v1", "sandboxes", id, "file"],
            &[("path", path)],
        )?;
        Ok(self.send(rb)?.bytes()?.to_vec())
    }

    /// `GET /v1/sandboxes/{id}/file?path=P`, streamed into `out`; returns the byte count.
    pub fn read_file_to(&self, id: &str, path: &str, out: &mut impl Write) -> Result<u64> {
        let rb = self.request(
            Method::GET,
            &["v1", "sandboxes", id, "file"],
            &[("path", path)],
        )?;
        copy_body(self.send(rb)?, out)
    }

    /// `GET /v1/sandboxes/{id}/download?path=P`, streamed into `out`; returns the byte count.
    pub fn download_to(&self, id: &str, path: &str, out: &mut impl Write) -> Result<u64> {
        let rb = self.request(
            Method::GET,
            &["v1", "sandboxes", id, "download"],
            &[("path", path)],
        )?;
        copy_body(self.send(rb)?, out)
    }

    /// `PUT /v1/sandboxes/{id}/file?path=P`; parents are created. Pass a `std::fs::File` to
    /// stream it (its length is sent as `Content-Length`).
    pub fn write_file(&self, id: &str, path: &str, body: impl Into<Body>) -> Result<FileEntry> {
        let rb = self.request(
            Method::PUT,
            &["v1", "sandboxes", id, "file"],
            &[("path", path)],
        )?;
        let rb = rb
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(body);
        decode(self.send(rb)?)
    }

    /// `DELETE /v1/sandboxes/{id}/file?path=P`.
    pub fn delete_file(&self, id: &str, path: &str) -> Result<()> {
        let rb = self.request(
            Method::DELETE,
            &["v1", "sandboxes", id, "file"],
            &[("path", path)],
        )?;
        self.send(rb).map(drop)
    }

    /// `GET /v1/sandboxes/{id}/stat?path=P`.
    pub fn stat(&self, id: &str, path: &str) -> Result<FileEntry> {
        let rb = self.request(
            Method::GET,
            &["v1", "sandboxes", id, "stat"],
            &[("path", path)],
        )?;
        decode(self.send(rb)?)
    }

    /// `POST /v1/sandboxes/{id}/files`: writes several small files at once.
    pub fn write_files(&self, id: &str, req: &WriteFilesRequest) -> Result<WriteFilesResponse> {
        let rb = self.request(Method::POST, &["v1", "sandboxes", id, "files"], &[])?;
        decode(self.send(rb.json(req))?)
    }

    /// `POST /v1/sandboxes/{id}/files/mkdir` (parents too).
    pub fn mkdir(&self, id: &str, path: &str) -> Result<FileEntry> {
        let rb = self.request(
            Method::POST,
            &["v1", "sandboxes", id, "files", "mkdir"],
            &[],
        )?;
        let body = MkdirRequest {
            path: path.to_string(),
        };
        decode(self.send(rb.json(&body))?)
    }

    /// `POST /v1/sandboxes/{id}/files/rename`.
    pub fn rename(&self, id: &str, from: &str, to: &str) -> Result<FileEntry> {
        let rb = self.request(
            Method::POST,
            &["v1", "sandboxes", id, "files", "rename"],
            &[],
        )?;
        let body = RenameRequest {
            from: from.to_string(),
            to: to.to_string(),
        };
        decode(self.send(rb.json(&body))?)
    }

    fn request(
        &self,
        method: Method,
        segments: &[&str],
        query: &[(&str, &str)],
    ) -> Result<RequestBuilder> {
        let url = build_url(&self.base, segments, query)?;
        let rb = self.http.request(method, url);
        Ok(match &self.api_key {
            Some(k) => rb.bearer_auth(k),
            None => rb,
        })
    }

    /// Sends and turns any non-2xx answer into [`ClientError::Api`].
    fn send(&self, rb: RequestBuilder) -> Result<Response> {
        let resp = rb.send()?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        // A failed body read still yields a useful error from the status alone.
        let body = resp.bytes().map(|b| b.to_vec()).unwrap_or_default();
        Err(error::api_error(status.as_u16(), &body))
    }
}

/// Appends `segments` to the base path, each percent-encoded on its own so an id or name can
/// never introduce extra path components, and form-encodes the query.
fn build_url(base: &Url, segments: &[&str], query: &[(&str, &str)]) -> Result<Url> {
    let mut url = base.clone();
    url.set_query(None);
    url.set_fragment(None);
    url.path_segments_mut()
        .map_err(|()| ClientError::InvalidUrl(base.to_string()))?
        .pop_if_empty()
        .extend(segments);
    if !query.is_empty() {
        url.query_pairs_mut().extend_pairs(query);
        // Form encoding writes spaces as `+`, which only form decoders understand; `%20` means a
        // space to every decoder. A literal `+` was already escaped as `%2B`, so this is lossless.
        let q = url.query().map(|q| q.replace('+', "%20"));
        url.set_query(q.as_deref());
    }
    Ok(url)
}

fn decode<T: DeserializeOwned>(resp: Response) -> Result<T> {
    let bytes = resp.bytes()?;
    serde_json::from_slice(&bytes).map_err(ClientError::Decode)
}

/// Copies by hand instead of `io::copy` so a failing read (network) and a failing write (local
/// sink, e.g. a closed pipe) end up as different errors.
fn copy_body(mut resp: Response, out: &mut impl Write) -> Result<u64> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = match resp.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(ClientError::BodyRead(e)),
        };
        out.write_all(&buf[..n]).map_err(ClientError::Write)?;
        total += n as u64;
    }
    out.flush().map_err(ClientError::Write)?;
    Ok(total)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn url(base: &str, segs: &[&str], q: &[(&str, &str)]) -> String {
        let base = Url::parse(base).unwrap();
        build_url(&base, segs, q).unwrap().to_string()
    }

    #[test]
    fn joins_segments() {
        assert_eq!(
            url("http://h:1", &["v1", "sandboxes", "abc"], &[]),
            "http://h:1/v1/sandboxes/abc"
        );
        assert_eq!(
            url("http://h:1/prefix/", &["healthz"], &[]),
            "http://h:1/prefix/healthz"
        );
    }

    #[test]
    fn encodes_segments_and_query() {
        assert_eq!(
            url("http://h", &["v1", "sandboxes", "a/b?c"], &[]),
            "http://h/v1/sandboxes/a%2Fb%3Fc"
        );
        let u = url(
            "http://h",
            &["v1", "sandboxes", "x", "file"],
            &[("path", "/home/user/a b&c=d#e+f")],
        );
        assert!(
            u.ends_with("?path=%2Fhome%2Fuser%2Fa%20b%26c%3Dd%23e%2Bf"),
            "{u}"
        );
        let parsed = Url::parse(&u).unwrap();
        let pairs: Vec<(String, String)> = parsed.query_pairs().into_owned().collect();
        assert_eq!(
            pairs,
            vec![("path".to_string(), "/home/user/a b&c=d#e+f".to_string())]
        );
        assert!(parsed.fragment().is_none());
    }

    #[test]
    fn rejects_bad_base() {
        assert!(matches!(
            Client::new("not a url", None),
            Err(ClientError::InvalidUrl(_))
        ));
        assert!(matches!(
            Client::new("ftp://x", None),
            Err(ClientError::InvalidUrl(_))
        ));
        assert!(Client::new("http://127.0.0.1:8089", None).is_ok());
    }
}
