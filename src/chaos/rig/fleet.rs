//! The rig's worker processes: `underwrite serve --no-api`, started from this very binary so
//! that a scenario can SIGKILL them.

use std::process::Stdio;

use tokio::process::{Child, Command};

use super::super::{ChaosError, err};

/// Worker processes: `underwrite serve --no-api`, started from this very binary.
pub struct Fleet {
    exe: std::path::PathBuf,
    env: Vec<(String, String)>,
    children: Vec<Child>,
}

impl Fleet {
    pub(super) fn start(count: usize, env: Vec<(String, String)>) -> Result<Self, ChaosError> {
        let mut fleet = Self {
            exe: std::env::current_exe().map_err(err)?,
            env,
            children: Vec::new(),
        };
        for _ in 0..count.max(1) {
            let child = fleet.spawn()?;
            fleet.children.push(child);
        }
        Ok(fleet)
    }

    fn spawn(&self) -> Result<Child, ChaosError> {
        let mut command = Command::new(&self.exe);
        command
            .args(["serve", "--no-api"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        for (key, value) in &self.env {
            command.env(key, value);
        }
        command.spawn().map_err(err)
    }

    pub fn len(&self) -> usize {
        self.children.len()
    }

    pub fn is_empty(&self) -> bool {
        self.children.is_empty()
    }

    /// SIGKILLs worker `index` (no goodbye, no hand-back) and starts a new one in its place.
    pub async fn kill_and_replace(&mut self, index: usize) -> Result<(), ChaosError> {
        let index = index % self.children.len().max(1);
        let _ = self.children[index].kill().await;
        self.children[index] = self.spawn()?;
        Ok(())
    }

    /// Workers that exited by themselves (a worker must never die of what it was fed).
    pub fn exited(&mut self) -> Vec<String> {
        self.children
            .iter_mut()
            .enumerate()
            .filter_map(|(i, child)| match child.try_wait() {
                Ok(Some(status)) => Some(format!("worker {i} exited: {status}")),
                _ => None,
            })
            .collect()
    }

    pub(super) async fn kill_all(&mut self) {
        for child in &mut self.children {
            let _ = child.kill().await;
        }
    }
}
