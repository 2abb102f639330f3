//! The agent's process table. As PID 1 the agent must reap every zombie, including orphans it never
//! started, so it owns child lifetimes itself: children are spawned with `std::process::Command`
//! (never tokio::process, whose per-child waitpid would race a `waitpid(-1)` reaper), and a single
//! reaper dispatches exit statuses to registered processes and silently reaps the rest.
//!
//! Output is drained continuously into a bounded broadcast channel, so a process never blocks on a
//! full pipe when nobody listens, and a slow listener loses old chunks instead of growing memory.

use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use cove_proto::process::{
    DataEvent, EndEvent, ProcessConfig, ProcessEvent, ProcessInfo, ProcessSelector, PtySize,
};
use cove_proto::{Code, ConnectError};
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use tokio::io::unix::AsyncFd;
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, oneshot};

use crate::users::User;

/// Exited processes kept for `Connect` replay.
const RETAIN_EXITED: usize = 100;
/// Chunks buffered per process for slow listeners (each at most `READ_CHUNK` bytes).
/// Events buffered per listener before the output reader waits for it (and the process, in turn,
/// blocks on a full pipe): a listener never loses output, and memory stays bounded.
const SUBSCRIBER_CAPACITY: usize = 64;
const READ_CHUNK: usize = 32 * 1024;
/// After the exit status arrives, how long to keep draining pipes that a background grandchild may
/// hold open before closing them and reporting the end.
const DRAIN_GRACE: Duration = Duration::from_millis(500);

pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A poisoned table is still consistent for our purposes; refusing service would be worse.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// What to spawn, fully resolved by the RPC layer.
pub struct SpawnSpec {
    pub config: ProcessConfig,
    pub tag: Option<String>,
    pub pty: Option<PtySize>,
    pub stdin: bool,
    pub user: User,
    pub env: Vec<(String, String)>,
    pub cwd: PathBuf,
    pub deadline: Option<Duration>,
}

/// How a listener joins a process's output.
pub enum Subscription {
    Live(mpsc::Receiver<ProcessEvent>),
    Ended(EndEvent),
}

struct OutputState {
    subs: Vec<mpsc::Sender<ProcessEvent>>,
    end: Option<EndEvent>,
}

pub struct Proc {
    pub pid: u32,
    pub config: ProcessConfig,
    pub tag: Option<String>,
    /// PTY master, shared by the output reader, input writes and resizes.
    pty: Option<Arc<AsyncFd<File>>>,
    stdin: Mutex<Option<Arc<AsyncFd<File>>>>,
    /// Serialises writers so interleaved SendInput calls keep their order.
    input_lock: tokio::sync::Mutex<()>,
    output: Mutex<OutputState>,
    exit_tx: Mutex<Option<oneshot::Sender<EndEvent>>>,
    /// Set when the `Connect-Timeout-Ms` deadline killed the process.
    pub deadline_hit: AtomicBool,
}

impl Proc {
    pub fn is_pty(&self) -> bool {
        self.pty.is_some()
    }

    pub fn info(&self) -> ProcessInfo {
        ProcessInfo {
            config: Some(self.config.clone()),
            pid: self.pid,
            tag: self.tag.clone(),
        }
    }

    pub fn subscribe(&self) -> Subscription {
        let mut out = lock(&self.output);
        if let Some(end) = &out.end {
            return Subscription::Ended(end.clone());
        }
        let (tx, rx) = mpsc::channel(SUBSCRIBER_CAPACITY);
        out.subs.push(tx);
        Subscription::Live(rx)
    }

    pub fn end_event(&self) -> Option<EndEvent> {
        lock(&self.output).end.clone()
    }

    /// Hands an event to every listener, waiting for slow ones; with no listener it is dropped so
    /// an unattended process never blocks.
    async fn publish(&self, ev: ProcessEvent) {
        let subs: Vec<mpsc::Sender<ProcessEvent>> = {
            let mut out = lock(&self.output);
            out.subs.retain(|s| !s.is_closed());
            out.subs.clone()
        };
        for s in subs {
            // An error means that listener went away; `retain` above forgets it next time.
            let _ = s.send(ev.clone()).await;
        }
    }

