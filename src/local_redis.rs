//! A Redis to run on for the demo and the benchmarks: the configured one when it answers,
//! else a private `redis-server` started for the occasion and stopped afterwards.

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
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .map_err(|e| format!("cannot find a free port: {e}"))?;
        let dir = std::env::temp_dir().join(format!(
            "underwrite-redis-{}-{}",
            std::process::id(),
            uuid::Uuid::now_v7().simple()
        ));
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
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
