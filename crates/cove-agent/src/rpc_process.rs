//! Handlers of the `process.Process` Connect service.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use cove_proto::envelope::EnvelopeDecoder;
use cove_proto::process::{
    CloseStdinRequest, CloseStdinResponse, ConnectRequest, EndEvent, ListRequest, ListResponse,
    ProcessEvent, SendInputRequest, SendInputResponse, SendSignalRequest, SendSignalResponse,
    Signal, StartRequest, StartResponse, StreamInputRequest, StreamInputResponse, UpdateRequest,
    UpdateResponse,
};
use cove_proto::{Code, ConnectError};
use http_body_util::BodyExt;
use tokio::sync::mpsc;

use crate::connect::{self, StreamSender};
use crate::process::{Proc, SpawnSpec, Subscription, DEFAULT_PATH};
use crate::state::{process_cwd, Shared};

pub async fn handle(
    State(st): State<Shared>,
    Path(method): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match method.as_str() {
        "Start" => start(st, headers, body).await,
        "Connect" => connect_stream(st, headers, body).await,
        "StreamInput" => stream_input(st, headers, body).await,
        "List" => connect::unary(unary(&st, &headers, body, list).await),
        "SendInput" => connect::unary(unary_async(&st, &headers, body, send_input).await),
        "SendSignal" => connect::unary(unary(&st, &headers, body, send_signal).await),
        "CloseStdin" => connect::unary(unary_async(&st, &headers, body, close_stdin).await),
        "Update" => connect::unary(unary(&st, &headers, body, update).await),
        other => connect::unary::<()>(Err(ConnectError::new(
            Code::Unimplemented,
            format!("process.Process/{other} is not implemented"),
        ))),
    }
}

/// Authenticates the Basic-auth user, then parses the JSON request.
async fn prepare<Req: serde::de::DeserializeOwned>(
    st: &Shared,
    headers: &HeaderMap,
    body: Body,
) -> Result<Req, ConnectError> {
    let name = connect::basic_auth_user(headers)?;
    st.identity_rpc(name.as_deref())?;
    let bytes = connect::read_body(body, connect::MAX_UNARY_BODY).await?;
    connect::parse_json(&bytes)
}

async fn unary<Req, Resp>(
    st: &Shared,
    headers: &HeaderMap,
    body: Body,
    f: fn(&Shared, Req) -> Result<Resp, ConnectError>,
) -> Result<Resp, ConnectError>
where
    Req: serde::de::DeserializeOwned,
{
    let req = prepare(st, headers, body).await?;
    f(st, req)
}

async fn unary_async<Req, Resp, Fut>(
    st: &Shared,
    headers: &HeaderMap,
    body: Body,
    f: fn(Shared, Req) -> Fut,
) -> Result<Resp, ConnectError>
where
    Req: serde::de::DeserializeOwned,
    Fut: std::future::Future<Output = Result<Resp, ConnectError>>,
{
    let req = prepare(st, headers, body).await?;
    f(st.clone(), req).await
}

fn list(st: &Shared, _req: ListRequest) -> Result<ListResponse, ConnectError> {
    Ok(ListResponse {
        processes: st.procs.list(),
    })
}

async fn send_input(st: Shared, req: SendInputRequest) -> Result<SendInputResponse, ConnectError> {
    let proc = st.procs.find(req.process.as_ref(), false)?;
    let input = req.input.unwrap_or_default();
    write_input(&proc, input).await?;
    Ok(SendInputResponse {})
}

async fn write_input(
    proc: &Proc,
    input: cove_proto::process::ProcessInput,
) -> Result<(), ConnectError> {
    match (input.stdin, input.pty) {
        (Some(data), _) => proc.write_input(&data, false).await,
        (None, Some(data)) => proc.write_input(&data, true).await,
        (None, None) => Ok(()),
    }
}

