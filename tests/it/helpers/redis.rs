//! A private `redis-server` per test binary (or per test, when the test kills it).
//!
//! Never the Redis that may run on 127.0.0.1:6379: each server gets a free port and a
//! temporary directory, is waited for with PING, and dies with the test process (killed on
//! drop, and by the kernel through PR_SET_PDEATHSIG if the test process dies first).

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use underwrite::queue::{Keys, Redis, Retention, Store};

pub struct TestRedis {
    pub port: u16,
    pub dir: tempfile::TempDir,
    child: Option<Child>,
    extra: Vec<String>,
}

/// A free TCP port on loopback (the OS picks it; a tiny race with other processes is
/// accepted, as everywhere).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port")
}

impl TestRedis {
    /// A new server; `extra` are extra `redis-server` arguments (e.g. `--appendonly yes`).
    pub fn start(extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut redis = Self {
            port: free_port(),
            dir,
            child: None,
            extra: extra.iter().map(|s| s.to_string()).collect(),
        };
        redis.spawn();
        redis
    }

    /// The server shared by every test of this binary. Tests isolate themselves with a
    /// queue name of their own (`unique_queue`).
    pub fn shared() -> &'static TestRedis {
        static SHARED: OnceLock<TestRedis> = OnceLock::new();
        SHARED.get_or_init(|| {
            // Spawned from a thread that lives as long as the process, so that
            // PR_SET_PDEATHSIG (which follows the spawning *thread*) fires only when the
            // whole test process is gone.
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let redis = TestRedis::start(&[]);
                let _ = tx.send(redis);
                loop {
                    std::thread::park();
                }
            });
            rx.recv().expect("shared redis")
        })
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    fn spawn(&mut self) {
        let mut cmd = Command::new("redis-server");
        cmd.arg("--port")
            .arg(self.port.to_string())
            .arg("--bind")
            .arg("127.0.0.1")
            .arg("--save")
            .arg("")
            .arg("--dir")
            .arg(self.dir.path())
            .args(&self.extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: prctl is async-signal-safe and only affects the child being spawned.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .expect("redis-server must be on PATH (see README: prerequisites)");
        self.child = Some(child);
        self.wait_ready();
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let client = redis::Client::open(self.url()).expect("client");
        loop {
            if let Ok(mut conn) = client.get_connection()
                && redis::cmd("PING").query::<String>(&mut conn).is_ok()
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "redis-server did not answer PING"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGKILLs the server (what a crash looks like).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port and directory (AOF, if enabled, is replayed).
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }
}

impl Drop for TestRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A queue name no other test uses, so tests can share one server.
pub fn unique_queue() -> String {
    format!("t{}", uuid::Uuid::now_v7().simple())
}

/// A `Store` on `redis` for a fresh queue.
pub fn store_on(redis: &TestRedis, queue: &str, retention: Retention) -> (Store, Redis) {
    let conn = Redis::open(&redis.url()).expect("redis url");
    let store = Store::new(
        conn.manager().expect("manager"),
        Keys::new("uw", queue),
        retention,
    );
    (store, conn)
}
