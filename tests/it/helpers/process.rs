//! The real `underwrite` binary as a child process, for what only a process can show:
//! SIGKILL mid-job, SIGTERM, exit codes, start-up logs.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

pub struct Process {
    child: Child,
}

impl Process {
    /// Starts `underwrite <args>` with `env` added to a clean `UNDERWRITE_*` environment.
    /// Its stderr (logs) goes to `log` when given.
    pub fn start(args: &[&str], env: &[(String, String)], log: Option<&std::path::Path>) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_underwrite"));
        cmd.args(args).stdin(Stdio::null()).stdout(Stdio::null());
        for (key, _) in std::env::vars() {
            if key.starts_with("UNDERWRITE_") {
                cmd.env_remove(key);
            }
        }
        cmd.envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        match log {
            Some(path) => {
                let file = std::fs::File::create(path).expect("log file");
                cmd.stderr(file);
            }
            None => {
                cmd.stderr(Stdio::null());
            }
        }
        // SAFETY: prctl only affects the child being spawned; it dies with this test.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        Self {
            child: cmd.spawn().expect("spawn underwrite"),
        }
    }

    pub fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// SIGKILL: no cleanup, no goodbye; what a crash or an OOM kill looks like.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn signal(&self, signal: i32) {
        // SAFETY: sending a signal to our own child.
        unsafe {
            libc::kill(self.pid(), signal);
        }
    }

    /// Waits for the process to exit, up to `within`.
    pub fn wait(&mut self, within: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + within;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// Runs `underwrite <args>` to its end against the Redis at `redis_url` (each command picks
/// a queue of its own; no config file of the caller's reaches it) and returns its stdout,
/// after checking that it exited 0.
pub async fn run_to_success(args: &[&str], redis_url: &str) -> String {
    run_logged(args, redis_url, "warn").await.0
}

/// [`run_to_success`] with `UNDERWRITE_LOG` set to `log`: answers stdout and stderr (the
/// logs).
pub async fn run_logged(args: &[&str], redis_url: &str, log: &str) -> (String, String) {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_underwrite"))
        .args(args)
        .env("UNDERWRITE_LOG", log)
        .env("UNDERWRITE_REDIS_URL", redis_url)
        .env_remove("UNDERWRITE_REDIS_QUEUE")
        .env_remove("UNDERWRITE_CONFIG")
        .output()
        .await
        .expect("run underwrite");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        output.status.success(),
        "underwrite {args:?} failed: {stdout}\n{stderr}"
    );
    (stdout, stderr)
}
