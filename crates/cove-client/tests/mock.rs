//! Drives the client against a tiny in-process HTTP/1.1 responder, so request shape (paths, query
//! encoding, auth, bodies) and response handling are checked without a real Cove server.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc;

use cove_client::{Client, ClientError, PathContent};

/// One request as the mock saw it.
#[derive(Debug)]
struct Seen {
    method: String,
    target: String,
    auth: Option<String>,
    body: Vec<u8>,
}

/// Serves `n` requests, answering each with `respond(&request)` = (status, body).
fn serve(
    n: usize,
    respond: impl Fn(&Seen) -> (u16, Vec<u8>) + Send + 'static,
) -> (String, mpsc::Receiver<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for _ in 0..n {
            let (stream, _) = listener.accept().unwrap();
            let seen = read_request(&stream);
            let (status, body) = respond(&seen);
            let mut s = stream;
            write!(
                s,
                "HTTP/1.1 {status} X\r\ncontent-length: {}\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n",
                body.len()
            )
            .unwrap();
            s.write_all(&body).unwrap();
            tx.send(seen).unwrap();
        }
    });
    (url, rx)
}

fn read_request(stream: &TcpStream) -> Seen {
    let mut r = BufReader::new(stream);
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap().to_string();
    let target = parts.next().unwrap().to_string();
    let (mut auth, mut len, mut chunked) = (None, 0usize, false);
    loop {
        let mut h = String::new();
        r.read_line(&mut h).unwrap();
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':').unwrap();
        match k.to_ascii_lowercase().as_str() {
            "authorization" => auth = Some(v.trim().to_string()),
            "content-length" => len = v.trim().parse().unwrap(),
            "transfer-encoding" => chunked = v.contains("chunked"),
            _ => {}
        }
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body).unwrap();
    if chunked {
        loop {
            let mut size = String::new();
            r.read_line(&mut size).unwrap();
            let n = usize::from_str_radix(size.trim(), 16).unwrap();
            let mut chunk = vec![0; n + 2];
            r.read_exact(&mut chunk).unwrap();
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    }
    Seen {
        method,
        target,
        auth,
        body,
    }
}

#[test]
fn sends_auth_and_maps_errors() {
    let (url, rx) = serve(2, |_| {
        (
            404,
            br#"{"error":{"code":"not_found","message":"no such sandbox"}}"#.to_vec(),
        )
    });
    let c = Client::new(&url, Some("k1".into())).unwrap();
    match c.get_sandbox("abc") {
        Err(ClientError::Api {
            status,
            code,
            message,
        }) => {
            assert_eq!((status, code.as_str()), (404, "not_found"));
            assert_eq!(message, "no such sandbox");
        }
        other => panic!("unexpected {other:?}"),
    }
    let seen = rx.recv().unwrap();
    assert_eq!(seen.method, "GET");
    assert_eq!(seen.target, "/v1/sandboxes/abc");
    assert_eq!(seen.auth.as_deref(), Some("Bearer k1"));

    assert!(c.delete_sandbox("abc").is_err());
    assert_eq!(rx.recv().unwrap().method, "DELETE");
}

#[test]
fn read_path_distinguishes_dir_and_file() {
    let (url, rx) = serve(2, |seen| {
        if seen.target.contains("dir") {
            (
                200,
                br#"{"path":"/home/user/dir","entries":[{"name":"a","path":"/home/user/dir/a","type":"file","size":1,"mode":420,"modifiedTime":null}]}"#.to_vec(),
            )
        } else {
            (200, br#"{"path":"/home/user/f","content":"hi"}"#.to_vec())
        }
    });
    let c = Client::new(&url, None).unwrap();
    match c.read_path("x", "/home/user/dir").unwrap() {
        PathContent::Dir(d) => assert_eq!(d.entries[0].name, "a"),
        other => panic!("unexpected {other:?}"),
    }
    let seen = rx.recv().unwrap();
    assert_eq!(
        seen.target,
        "/v1/sandboxes/x/files?path=%2Fhome%2Fuser%2Fdir"
    );
    assert_eq!(seen.auth, None);
    assert!(matches!(
        c.list_files("x", "/home/user/f"),
        Err(ClientError::NotADirectory(_))
    ));
}

#[test]
fn streams_bytes_both_ways() {
    let payload: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let expected = payload.clone();
    let (url, rx) = serve(2, move |seen| {
        if seen.method == "PUT" {
            (
                200,
                format!(
                    r#"{{"name":"b","path":"/tmp/a b","type":"file","size":{},"mode":420,"modifiedTime":null}}"#,
                    seen.body.len()
                )
                .into_bytes(),
            )
        } else {
            (200, payload.clone())
        }
    });
    let c = Client::new(&url, None).unwrap();
    let mut out = Vec::new();
    let n = c.download_to("x", "/tmp/a b", &mut out).unwrap();
    assert_eq!(n as usize, expected.len());
    assert_eq!(out, expected);
    assert_eq!(
        rx.recv().unwrap().target,
        "/v1/sandboxes/x/download?path=%2Ftmp%2Fa%20b"
    );

    let dir = std::env::temp_dir().join(format!("cove-client-mock-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let local = dir.join("up.bin");
    std::fs::write(&local, &expected).unwrap();
    let entry = c
        .write_file("x", "/tmp/a b", std::fs::File::open(&local).unwrap())
        .unwrap();
    assert_eq!(entry.size as usize, expected.len());
    let seen = rx.recv().unwrap();
    assert_eq!(seen.method, "PUT");
    assert_eq!(seen.body, expected);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn non_envelope_error_keeps_text() {
    let (url, _rx) = serve(1, |_| (502, b"bad gateway from proxy".to_vec()));
    let c = Client::new(&url, None).unwrap();
    match c.health() {
        Err(ClientError::Api { code, message, .. }) => {
            assert_eq!(code, "http_502");
            assert_eq!(message, "bad gateway from proxy");
        }
        other => panic!("unexpected {other:?}"),
    }
}
