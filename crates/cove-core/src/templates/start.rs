//! A template's start command and ready check, applied to every sandbox created from it: the start
//! command runs in the background (tag `start`) for the sandbox's life, and the create only returns
//! once the ready check exits 0.

use super::catalog::Template;
use crate::error::{CoreError, CoreResult};
use crate::sandbox::{ExecCommand, ExecSpec, Live, SandboxService};
use cove_proto::process::{ProcessConfig, StartRequest};
use cove_types::ErrorCode;
use std::time::{Duration, Instant};

/// How long the ready check may keep failing.
const READY_TIMEOUT: Duration = Duration::from_secs(120);

impl SandboxService {
    pub(crate) async fn start_template_process(&self, live: &Live, t: &Template) -> CoreResult<()> {
        if let Some(start) = &t.start {
            let req = StartRequest {
                process: Some(ProcessConfig {
                    cmd: "/bin/sh".into(),
                    args: vec!["-c".into(), start.clone()],
                    envs: Default::default(),
                    cwd: None,
                }),
                pty: None,
                tag: Some("start".into()),
                stdin: Some(false),
            };
            let mut stream = live.client.start(&req, None, None).await?;
            let events = self.inner.events.clone();
            let id = live.id.clone();
            // Draining keeps the process's output flowing; its end is worth a log line.
            tokio::spawn(async move {
                while let Some(ev) = stream.next().await {
                    match ev {
                        Ok(ev) => {
                            if let Some(end) = ev.end {
                                events.record(
                                    &id,
                                    "start",
                                    format!("start command exited with code {}", end.exit_code),
                                );
                            }
                        }
                        Err(_) => break,
                    }
                }
            });
        }
        if let Some(ready) = &t.ready {
            let t0 = Instant::now();
            loop {
                let out = self
                    .exec_on(
                        live,
                        ExecSpec {
                            command: ExecCommand::Argv {
                                cmd: "/bin/sh".into(),
                                args: vec!["-c".into(), ready.clone()],
                            },
                            timeout_ms: Some(10_000),
                            ..Default::default()
                        },
                    )
                    .await?;
                if out.exit_code == 0 {
                    break;
                }
                if t0.elapsed() > READY_TIMEOUT {
                    return Err(CoreError::new(
                        ErrorCode::DeadlineExceeded,
                        format!(
                            "ready check {ready:?} did not pass within {}s",
                            READY_TIMEOUT.as_secs()
                        ),
                    ));
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
        }
        Ok(())
    }
}