fn send_signal(st: &Shared, req: SendSignalRequest) -> Result<SendSignalResponse, ConnectError> {
    let proc = st.procs.find(req.process.as_ref(), false)?;
    let sig = match req.signal {
        Signal::Sigkill => nix::sys::signal::Signal::SIGKILL,
        Signal::Sigterm => nix::sys::signal::Signal::SIGTERM,
        Signal::Unspecified => {
            return Err(ConnectError::new(
                Code::InvalidArgument,
                "signal is required",
            ))
        }
    };
    proc.signal(sig)?;
    Ok(SendSignalResponse {})
}

async fn close_stdin(
    st: Shared,
    req: CloseStdinRequest,
) -> Result<CloseStdinResponse, ConnectError> {
    let proc = st.procs.find(req.process.as_ref(), false)?;
    proc.close_stdin().await?;
    Ok(CloseStdinResponse {})
}

fn update(st: &Shared, req: UpdateRequest) -> Result<UpdateResponse, ConnectError> {
    let proc = st.procs.find(req.process.as_ref(), false)?;
    if let Some(size) = req.pty.and_then(|p| p.size) {
        proc.resize(&size)?;
    }
    Ok(UpdateResponse {})
}

async fn start(st: Shared, headers: HeaderMap, body: Body) -> Response {
    match start_process(&st, &headers, body).await {
        Ok((proc, rx)) => {
            let (out, resp) = connect::stream_response();
            let keepalive = connect::keepalive_interval(&headers);
            tokio::spawn(pump(proc, Subscription::Live(rx), out, keepalive));
            resp
        }
        Err(e) => connect::stream_error(e),
    }
}

async fn start_process(
    st: &Shared,
    headers: &HeaderMap,
    body: Body,
) -> Result<(Arc<Proc>, mpsc::Receiver<ProcessEvent>), ConnectError> {
    let name = connect::basic_auth_user(headers)?;
    let id = st.identity_rpc(name.as_deref())?;
    let req: StartRequest = connect::read_stream_request(body).await?;
    let config = req
        .process
        .ok_or_else(|| ConnectError::new(Code::InvalidArgument, "process config is required"))?;
    if config.cmd.is_empty() {
        return Err(ConnectError::new(
            Code::InvalidArgument,
            "process cmd is required",
        ));
    }
    let cwd = process_cwd(&id, config.cwd.as_deref())?;
    let user = &id.user;
    let mut env: Vec<(String, String)> = vec![
        ("PATH".into(), DEFAULT_PATH.into()),
        ("HOME".into(), user.home.to_string_lossy().into_owned()),
        ("USER".into(), user.name.clone()),
        ("LOGNAME".into(), user.name.clone()),
    ];
    env.extend(st.config().env_vars);
    env.extend(config.envs.clone());
    // Later entries win: keep only the last occurrence of each key.
    let mut dedup: Vec<(String, String)> = Vec::new();
    for (k, v) in env {
        dedup.retain(|(dk, _)| *dk != k);
        dedup.push((k, v));
    }
    let pty = req.pty.map(|p| {
        p.size
            .unwrap_or(cove_proto::process::PtySize { cols: 80, rows: 24 })
    });
    let spec = SpawnSpec {
        config,
        tag: req.tag,
        pty,
        stdin: req.stdin.unwrap_or(true),
        user: id.user.clone(),
        env: dedup,
        cwd,
        deadline: connect::connect_timeout(headers),
    };
    st.procs.spawn(spec)
}

async fn connect_stream(st: Shared, headers: HeaderMap, body: Body) -> Response {
    let result = async {
        let name = connect::basic_auth_user(&headers)?;
        st.identity_rpc(name.as_deref())?;
        let req: ConnectRequest = connect::read_stream_request(body).await?;
        st.procs.find(req.process.as_ref(), true)
    }
    .await;
    match result {
        Ok(proc) => {
            let sub = proc.subscribe();
            let (out, resp) = connect::stream_response();
            let keepalive = connect::keepalive_interval(&headers);
            tokio::spawn(pump(proc, sub, out, keepalive));
            resp
        }
        Err(e) => connect::stream_error(e),
    }
}

