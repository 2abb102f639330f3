//! Template calls: create (JSON or multipart with file uploads), list, get, delete and the build
//! log. Multipart bodies are assembled by hand from readers, so large image tars stream from disk
//! without an extra dependency.

use std::fs::File;
use std::io::{Cursor, Read, Write};
use std::path::Path;

use cove_api::{CreateTemplateRequest, Template, TemplateList};
use reqwest::blocking::Body;
use reqwest::Method;

use crate::{copy_body, decode, Client, ClientError, Result};

/// A file to upload with a template build.
#[derive(Debug, Clone)]
pub struct Upload {
    /// Part name: `image` for an OCI layout tar, else the name `copy` steps refer to.
    pub name: String,
    /// Local file.
    pub path: std::path::PathBuf,
}

impl Client {
    /// `POST /v1/templates` with a JSON body.
    pub fn create_template(&self, req: &CreateTemplateRequest) -> Result<Template> {
        let rb = self.request(Method::POST, &["v1", "templates"], &[])?;
        decode(self.send(rb.json(req))?)
    }

    /// `POST /v1/templates` as `multipart/form-data`: the `spec` part plus one part per upload.
    pub fn create_template_with_files(
        &self,
        req: &CreateTemplateRequest,
        uploads: &[Upload],
    ) -> Result<Template> {
        let boundary = format!("cove-{:x}", std::process::id() as u64 ^ 0x5eed_cafe_f00d);
        let spec = serde_json::to_vec(req).map_err(ClientError::Decode)?;
        let mut parts: Vec<Box<dyn Read + Send>> = Vec::new();
        let mut len: u64 = 0;
        let text = |s: Vec<u8>, parts: &mut Vec<Box<dyn Read + Send>>, len: &mut u64| {
            *len += s.len() as u64;
            parts.push(Box::new(Cursor::new(s)));
        };
        let mut head = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"spec\"\r\n\
             Content-Type: application/json\r\n\r\n"
        )
        .into_bytes();
        head.extend_from_slice(&spec);
        head.extend_from_slice(b"\r\n");
        text(head, &mut parts, &mut len);
        for u in uploads {
            let f =
                File::open(&u.path).map_err(|e| ClientError::LocalFile(annotate(e, &u.path)))?;
            let size = f
                .metadata()
                .map_err(|e| ClientError::LocalFile(annotate(e, &u.path)))?
                .len();
            let name = u.name.replace(['"', '\r', '\n'], "_");
            text(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; \
                     filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
                )
                .into_bytes(),
                &mut parts,
                &mut len,
            );
            len += size;
            parts.push(Box::new(f.take(size)));
            text(b"\r\n".to_vec(), &mut parts, &mut len);
        }
        text(
            format!("--{boundary}--\r\n").into_bytes(),
            &mut parts,
            &mut len,
        );
        let body = Body::sized(Chain { parts, at: 0 }, len);
        let rb = self
            .request(Method::POST, &["v1", "templates"], &[])?
            .header(
                reqwest::header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(body);
        decode(self.send(rb)?)
    }

    /// `GET /v1/templates`.
    pub fn list_templates(&self) -> Result<TemplateList> {
        let rb = self.request(Method::GET, &["v1", "templates"], &[])?;
        decode(self.send(rb)?)
    }

    /// `GET /v1/templates/{idOrName}`.
    pub fn get_template(&self, id_or_name: &str) -> Result<Template> {
        let rb = self.request(Method::GET, &["v1", "templates", id_or_name], &[])?;
        decode(self.send(rb)?)
    }

    /// `DELETE /v1/templates/{idOrName}`.
    pub fn delete_template(&self, id_or_name: &str) -> Result<()> {
        let rb = self.request(Method::DELETE, &["v1", "templates", id_or_name], &[])?;
        self.send(rb).map(drop)
    }

    /// `GET /v1/templates/{id}/build-log`, copied to `out` as it arrives; with `follow` it returns
    /// when the build ends.
    pub fn template_build_log(
        &self,
        id_or_name: &str,
        follow: bool,
        out: &mut impl Write,
    ) -> Result<u64> {
        let q: &[(&str, &str)] = if follow { &[("follow", "true")] } else { &[] };
        let rb = self.request(
            Method::GET,
            &["v1", "templates", id_or_name, "build-log"],
            q,
        )?;
        copy_body(self.send(rb)?, out)
    }
}

fn annotate(e: std::io::Error, p: &Path) -> std::io::Error {
    std::io::Error::new(e.kind(), format!("{}: {e}", p.display()))
}

/// Readers one after another.
struct Chain {
    parts: Vec<Box<dyn Read + Send>>,
    at: usize,
}

impl Read for Chain {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while let Some(p) = self.parts.get_mut(self.at) {
            let n = p.read(buf)?;
            if n > 0 || buf.is_empty() {
                return Ok(n);
            }
            self.at += 1;
        }
        Ok(0)
    }
}