    /// Writes stdin (pipe) or terminal input (PTY).
    pub async fn write_input(&self, data: &[u8], to_pty: bool) -> Result<(), ConnectError> {
        let fd = if to_pty {
            self.pty
                .clone()
                .ok_or_else(|| ConnectError::new(Code::FailedPrecondition, "process has no pty"))?
        } else {
            if self.is_pty() {
                return Err(ConnectError::new(
                    Code::FailedPrecondition,
                    "process uses a pty; send pty input instead of stdin",
                ));
            }
            lock(&self.stdin)
                .clone()
                .ok_or_else(|| ConnectError::new(Code::FailedPrecondition, "stdin is not open"))?
        };
        let _guard = self.input_lock.lock().await;
        write_all(&fd, data)
            .await
            .map_err(|e| ConnectError::new(Code::FailedPrecondition, format!("writing input: {e}")))
    }

    pub async fn close_stdin(&self) -> Result<(), ConnectError> {
        if self.is_pty() {
            return Err(ConnectError::new(
                Code::FailedPrecondition,
                "cannot close stdin of a pty process; send Ctrl-D instead",
            ));
        }
        lock(&self.stdin).take();
        Ok(())
    }

    pub fn resize(&self, size: &PtySize) -> Result<(), ConnectError> {
        let fd = self
            .pty
            .as_ref()
            .ok_or_else(|| ConnectError::new(Code::FailedPrecondition, "process has no pty"))?;
        set_winsize(fd.get_ref(), size).map_err(|e| crate::error::internal(format!("resize: {e}")))
    }

    /// Signals the whole process group (the child is a session leader), falling back to the pid.
    pub fn signal(&self, sig: Signal) -> Result<(), ConnectError> {
        let pid = i32::try_from(self.pid).map_err(crate::error::internal)?;
        if kill(Pid::from_raw(-pid), sig).is_ok() {
            return Ok(());
        }
        kill(Pid::from_raw(pid), sig)
            .map_err(|e| ConnectError::new(Code::NotFound, format!("process {}: {e}", self.pid)))
    }
}

async fn write_all(fd: &AsyncFd<File>, mut data: &[u8]) -> io::Result<()> {
    while !data.is_empty() {
        let mut guard = fd.writable().await?;
        match guard.try_io(|f| f.get_ref().write(data)) {
            Ok(Ok(n)) => data = &data[n..],
            Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
            Ok(Err(e)) => return Err(e),
            Err(_would_block) => {}
        }
    }
    Ok(())
}

