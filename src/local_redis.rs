//! A Redis to run on for the demo and the benchmarks: the configured one when it answers,
//! else a private `redis-server` started for the occasion and stopped afterwards.
//!
//! [`DurableRedis`] is the other kind: always private and always persistent (AOF,
//! `appendfsync always`), for `chaos redis-restart`, which SIGKILLs it and starts it again
//! from its own files. That must never be someone else's Redis, whatever is configured.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::startup;

/// A Redis to run on.
pub enum LocalRedis {
    /// Someone else's, found answering at this URL.
    External(String),
    /// Ours, started for the demo.
    Private {
        child: tokio::process::Child,
        dir: PathBuf,
        port: u16,
    },
}

impl LocalRedis {
    /// The Redis at `configured` if it answers PING, else a private `redis-server` on a
    /// free port in a temporary directory (stopped by [`LocalRedis::stop`], and killed if
    /// dropped).
    pub async fn find_or_start(configured: &str) -> Result<Self, String> {
        if answers_ping(configured).await {
            return Ok(Self::External(configured.to_string()));
        }
        let port = free_port()?;
        let dir = private_dir()?;
        let spawned = tokio::process::Command::new("redis-server")
            .arg("--port")
            .arg(port.to_string())
            .args(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn();
        let child = match spawned {
            Ok(child) => child,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                let redacted = startup::redacted_redis_url(configured);
                return Err(if e.kind() == std::io::ErrorKind::NotFound {
                    format!(
                        "nothing answers at {redacted} and redis-server is not on PATH: install redis-server (6.2 or newer) or set UNDERWRITE_REDIS_URL"
                    )
                } else {
                    format!("nothing answers at {redacted} and redis-server does not start: {e}")
                });
            }
        };
        let redis = Self::Private { child, dir, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !answers_ping(&redis.url()).await {
            if Instant::now() > deadline {
                redis.stop().await;
                return Err("the private redis-server did not answer PING within 10 s".into());
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        Ok(redis)
    }

    pub fn url(&self) -> String {
        match self {
            Self::External(url) => url.clone(),
            Self::Private { port, .. } => format!("redis://127.0.0.1:{port}/"),
        }
    }

    pub fn is_external(&self) -> bool {
        matches!(self, Self::External(_))
    }

    pub fn describe(&self) -> String {
        match self {
            Self::External(url) => format!(
                "{} (answered PING; the demo's keys are deleted at the end)",
                startup::redacted_redis_url(url)
            ),
            Self::Private { port, dir, .. } => format!(
                "private redis-server on 127.0.0.1:{port} in {} (stopped at the end)",
                dir.display()
            ),
        }
    }

    pub async fn stop(self) {
        if let Self::Private { mut child, dir, .. } = self {
            let _ = child.kill().await;
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}

/// A private `redis-server` with AOF and `appendfsync always` (every write is on disk before
/// it is answered), in a temporary directory of its own, that can be SIGKILLed and started
/// again on the same port and directory: what `chaos redis-restart` crashes.
///
/// The child is killed if this is dropped; [`DurableRedis::stop`] also deletes the directory.
pub struct DurableRedis {
    child: Option<tokio::process::Child>,
    dir: PathBuf,
    port: u16,
}

impl DurableRedis {
    /// Persistence that survives a SIGKILL: the append-only file, synced on every write.
    const ARGS: [&'static str; 8] = [
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
    ];

    /// Starts one on a free port in a fresh temporary directory, and waits for PING.
    pub async fn start() -> Result<Self, String> {
        let mut redis = Self {
            child: None,
            dir: private_dir()?,
            port: free_port()?,
        };
        if let Err(e) = redis.spawn().await {
            redis.stop().await;
            return Err(e);
        }
        Ok(redis)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    pub fn describe(&self) -> String {
        format!(
            "private redis-server (AOF, appendfsync always) on 127.0.0.1:{} in {}",
            self.port,
            self.dir.display()
        )
    }

    /// SIGKILLs the server (no shutdown, no final fsync: what a crash looks like) and reaps it.
    pub async fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill().await;
        }
    }

    /// Starts the server again on the same port and directory (so it replays its AOF), and
    /// returns once it answers PING, which Redis does only after the AOF is loaded.
    pub async fn restart(&mut self) -> Result<(), String> {
        self.kill().await;
        self.spawn().await
    }

    /// Kills the server and deletes its directory.
    pub async fn stop(mut self) {
        self.kill().await;
        let _ = std::fs::remove_dir_all(&self.dir);
    }

    async fn spawn(&mut self) -> Result<(), String> {
        let child = tokio::process::Command::new("redis-server")
            .arg("--port")
            .arg(self.port.to_string())
            .args(Self::ARGS)
            .arg("--dir")
            .arg(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| {
                if e.kind() == std::io::ErrorKind::NotFound {
                    "redis-server is not on PATH: install redis-server (6.2 or newer)".to_string()
                } else {
                    format!("redis-server does not start: {e}")
                }
            })?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !answers_ping(&self.url()).await {
            // One that exited (its port taken meanwhile, a corrupt AOF) will never answer;
            // and a PING answered then would come from someone else's server.
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                return Err(format!(
                    "the private redis-server on port {} exited: {status}",
                    self.port
                ));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "the private redis-server on port {} did not answer PING within 10 s",
                    self.port
                ));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Ok(())
    }
}

fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("cannot find a free port: {e}"))
}

fn private_dir() -> Result<PathBuf, String> {
    let dir = std::env::temp_dir().join(format!(
        "underwrite-redis-{}-{}",
        std::process::id(),
        uuid::Uuid::now_v7().simple()
    ));
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    Ok(dir)
}

async fn answers_ping(url: &str) -> bool {
    let Ok(client) = redis::Client::open(url) else {
        return false;
    };
    let attempt = async {
        let mut conn = client.get_multiplexed_async_connection().await.ok()?;
        redis::cmd("PING")
            .query_async::<String>(&mut conn)
            .await
            .ok()
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(1), attempt).await,
        Ok(Some(_))
    )
}
