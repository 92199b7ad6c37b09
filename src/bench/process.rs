//! `underwrite serve` child processes for benchmarks that measure the real deployment, and
//! the memory figures of a process.
//!
//! A benchmark that runs the API and the workers in its own process measures a process no
//! one deploys, and cannot tell how much memory each role takes. So `bench e2e` starts the
//! same binary twice, the way an operator would (`serve --no-worker`, `serve --no-api`),
//! configured only through `UNDERWRITE_*` variables, and reads each child's peak RSS from
//! `/proc` just before it kills it.
//!
//! Peak RSS is `VmHWM` ("high water mark") in `/proc/<pid>/status`: the most resident memory
//! the process ever had, which is what a container's memory limit must cover. It exists on
//! Linux only; elsewhere the figures are reported as unknown.

use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

use super::BenchError;

/// One `underwrite serve ...` child. Killed when dropped, so an early `?` leaves no
/// process behind.
pub(super) struct ServeProcess {
    role: &'static str,
    child: Child,
}

impl ServeProcess {
    /// Starts `underwrite serve <args>` with `env` on top of this process's environment.
    /// Output goes nowhere (the children log at `error` only, which a benchmark does not
    /// show).
    pub(super) fn spawn(
        role: &'static str,
        args: &[&str],
        env: &[(&str, String)],
    ) -> Result<Self, BenchError> {
        let exe = std::env::current_exe()
            .map_err(|e| BenchError::Setup(format!("cannot find my own binary: {e}")))?;
        let mut cmd = Command::new(exe);
        cmd.arg("serve")
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        for (key, value) in env {
            cmd.env(key, value);
        }
        let child = cmd
            .spawn()
            .map_err(|e| BenchError::Setup(format!("cannot start the {role}: {e}")))?;
        Ok(Self { role, child })
    }

    /// An error when the child has exited: a benchmark waiting on it would only time out.
    pub(super) fn check_alive(&mut self) -> Result<(), BenchError> {
        match self.child.try_wait() {
            Ok(None) => Ok(()),
            Ok(Some(status)) => Err(BenchError::Setup(format!(
                "the {} process exited early ({status}); run `underwrite serve` by hand to see why",
                self.role
            ))),
            Err(e) => Err(BenchError::Setup(format!(
                "cannot check the {} process: {e}",
                self.role
            ))),
        }
    }

    /// Reads the child's peak RSS, then kills it. The figure must be read first: a dead
    /// process has no `/proc` entry.
    pub(super) async fn kill(mut self) -> Option<u64> {
        let peak = self.child.id().and_then(peak_rss_bytes);
        let _ = self.child.kill().await;
        peak
    }
}

/// `VmHWM` of a process, in bytes (`None` off Linux or once the process is gone).
pub(super) fn peak_rss_bytes(pid: u32) -> Option<u64> {
    vm_hwm(&format!("/proc/{pid}/status"))
}

/// `VmHWM` of the benchmark's own process.
pub(super) fn own_peak_rss_bytes() -> Option<u64> {
    vm_hwm("/proc/self/status")
}

fn vm_hwm(path: &str) -> Option<u64> {
    let status = std::fs::read_to_string(path).ok()?;
    parse_vm_hwm(&status)
}

/// `VmHWM:    12345 kB` → bytes.
fn parse_vm_hwm(status: &str) -> Option<u64> {
    let line = status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?;
    let kib: u64 = line.trim().strip_suffix("kB")?.trim().parse().ok()?;
    Some(kib * 1024)
}

/// A port on 127.0.0.1 that was free a moment ago, for a child's listener. (A child cannot
/// be told "port 0" and asked later which port it got: it prints nothing.)
pub(super) fn free_port() -> Result<u16, BenchError> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .map_err(|e| BenchError::Setup(format!("cannot find a free port: {e}")))?;
    listener
        .local_addr()
        .map(|addr| addr.port())
        .map_err(|e| BenchError::Setup(format!("cannot find a free port: {e}")))
}

/// Bytes as MiB with one decimal, or `?` when unknown.
pub(super) fn mib(bytes: Option<u64>) -> String {
    bytes.map_or_else(
        || "?".to_string(),
        |b| format!("{:.1}", b as f64 / (1024.0 * 1024.0)),
    )
}

/// Bytes as MiB for the JSON line (`null` when unknown).
pub(super) fn mib_json(bytes: Option<u64>) -> serde_json::Value {
    bytes.map_or(serde_json::Value::Null, |b| {
        serde_json::json!((b as f64 / (1024.0 * 1024.0) * 10.0).round() / 10.0)
    })
}

/// How often readiness is polled.
pub(super) const POLL: Duration = Duration::from_millis(20);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_hwm_is_read_in_bytes() {
        let status = "Name:\tunderwrite\nVmPeak:\t  900 kB\nVmHWM:\t   20480 kB\nVmRSS:\t 100 kB\n";
        assert_eq!(parse_vm_hwm(status), Some(20480 * 1024));
        assert_eq!(parse_vm_hwm("Name:\tx\n"), None);
    }

    #[test]
    fn own_peak_rss_is_known_on_linux() {
        if cfg!(target_os = "linux") {
            assert!(own_peak_rss_bytes().is_some_and(|b| b > 0));
        }
    }
}