fn set_winsize(f: &File, size: &PtySize) -> io::Result<()> {
    let ws = libc::winsize {
        ws_row: u16::try_from(size.rows).unwrap_or(u16::MAX),
        ws_col: u16::try_from(size.cols).unwrap_or(u16::MAX),
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCSWINSZ reads a winsize struct from a valid pointer; the fd is owned by `f`.
    let rc = unsafe { libc::ioctl(f.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn set_nonblocking_cloexec(fd: &OwnedFd) -> io::Result<()> {
    use nix::fcntl::{fcntl, FcntlArg, FdFlag, OFlag};
    let raw = fd.as_raw_fd();
    let fl = fcntl(raw, FcntlArg::F_GETFL)?;
    fcntl(
        raw,
        FcntlArg::F_SETFL(OFlag::from_bits_truncate(fl) | OFlag::O_NONBLOCK),
    )?;
    fcntl(raw, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC))?;
    Ok(())
}

fn async_fd(fd: OwnedFd) -> io::Result<AsyncFd<File>> {
    set_nonblocking_cloexec(&fd)?;
    // SAFETY: the File owns the fd, so it stays open and unchanged for the AsyncFd's lifetime.
    Ok(unsafe { AsyncFd::register(File::from(fd)) }?)
}

#[derive(Clone, Copy)]
enum Stream {
    Stdout,
    Stderr,
    Pty,
}

async fn read_loop(proc: Arc<Proc>, fd: Arc<AsyncFd<File>>, stream: Stream) {
    let mut buf = vec![0u8; READ_CHUNK];
    loop {
        let Ok(mut guard) = fd.readable().await else {
            break;
        };
        match guard.try_io(|f| f.get_ref().read(&mut buf)) {
            Ok(Ok(0)) => break,
            Ok(Ok(n)) => {
                let chunk = Some(buf[..n].to_vec());
                let data = match stream {
                    Stream::Stdout => DataEvent {
                        stdout: chunk,
                        ..Default::default()
                    },
                    Stream::Stderr => DataEvent {
                        stderr: chunk,
                        ..Default::default()
                    },
                    Stream::Pty => DataEvent {
                        pty: chunk,
                        ..Default::default()
                    },
                };
                proc.publish(ProcessEvent::data(data)).await;
            }
            Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
            // EIO on a PTY master means every slave end is closed: that is EOF.
            Ok(Err(_)) => break,
            Err(_would_block) => {}
        }
    }
}

/// Go's `syscall.Signal.String()` for the signals a sandbox process commonly dies of.
fn signal_name(sig: Signal) -> String {
    let s = match sig {
        Signal::SIGHUP => "hangup",
        Signal::SIGINT => "interrupt",
        Signal::SIGQUIT => "quit",
        Signal::SIGILL => "illegal instruction",
        Signal::SIGTRAP => "trace/breakpoint trap",
        Signal::SIGABRT => "aborted",
        Signal::SIGBUS => "bus error",
        Signal::SIGFPE => "floating point exception",
        Signal::SIGKILL => "killed",
        Signal::SIGUSR1 => "user defined signal 1",
        Signal::SIGSEGV => "segmentation fault",
        Signal::SIGUSR2 => "user defined signal 2",
        Signal::SIGPIPE => "broken pipe",
        Signal::SIGALRM => "alarm clock",
        Signal::SIGTERM => "terminated",
        other => return format!("signal {}", other as i32),
    };
    s.to_string()
}

/// Converts a wait status to Go `os/exec` conventions (`ProcessState.String()`, `cmd.Wait()` error).
pub fn end_event(ws: WaitStatus) -> Option<EndEvent> {
    match ws {
        WaitStatus::Exited(_, code) => {
            let status = format!("exit status {code}");
            Some(EndEvent {
                exit_code: code,
                exited: true,
                error: (code != 0).then(|| status.clone()),
                status,
            })
        }
        WaitStatus::Signaled(_, sig, core) => {
            let mut status = format!("signal: {}", signal_name(sig));
            if core {
                status.push_str(" (core dumped)");
            }
            Some(EndEvent {
                exit_code: -1,
                exited: false,
                error: Some(status.clone()),
                status,
            })
        }
        _ => None,
    }
}

#[derive(Default)]
struct Table {
    running: HashMap<u32, Arc<Proc>>,
    exited: VecDeque<Arc<Proc>>,
}

pub struct ProcessTable {
    inner: Mutex<Table>,
}

impl ProcessTable {
    pub fn new() -> Arc<Self> {
        Arc::new(ProcessTable {
            inner: Mutex::new(Table::default()),
        })
    }

    /// Reaps every exited child. Holding the table lock while calling `waitpid(-1)` guarantees a
    /// child being spawned (also under the lock) is registered before its status can be collected,
    /// and that std's own wait after a failed exec never races us.
    pub fn reap(&self) {
        let table = lock(&self.inner);
        loop {
            match waitpid(Pid::from_raw(-1), Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) | Err(_) => break,
                Ok(ws) => {
                    let Some(pid) = ws.pid() else { continue };
                    let Ok(pid) = u32::try_from(pid.as_raw()) else {
                        continue;
                    };
                    if let (Some(p), Some(end)) = (table.running.get(&pid), end_event(ws)) {
                        if let Some(tx) = lock(&p.exit_tx).take() {
                            let _ = tx.send(end);
                        }
                    }
                }
            }
        }
    }

    pub fn list(&self) -> Vec<ProcessInfo> {
        let table = lock(&self.inner);
        let mut out: Vec<ProcessInfo> = table.running.values().map(|p| p.info()).collect();
        out.sort_by_key(|p| p.pid);
        out
    }

    /// Finds a process by selector; exited ones are considered only if `include_exited`.
    pub fn find(
        &self,
        sel: Option<&ProcessSelector>,
        include_exited: bool,
    ) -> Result<Arc<Proc>, ConnectError> {
        let sel = sel.ok_or_else(|| {
            ConnectError::new(Code::InvalidArgument, "process selector is required")
        })?;
        let table = lock(&self.inner);
        let matches = |p: &Arc<Proc>| match (&sel.pid, &sel.tag) {
            (Some(pid), _) => p.pid == *pid,
            (None, Some(tag)) => p.tag.as_deref() == Some(tag.as_str()),
            (None, None) => false,
        };
        if sel.pid.is_none() && sel.tag.is_none() {
            return Err(ConnectError::new(
                Code::InvalidArgument,
                "process selector needs a pid or a tag",
            ));
        }
        let found = table
            .running
            .values()
            .find(|p| matches(p))
            .or_else(|| {
                include_exited
                    .then(|| table.exited.iter().rev().find(|p| matches(p)))
                    .flatten()
            })
            .cloned();
        found.ok_or_else(|| {
            let what = match (&sel.pid, &sel.tag) {
                (Some(pid), _) => format!("process with pid {pid} not found"),
                (None, Some(tag)) => format!("process with tag {tag} not found"),
                (None, None) => "process not found".to_string(),
            };
            ConnectError::new(Code::NotFound, what)
        })
    }

    /// Spawns a process and returns it with a subscription taken before any output is read.
    pub fn spawn(
        self: &Arc<Self>,
        spec: SpawnSpec,
    ) -> Result<(Arc<Proc>, mpsc::Receiver<ProcessEvent>), ConnectError> {
        let spawn_err = |e: io::Error| {
            let what = match e.kind() {
                io::ErrorKind::NotFound => "no such file or directory".to_string(),
                io::ErrorKind::PermissionDenied => "permission denied".to_string(),
                _ => e.to_string(),
            };
            ConnectError::new(
                Code::InvalidArgument,
                format!("failed to start process: {what}: {}", spec.config.cmd),
            )
        };

        let mut cmd = Command::new(&spec.config.cmd);
        cmd.args(&spec.config.args)
            .env_clear()
            .envs(spec.env.iter().map(|(k, v)| (k, v)))
            .current_dir(&spec.cwd);

        let mut pty_master = None;
        if let Some(size) = &spec.pty {
            let ws = nix::pty::Winsize {
                ws_row: u16::try_from(size.rows).unwrap_or(u16::MAX),
                ws_col: u16::try_from(size.cols).unwrap_or(u16::MAX),
                ws_xpixel: 0,
                ws_ypixel: 0,
            };
            let pty = nix::pty::openpty(&ws, None)
                .map_err(|e| crate::error::internal(format!("openpty: {e}")))?;
            let slave = pty.slave;
            let master = pty.master;
            let clone = |fd: &OwnedFd| fd.try_clone().map_err(crate::error::internal);
            set_nonblocking_cloexec(&master).map_err(crate::error::internal)?;
            nix::fcntl::fcntl(
                slave.as_raw_fd(),
                nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
            )
            .map_err(crate::error::internal)?;
            cmd.stdin(Stdio::from(clone(&slave)?))
                .stdout(Stdio::from(clone(&slave)?))
                .stderr(Stdio::from(slave));
            pty_master = Some(master);
        } else {
            cmd.stdin(if spec.stdin {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        }

        let switch_user = nix::unistd::geteuid().is_root();
        let uid = spec.user.uid;
        let gid = spec.user.gid;
        let groups: Vec<libc::gid_t> = spec.user.groups.clone();
        let is_pty = spec.pty.is_some();
        // SAFETY: the closure runs between fork and exec and only calls async-signal-safe libc
        // functions on data prepared before the fork (no allocation, no locks).
        unsafe {
            cmd.pre_exec(move || {
                let mut set: libc::sigset_t = std::mem::zeroed();
                libc::sigemptyset(&mut set);
                libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
                // Rust ignores SIGPIPE; children expect the default disposition.
                libc::signal(libc::SIGPIPE, libc::SIG_DFL);
                if libc::setsid() < 0 {
                    return Err(io::Error::last_os_error());
                }
                if is_pty && libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                    return Err(io::Error::last_os_error());
                }
                if switch_user
                    && (libc::setgroups(groups.len(), groups.as_ptr()) < 0
                        || libc::setgid(gid) < 0
                        || libc::setuid(uid) < 0)
                {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }

        let pty = match pty_master {
            Some(master) => Some(Arc::new(async_fd(master).map_err(crate::error::internal)?)),
            None => None,
        };
        let (exit_tx, exit_rx) = oneshot::channel();
        // The starter's listener exists before the first byte is read, so it sees all output.
        let (tx, rx) = mpsc::channel(SUBSCRIBER_CAPACITY);
        let (proc, mut child) = {
            let mut table = lock(&self.inner);
            let child = cmd.spawn().map_err(spawn_err)?;
            let proc = Arc::new(Proc {
                pid: child.id(),
                config: spec.config,
                tag: spec.tag,
                pty: pty.clone(),
                stdin: Mutex::new(None),
                input_lock: tokio::sync::Mutex::new(()),
                output: Mutex::new(OutputState {
                    subs: vec![tx],
                    end: None,
                }),
                exit_tx: Mutex::new(Some(exit_tx)),
                deadline_hit: AtomicBool::new(false),
            });
            table.running.insert(child.id(), proc.clone());
            (proc, child)
        };
        // The Command still holds the parent's copies of the PTY slave; dropping it lets the
        // master see EOF once the child's side closes.
        drop(cmd);

        let mut outs = Vec::new();
        if let Some(fd) = pty {
            outs.push((fd, Stream::Pty));
        }
        if let Some(out) = child.stdout.take() {
            let fd = async_fd(OwnedFd::from(out)).map_err(crate::error::internal)?;
            outs.push((Arc::new(fd), Stream::Stdout));
        }
        if let Some(err) = child.stderr.take() {
            let fd = async_fd(OwnedFd::from(err)).map_err(crate::error::internal)?;
            outs.push((Arc::new(fd), Stream::Stderr));
        }
        if let Some(s) = child.stdin.take() {
            let fd = async_fd(OwnedFd::from(s)).map_err(crate::error::internal)?;
            *lock(&proc.stdin) = Some(Arc::new(fd));
        }
        // std never waits for a spawned child on its own; the reaper does.
        drop(child);

        let readers: Vec<_> = outs
            .into_iter()
            .map(|(fd, stream)| tokio::spawn(read_loop(proc.clone(), fd, stream)))
            .collect();

        let table = self.clone();
        let p = proc.clone();
        let deadline = spec.deadline;
        tokio::spawn(async move {
            let ended = async {
                let end = exit_rx.await.unwrap_or_default();
                let mut readers = readers;
                let drained = tokio::time::timeout(DRAIN_GRACE, async {
                    for r in readers.iter_mut() {
                        let _ = r.await;
                    }
                })
                .await;
                if drained.is_err() {
                    for r in &readers {
                        r.abort();
                    }
                }
                end
            };
            tokio::pin!(ended);
            // The deadline lives in this task rather than its own: a finished process must not
            // leave a timer (and its `Proc`) behind for the rest of the deadline.
            let end = match deadline {
                None => ended.await,
                Some(d) => tokio::select! {
                    end = &mut ended => end,
                    _ = tokio::time::sleep(d) => {
                        p.deadline_hit.store(true, Ordering::SeqCst);
                        let _ = p.signal(Signal::SIGKILL);
                        ended.await
                    }
                },
            };
            lock(&p.stdin).take();
            table.finish(&p, end);
        });

        Ok((proc, rx))
    }

    fn finish(&self, p: &Arc<Proc>, end: EndEvent) {
        let mut table = lock(&self.inner);
        {
            let mut out = lock(&p.output);
            let subs = std::mem::take(&mut out.subs);
            out.end = Some(end.clone());
            // Listeners that joined before the end get it through their channel; later ones see
            // `out.end`. Only a listener whose channel is full waits, in a task, which keeps this
            // function free of awaits under the locks; the rest get the end without a task hop.
            let ev = ProcessEvent::end(end);
            let full: Vec<_> = subs
                .into_iter()
                .filter(|s| matches!(s.try_send(ev.clone()), Err(TrySendError::Full(_))))
                .collect();
            if !full.is_empty() {
                tokio::spawn(async move {
                    for s in full {
                        let _ = s.send(ev.clone()).await;
                    }
                });
            }
        }
        if table
            .running
            .get(&p.pid)
            .is_some_and(|cur| Arc::ptr_eq(cur, p))
        {
            table.running.remove(&p.pid);
        }
        table.exited.push_back(p.clone());
        while table.exited.len() > RETAIN_EXITED {
            table.exited.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_style_end_events() {
        let pid = Pid::from_raw(5);
        let ok = end_event(WaitStatus::Exited(pid, 0));
        assert_eq!(
            ok,
            Some(EndEvent {
                exit_code: 0,
                exited: true,
                status: "exit status 0".into(),
                error: None
            })
        );
        let failed = end_event(WaitStatus::Exited(pid, 3)).unwrap_or_default();
        assert_eq!(failed.error.as_deref(), Some("exit status 3"));
        let killed =
            end_event(WaitStatus::Signaled(pid, Signal::SIGKILL, false)).unwrap_or_default();
        assert_eq!(
            (killed.exit_code, killed.exited, killed.status.as_str()),
            (-1, false, "signal: killed")
        );
        let core = end_event(WaitStatus::Signaled(pid, Signal::SIGABRT, true)).unwrap_or_default();
        assert_eq!(core.status, "signal: aborted (core dumped)");
    }
}