fn wrap(event: ProcessEvent) -> StartResponse {
    StartResponse { event: Some(event) }
}

/// Streams a process's events to one client: `start` first, output as it happens, keepalives when
/// idle, then `end` and the end-stream envelope. The process is unaffected if the client leaves.
async fn pump(proc: Arc<Proc>, sub: Subscription, out: StreamSender, keepalive: Duration) {
    if !out.send(&wrap(ProcessEvent::start(proc.pid))).await {
        return;
    }
    let mut rx = match sub {
        Subscription::Ended(end) => {
            if out.send(&wrap(ProcessEvent::end(end))).await {
                out.finish(None).await;
            }
            return;
        }
        Subscription::Live(rx) => rx,
    };
    let mut next_ping = tokio::time::Instant::now() + keepalive;
    loop {
        tokio::select! {
            msg = rx.recv() => match msg {
                Some(ev) => {
                    let is_end = ev.end.is_some();
                    if !out.send(&wrap(ev)).await {
                        return;
                    }
                    if is_end {
                        break;
                    }
                    next_ping = tokio::time::Instant::now() + keepalive;
                }
                None => {
                    let end: EndEvent = proc.end_event().unwrap_or_default();
                    if !out.send(&wrap(ProcessEvent::end(end))).await {
                        return;
                    }
                    break;
                }
            },
            _ = tokio::time::sleep_until(next_ping) => {
                if !out.send(&wrap(ProcessEvent::keepalive())).await {
                    return;
                }
                next_ping = tokio::time::Instant::now() + keepalive;
            }
            _ = out.closed() => return,
        }
    }
    let err = proc
        .deadline_hit
        .load(Ordering::SeqCst)
        .then(|| ConnectError::new(Code::DeadlineExceeded, "process deadline exceeded"));
    out.finish(err).await;
}

/// Client-streaming input: a `start` message selects the process, then `data` messages are written
/// as they arrive.
async fn stream_input(st: Shared, headers: HeaderMap, body: Body) -> Response {
    let result = async {
        let name = connect::basic_auth_user(&headers)?;
        st.identity_rpc(name.as_deref())?;
        let mut body = body;
        let mut dec = EnvelopeDecoder::new();
        let mut proc: Option<Arc<Proc>> = None;
        loop {
            while let Some(frame) = dec
                .next_frame()
                .map_err(|e| ConnectError::new(Code::InvalidArgument, e.to_string()))?
            {
                if frame.is_end_stream() {
                    continue;
                }
                let msg: StreamInputRequest = connect::parse_json(&frame.payload)?;
                if let Some(start) = msg.start {
                    proc = Some(st.procs.find(start.process.as_ref(), false)?);
                } else if let Some(data) = msg.data {
                    let p = proc.as_ref().ok_or_else(|| {
                        ConnectError::new(Code::FailedPrecondition, "start message must come first")
                    })?;
                    write_input(p, data.input.unwrap_or_default()).await?;
                }
            }
            match body.frame().await {
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        dec.push(&data);
                    }
                }
                Some(Err(e)) => {
                    return Err(ConnectError::new(
                        Code::Canceled,
                        format!("reading input: {e}"),
                    ))
                }
                None => break,
            }
        }
        dec.finish()
            .map_err(|e| ConnectError::new(Code::InvalidArgument, e.to_string()))?;
        Ok(StreamInputResponse {})
    }
    .await;
    let (out, resp) = connect::stream_response();
    tokio::spawn(async move {
        match result {
            Ok(msg) => {
                if out.send(&msg).await {
                    out.finish(None).await;
                }
            }
            Err(e) => out.finish(Some(e)).await,
        }
    });
    resp
}
