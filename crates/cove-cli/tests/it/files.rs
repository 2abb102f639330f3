//! Files through `/v1`: text, binary, batch, mkdir, rename, stat, delete, a 50 MiB round trip, and
//! path traversal staying inside the sandbox.

use crate::harness::{assert_error, can_run, cove_rand, Server};
use base64::Engine;
use serde_json::{json, Value};
use std::io::Read;

#[test]
fn file_operations() {
    if !can_run() {
        return;
    }
    let s = Server::shared();
    let sb = s.sandbox(json!({}));
    let put = |path: &str, body: Vec<u8>| -> Value {
        let r = s
            .req(
                reqwest::Method::PUT,
                &sb.path(&format!("/file?path={path}")),
            )
            .body(body)
            .send()
            .expect("PUT");
        assert_eq!(r.status().as_u16(), 200);
        r.json().unwrap_or_default()
    };

    // text, written with parents, owned by user, relative to /home/user
    let e = put("notes/a.txt", b"hello\n".to_vec());
    assert_eq!(e["path"], "/home/user/notes/a.txt");
    assert_eq!(e["type"], "file");
    assert_eq!(e["size"], 6);
    assert_eq!(sb.out("stat -c %U /home/user/notes/a.txt"), "user");
    let v: Value = s
        .get(&sb.path("/files?path=notes/a.txt"))
        .json()
        .unwrap_or_default();
    assert_eq!(v["content"], "hello\n");
    assert!(v.get("encoding").is_none());

    // binary: every byte value survives, JSON view is base64
    let bin: Vec<u8> = (0..=255u8).cycle().take(4096).collect();
    put("/tmp/bin.dat", bin.clone());
    let raw = s
        .get(&sb.path("/file?path=/tmp/bin.dat"))
        .bytes()
        .unwrap_or_default();
    assert_eq!(raw.as_ref(), bin.as_slice());
    let v: Value = s
        .get(&sb.path("/files?path=/tmp/bin.dat"))
        .json()
        .unwrap_or_default();
    assert_eq!(v["encoding"], "base64");
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(v["content"].as_str().unwrap_or_default())
        .unwrap_or_default();
    assert_eq!(decoded, bin);

    // directory listing
    let v: Value = s
        .get(&sb.path("/files?path=notes"))
        .json()
        .unwrap_or_default();
    assert_eq!(v["path"], "/home/user/notes");
    assert_eq!(v["entries"][0]["name"], "a.txt");

    // batch write, mkdir, rename, stat, delete
    let r = s.post(&sb.path("/files"), json!({"files": [
        {"path": "batch/one.txt", "content": "1"},
        {"path": "batch/two.bin", "content": base64::engine::general_purpose::STANDARD.encode([0u8, 159, 146, 150]), "encoding": "base64"}
    ]}));
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(sb.out("cat batch/one.txt"), "1");
    assert_eq!(
        sb.out("od -An -tu1 batch/two.bin | tr -s ' '"),
        "0 159 146 150"
    );
    let r = s.post(&sb.path("/files/mkdir"), json!({"path": "deep/er/dir"}));
    assert_eq!(r.status().as_u16(), 200);
    let again = s.post(&sb.path("/files/mkdir"), json!({"path": "deep/er/dir"}));
    assert_eq!(
        again.status().as_u16(),
        200,
        "mkdir of an existing dir is fine"
    );
    assert_error(
        s.post(&sb.path("/files/mkdir"), json!({"path": "notes/a.txt"})),
        409,
        "already_exists",
    );
    let r: Value = s
        .post(
            &sb.path("/files/rename"),
            json!({"from": "notes/a.txt", "to": "deep/er/dir/b.txt"}),
        )
        .json()
        .unwrap_or_default();
    assert_eq!(r["path"], "/home/user/deep/er/dir/b.txt");
    let st: Value = s
        .get(&sb.path("/stat?path=deep/er/dir"))
        .json()
        .unwrap_or_default();
    assert_eq!(st["type"], "dir");
    assert_eq!(s.delete(&sb.path("/file?path=deep")).status().as_u16(), 204);
    assert_error(s.get(&sb.path("/stat?path=deep")), 404, "not_found");
    assert_error(s.get(&sb.path("/file?path=nope.txt")), 404, "not_found");
    assert_error(s.get(&sb.path("/files?path=nope")), 404, "not_found");
    assert_error(s.delete(&sb.path("/file?path=nope")), 404, "not_found");
    assert_error(s.get(&sb.path("/file")), 400, "invalid_argument");
    assert_error(
        s.post(
            &sb.path("/files/rename"),
            json!({"from": "missing", "to": "x"}),
        ),
        404,
        "not_found",
    );
    assert_error(
        s.post(
            &sb.path("/files"),
            json!({"files": [{"path": "x", "content": "!", "encoding": "base64"}]}),
        ),
        400,
        "invalid_argument",
    );

    // download is streamed with a filename
    let r = s.get(&sb.path("/download?path=/tmp/bin.dat"));
    assert_eq!(r.status().as_u16(), 200);
    let cd = r
        .headers()
        .get("content-disposition")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    assert!(cd.contains("bin.dat"), "{cd}");
}

#[test]
fn fifty_mib_round_trip() {
    if !can_run() {
        return;
    }
    let s = Server::shared();
    let sb = s.sandbox(json!({}));
    let size = 50 * 1024 * 1024;
    let data: Vec<u8> = (0..size)
        .map(|i: usize| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    let r = s
        .req(reqwest::Method::PUT, &sb.path("/file?path=big.bin"))
        .body(data.clone())
        .send()
        .expect("PUT");
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(sb.out("stat -c %s big.bin"), size.to_string());
    let mut r = s.get(&sb.path("/download?path=big.bin"));
    assert_eq!(r.status().as_u16(), 200);
    let mut back = Vec::with_capacity(size);
    r.read_to_end(&mut back).expect("read");
    assert_eq!(back.len(), size);
    assert!(back == data, "content differs");
    // too big for the inline JSON view: a clear 413, not a giant JSON string
    assert_error(
        s.get(&sb.path("/files?path=big.bin")),
        413,
        "payload_too_large",
    );
}

#[test]
fn paths_cannot_escape_the_sandbox() {
    if !can_run() {
        return;
    }
    let s = Server::shared();
    let sb = s.sandbox(json!({}));
    let marker = format!("cove-escape-{}", cove_rand());
    let r = s
        .req(
            reqwest::Method::PUT,
            &sb.path(&format!("/file?path=../../../../../../tmp/{marker}")),
        )
        .body("x")
        .send()
        .expect("PUT");
    assert_eq!(r.status().as_u16(), 200);
    let e: Value = r.json().unwrap_or_default();
    assert_eq!(e["path"], format!("/tmp/{marker}"));
    assert!(
        !std::path::Path::new(&format!("/tmp/{marker}")).exists(),
        "write escaped to the host"
    );
    // the sandbox's own /etc/passwd, not the host's
    let v: Value = s
        .get(&sb.path("/files?path=/../../../etc/passwd"))
        .json()
        .unwrap_or_default();
    let host = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    assert_ne!(v["content"].as_str().unwrap_or_default(), host);
    assert!(v["content"]
        .as_str()
        .unwrap_or_default()
        .contains("user:x:1000"));
}
