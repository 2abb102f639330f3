//! `cove sandbox shell ID`: attaches the local terminal to a shell in the sandbox, like
//! `docker exec -it`. The terminal is put in raw mode; bytes go both ways over the server's shell
//! WebSocket; size changes are sent as resize control messages.

use anyhow::{bail, Context};
use cove_api::ShellControl;
use cove_client::Client;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::Duration;
use tungstenite::client::IntoClientRequest;
use tungstenite::{Message, WebSocket};

/// Restores the terminal mode when dropped, whatever way the session ends.
struct RawMode {
    saved: Option<libc::termios>,
}

impl RawMode {
    fn enable() -> RawMode {
        // SAFETY: isatty/tcgetattr/tcsetattr only read and write the termios struct we own.
        unsafe {
            if libc::isatty(0) != 1 {
                return RawMode { saved: None };
            }
            let mut t: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(0, &mut t) != 0 {
                return RawMode { saved: None };
            }
            let saved = t;
            libc::cfmakeraw(&mut t);
            libc::tcsetattr(0, libc::TCSANOW, &t);
            RawMode { saved: Some(saved) }
        }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(t) = self.saved {
            // SAFETY: restores the attributes saved in `enable`.
            unsafe {
                libc::tcsetattr(0, libc::TCSANOW, &t);
            }
        }
    }
}

fn terminal_size() -> Option<(u16, u16)> {
    // SAFETY: TIOCGWINSZ fills the winsize struct we own.
    unsafe {
        let mut ws: libc::winsize = std::mem::zeroed();
        if libc::ioctl(1, libc::TIOCGWINSZ, &mut ws) == 0 && ws.ws_col > 0 {
            Some((ws.ws_col, ws.ws_row))
        } else {
            None
        }
    }
}

enum Input {
    Bytes(Vec<u8>),
    Eof,
}

/// Runs the interactive session and returns the shell's exit code.
pub fn run(
    client: &Client,
    id: &str,
    user: Option<&str>,
    cwd: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let (cols, rows) = terminal_size().unwrap_or((80, 24));
    let mut url = client.base_url().clone();
    let scheme = if url.scheme() == "https" { "wss" } else { "ws" };
    url.set_scheme(scheme)
        .map_err(|_| anyhow::anyhow!("cannot build a WebSocket URL from {}", client.base_url()))?;
    url.set_path(&format!("/v1/sandboxes/{id}/shell"));
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("cols", &cols.to_string());
        q.append_pair("rows", &rows.to_string());
        if let Some(u) = user {
            q.append_pair("user", u);
        }
        if let Some(c) = cwd {
            q.append_pair("cwd", c);
        }
    }
    if scheme == "wss" {
        bail!("wss:// is not supported by this CLI build; use an http:// server URL");
    }
    let host = url.host_str().unwrap_or("127.0.0.1").to_string();
    let port = url.port_or_known_default().unwrap_or(80);
    let stream = TcpStream::connect((host.as_str(), port))
        .with_context(|| format!("cannot connect to {host}:{port}"))?;
    let mut request = url.as_str().into_client_request()?;
    if let Some(k) = client.api_key() {
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {k}").parse()?);
    }
    let (mut ws, _resp) = match tungstenite::client(request, stream) {
        Ok(ok) => ok,
        Err(tungstenite::HandshakeError::Failure(tungstenite::Error::Http(resp))) => {
            let body = resp
                .body()
                .as_ref()
                .map(|b| String::from_utf8_lossy(b).into_owned())
                .unwrap_or_default();
            bail!("server refused the shell ({}): {body}", resp.status());
        }
        Err(e) => bail!("WebSocket handshake failed: {e}"),
    };
    // Short read timeouts let one thread interleave reading the socket with sending input.
    ws.get_mut()
        .set_read_timeout(Some(Duration::from_millis(20)))?;

    let (tx, rx) = mpsc::channel::<Input>();
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin();
        let mut buf = [0u8; 4096];
        loop {
            match stdin.read(&mut buf) {
                Ok(0) | Err(_) => {
                    let _ = tx.send(Input::Eof);
                    return;
                }
                Ok(n) => {
                    if tx.send(Input::Bytes(buf[..n].to_vec())).is_err() {
                        return;
                    }
                }
            }
        }
    });
    let _raw = RawMode::enable();
    session(&mut ws, &rx, (cols, rows))
}

fn session(
    ws: &mut WebSocket<TcpStream>,
    rx: &mpsc::Receiver<Input>,
    mut size: (u16, u16),
) -> anyhow::Result<ExitCode> {
    let mut stdout = std::io::stdout();
    let mut exit_code = 0i32;
    loop {
        match ws.read() {
            Ok(Message::Binary(b)) => {
                stdout.write_all(&b)?;
                stdout.flush()?;
            }
            Ok(Message::Text(t)) => {
                if let Ok(ShellControl::Exit { exit_code: c }) = serde_json::from_str(&t) {
                    exit_code = c;
                }
            }
            Ok(Message::Close(_)) => break,
            Ok(_) => {}
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(tungstenite::Error::ConnectionClosed) => break,
            Err(e) => return Err(e.into()),
        }
        while let Ok(input) = rx.try_recv() {
            match input {
                Input::Bytes(b) => ws.send(Message::Binary(b.into()))?,
                // Local EOF (piped input ran out): behave like Ctrl-D.
                Input::Eof => ws.send(Message::Binary(vec![4u8].into()))?,
            }
        }
        // Polling the size is simpler than a SIGWINCH handler and reacts within a tick.
        if let Some(now) = terminal_size() {
            if now != size {
                size = now;
                let msg = serde_json::to_string(&ShellControl::Resize {
                    cols: now.0,
                    rows: now.1,
                })?;
                ws.send(Message::Text(msg.into()))?;
            }
        }
    }
    Ok(ExitCode::from(exit_code.clamp(0, 255) as u8))
}
