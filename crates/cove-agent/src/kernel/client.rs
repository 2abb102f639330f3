//! One running kernel: its process and a Jupyter client over ZeroMQ. Shell and iopub messages are
//! read by one task per socket and routed by `parent_header.msg_id` to whoever sent the request,
//! so the kernel's replies never need to be read in lock-step with requests.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use cove_proto::process::{ProcessConfig, ProcessEvent};
use nix::sys::signal::Signal;
use serde_json::{json, Value};
use tokio::sync::mpsc;
use zeromq::{
    DealerRecvHalf, DealerSendHalf, DealerSocket, Socket, SocketRecv, SocketSend, SubSocket,
};

use super::error::KernelError;
use super::spec::{InterruptMode, KernelSpec};
use super::wire::{self, Message, Signer};
use crate::process::{Proc, SpawnSpec, DEFAULT_PATH};
use crate::state::Shared;
use crate::users::User;

/// How long a kernel has to open its ports and answer `kernel_info_request`.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a kernel has to exit after `shutdown_request` before it is killed.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// Where connection files live: inside the sandbox, private to root and the kernel's user.
const RUNTIME_DIR: &str = "/tmp/.cove-kernels";
const DEBIAN_MATPLOTLIBRC: &str = "/usr/share/matplotlib/mpl-data/matplotlibrc";

/// A message for a request's owner, tagged with the channel it came from.
#[derive(Debug)]
pub enum Reply {
    Iopub(Message),
    Shell(Message),
}

type Routes = Arc<Mutex<HashMap<String, mpsc::UnboundedSender<Reply>>>>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

pub struct Kernel {
    pub spec: KernelSpec,
    proc: Arc<Proc>,
    signer: Signer,
    session: String,
    shell: tokio::sync::Mutex<DealerSendHalf>,
    control: tokio::sync::Mutex<DealerSendHalf>,
    routes: Routes,
    dead: Arc<AtomicBool>,
    connection_file: PathBuf,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

struct Ports {
    shell: u16,
    iopub: u16,
    stdin: u16,
    control: u16,
    hb: u16,
}

/// Picks five free loopback ports. Like jupyter_client, it binds and releases them: another
/// process could take one in between, which then fails the start loudly rather than silently.
fn free_ports() -> std::io::Result<Ports> {
    let listeners = (0..5)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<std::io::Result<Vec<_>>>()?;
    let p = listeners
        .iter()
        .map(|l| l.local_addr().map(|a| a.port()))
        .collect::<std::io::Result<Vec<_>>>()?;
    Ok(Ports {
        shell: p[0],
        iopub: p[1],
        stdin: p[2],
        control: p[3],
        hb: p[4],
    })
}

fn write_connection_file(
    id: &str,
    ports: &Ports,
    key: &str,
    spec: &KernelSpec,
    user: &User,
) -> Result<PathBuf, KernelError> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let dir = PathBuf::from(RUNTIME_DIR);
    std::fs::create_dir_all(&dir)?;
    // World-traversable but not listable, so a kernel can open its own file by name only.
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o711))?;
    let path = dir.join(format!("kernel-{id}.json"));
    let body = json!({
        "shell_port": ports.shell,
        "iopub_port": ports.iopub,
        "stdin_port": ports.stdin,
        "control_port": ports.control,
        "hb_port": ports.hb,
        "ip": "127.0.0.1",
        "key": key,
        "transport": "tcp",
        "signature_scheme": "hmac-sha256",
        "kernel_name": spec.name,
    });
    let _ = std::fs::remove_file(&path);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)?;
    f.write_all(body.to_string().as_bytes())?;
    if nix::unistd::geteuid().is_root() {
        nix::unistd::chown(
            &path,
            Some(nix::unistd::Uid::from_raw(user.uid)),
            Some(nix::unistd::Gid::from_raw(user.gid)),
        )
        .map_err(std::io::Error::from)?;
    }
    Ok(path)
}

/// Polls the shell port until the kernel listens, so the ZeroMQ connect (whose own retry backs
/// off exponentially) succeeds on its first try.
async fn wait_listening(
    port: u16,
    dead: &AtomicBool,
    deadline: Instant,
) -> Result<(), KernelError> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    loop {
        if dead.load(Ordering::SeqCst) {
            return Err(KernelError::Start(
                "the kernel process exited during startup".into(),
            ));
        }
        if Instant::now() > deadline {
            return Err(KernelError::StartTimeout(START_TIMEOUT.as_secs()));
        }
        let ok = tokio::task::spawn_blocking(move || {
            TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
        })
        .await
        .unwrap_or(false);
        if ok {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn connect_dealer(port: u16) -> Result<DealerSocket, KernelError> {
    let mut s = DealerSocket::new();
    s.connect(&format!("tcp://127.0.0.1:{port}")).await?;
    Ok(s)
}

impl Kernel {
    /// Launches `spec` as `user` in `cwd` and waits until it answers.
    pub async fn start(
        app: &Shared,
        id: &str,
        spec: KernelSpec,
        user: User,
        cwd: PathBuf,
    ) -> Result<Arc<Kernel>, KernelError> {
        let deadline = Instant::now() + START_TIMEOUT;
        let ports = free_ports()?;
        let key = wire::random_hex(32);
        let connection_file = write_connection_file(id, &ports, &key, &spec, &user)?;
        let cf = connection_file.to_string_lossy().into_owned();
        let resource_dir = spec.resource_dir.to_string_lossy().into_owned();
        let argv: Vec<String> = spec
            .argv
            .iter()
            .map(|a| {
                a.replace("{connection_file}", &cf)
                    .replace("{resource_dir}", &resource_dir)
            })
            .collect();
        let mut env: Vec<(String, String)> = vec![
            ("PATH".into(), DEFAULT_PATH.into()),
            ("HOME".into(), user.home.to_string_lossy().into_owned()),
            ("USER".into(), user.name.clone()),
            ("LOGNAME".into(), user.name.clone()),
        ];
        // Debian's matplotlib reads its defaults only from /etc/matplotlibrc, a conffile that
        // images reusing a host's /usr with their own /etc (Cove's `base`) lack; the same file
        // ships under /usr, so point matplotlib there rather than breaking every chart.
        if !std::path::Path::new("/etc/matplotlibrc").exists()
            && std::path::Path::new(DEBIAN_MATPLOTLIBRC).exists()
        {
            env.push(("MATPLOTLIBRC".into(), DEBIAN_MATPLOTLIBRC.into()));
        }
        env.extend(app.config().env_vars);
        env.extend(spec.env.clone());
        let mut dedup: Vec<(String, String)> = Vec::new();
        for (k, v) in env {
            dedup.retain(|(dk, _)| *dk != k);
            dedup.push((k, v));
        }
        let (cmd, args) = argv
            .split_first()
            .map(|(c, a)| (c.clone(), a.to_vec()))
            .ok_or_else(|| KernelError::Start("kernelspec has an empty argv".into()))?;
        let spawn = SpawnSpec {
            config: ProcessConfig {
                cmd,
                args,
                envs: Default::default(),
                cwd: Some(cwd.to_string_lossy().into_owned()),
            },
            tag: Some(format!("cove-kernel-{id}")),
            pty: None,
            stdin: false,
            user,
            env: dedup,
            cwd,
            deadline: None,
        };
        let (proc, events) = app
            .procs
            .spawn(spawn)
            .map_err(|e| KernelError::Start(e.message))?;
        let dead = Arc::new(AtomicBool::new(false));
        let routes: Routes = Arc::new(Mutex::new(HashMap::new()));
        let mut tasks = vec![tokio::spawn(watch_process(
            id.to_string(),
            events,
            dead.clone(),
            routes.clone(),
        ))];

        let connected = async {
            wait_listening(ports.shell, &dead, deadline).await?;
            let shell = connect_dealer(ports.shell).await?;
            let control = connect_dealer(ports.control).await?;
            let mut iopub = SubSocket::new();
            iopub
                .connect(&format!("tcp://127.0.0.1:{}", ports.iopub))
                .await?;
            iopub.subscribe("").await?;
            Ok::<_, KernelError>((shell, control, iopub))
        };
        let (shell, control, iopub) = match connected.await {
            Ok(s) => s,
            Err(e) => {
                let _ = proc.signal(Signal::SIGKILL);
                let _ = std::fs::remove_file(&connection_file);
                return Err(e);
            }
        };
        let signer = Signer::new(&key);
        let (shell, shell_rx) = shell.split();
        let (control, control_rx) = control.split();
        tasks.push(tokio::spawn(route_iopub(
            iopub,
            signer.clone(),
            routes.clone(),
        )));
        tasks.push(tokio::spawn(route_shell(
            shell_rx,
            signer.clone(),
            routes.clone(),
        )));
        tasks.push(tokio::spawn(drain_control(control_rx)));
        let kernel = Kernel {
            spec,
            proc,
            signer,
            session: wire::random_hex(16),
            shell: tokio::sync::Mutex::new(shell),
            control: tokio::sync::Mutex::new(control),
            routes,
            dead,
            connection_file,
            tasks,
        };
        let kernel = Arc::new(kernel);
        if let Err(e) = kernel.wait_ready(deadline).await {
            kernel.kill();
            return Err(e);
        }
        Ok(kernel)
    }

    /// `kernel_info_request` until both its reply and an iopub message about it arrive: a SUB
    /// socket's subscription takes effect asynchronously, and iopub messages sent before that are
    /// lost, so only a message seen on iopub proves that no execution output will be missed.
    async fn wait_ready(&self, deadline: Instant) -> Result<(), KernelError> {
        loop {
            if Instant::now() > deadline {
                return Err(KernelError::StartTimeout(START_TIMEOUT.as_secs()));
            }
            let (msg_id, mut rx) = self.request("kernel_info_request", &json!({})).await?;
            let wait = async {
                let (mut reply, mut iopub) = (false, false);
                while let Some(r) = rx.recv().await {
                    match r {
                        Reply::Shell(_) => reply = true,
                        Reply::Iopub(_) => iopub = true,
                    }
                    if reply && iopub {
                        return Ok(());
                    }
                }
                Err(KernelError::Died)
            };
            let res = tokio::time::timeout(Duration::from_millis(500), wait).await;
            self.forget(&msg_id);
            match res {
                Ok(r) => return r,
                Err(_elapsed) if self.is_dead() => return Err(KernelError::Died),
                Err(_elapsed) => continue,
            }
        }
    }

    pub fn is_dead(&self) -> bool {
        self.dead.load(Ordering::SeqCst)
    }

    /// Sends a shell request; replies and iopub messages about it arrive on the receiver, which
    /// ends if the kernel dies.
    pub async fn request(
        &self,
        msg_type: &str,
        content: &Value,
    ) -> Result<(String, mpsc::UnboundedReceiver<Reply>), KernelError> {
        if self.is_dead() {
            return Err(KernelError::Died);
        }
        let msg_id = wire::random_hex(16);
        let msg = wire::encode(&self.signer, &self.session, &msg_id, msg_type, content)?;
        let (tx, rx) = mpsc::unbounded_channel();
        lock(&self.routes).insert(msg_id.clone(), tx);
        let sent = self.shell.lock().await.send(msg).await;
        if let Err(e) = sent {
            self.forget(&msg_id);
            return Err(e.into());
        }
        Ok((msg_id, rx))
    }

    /// Stops routing messages about `msg_id`.
    pub fn forget(&self, msg_id: &str) {
        lock(&self.routes).remove(msg_id);
    }

    /// Interrupts the running cell the way the kernelspec asks for.
    pub async fn interrupt(&self) {
        match self.spec.interrupt_mode {
            InterruptMode::Signal => {
                let _ = self.proc.signal(Signal::SIGINT);
            }
            InterruptMode::Message => {
                let _ = self.control_send("interrupt_request", &json!({})).await;
            }
        }
    }

    async fn control_send(&self, msg_type: &str, content: &Value) -> Result<(), KernelError> {
        let msg_id = wire::random_hex(16);
        let msg = wire::encode(&self.signer, &self.session, &msg_id, msg_type, content)?;
        self.control.lock().await.send(msg).await?;
        Ok(())
    }

    /// Asks the kernel to exit, then kills its process group if it has not after a grace period.
    pub async fn shutdown(&self) {
        if !self.is_dead() {
            let _ = tokio::time::timeout(
                SHUTDOWN_GRACE,
                self.control_send("shutdown_request", &json!({"restart": false})),
            )
            .await;
            let until = Instant::now() + SHUTDOWN_GRACE;
            while !self.is_dead() && Instant::now() < until {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        self.kill();
    }

    /// Kills the kernel and everything it started, at once.
    pub fn kill(&self) {
        if !self.is_dead() {
            let _ = self.proc.signal(Signal::SIGKILL);
        }
        for t in &self.tasks {
            t.abort();
        }
        lock(&self.routes).clear();
        let _ = std::fs::remove_file(&self.connection_file);
    }
}

impl Drop for Kernel {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Drains the kernel process's own output (it is not part of any cell's output; Jupyter routes
/// cell output over iopub) and notices its exit, which ends every pending request.
async fn watch_process(
    id: String,
    mut events: mpsc::Receiver<ProcessEvent>,
    dead: Arc<AtomicBool>,
    routes: Routes,
) {
    while let Some(ev) = events.recv().await {
        if let Some(data) = &ev.data {
            for chunk in [&data.stdout, &data.stderr].into_iter().flatten() {
                tracing::debug!(context = %id, "kernel: {}", String::from_utf8_lossy(chunk).trim_end());
            }
        }
        if let Some(end) = &ev.end {
            tracing::info!(context = %id, status = %end.status, "kernel exited");
            break;
        }
    }
    dead.store(true, Ordering::SeqCst);
    lock(&routes).clear();
}

fn route(routes: &Routes, parent_id: &str, reply: Reply) {
    let routes = lock(routes);
    if let Some(tx) = routes.get(parent_id) {
        let _ = tx.send(reply);
    }
}

async fn route_iopub(mut iopub: SubSocket, signer: Signer, routes: Routes) {
    loop {
        match iopub.recv().await {
            Ok(raw) => match wire::decode(&signer, raw) {
                Ok(msg) => {
                    let parent = msg.parent_id.clone();
                    route(&routes, &parent, Reply::Iopub(msg));
                }
                Err(e) => tracing::warn!("iopub: {e}"),
            },
            Err(e) => {
                tracing::debug!("iopub closed: {e}");
                return;
            }
        }
    }
}

async fn route_shell(mut shell: DealerRecvHalf, signer: Signer, routes: Routes) {
    loop {
        match shell.recv().await {
            Ok(raw) => match wire::decode(&signer, raw) {
                Ok(msg) => {
                    let parent = msg.parent_id.clone();
                    route(&routes, &parent, Reply::Shell(msg));
                }
                Err(e) => tracing::warn!("shell: {e}"),
            },
            Err(e) => {
                tracing::debug!("shell closed: {e}");
                return;
            }
        }
    }
}

/// Control replies (to interrupt and shutdown requests) carry nothing the agent needs; reading
/// them keeps the socket's queue from growing.
async fn drain_control(mut control: DealerRecvHalf) {
    while control.recv().await.is_ok() {}
}
