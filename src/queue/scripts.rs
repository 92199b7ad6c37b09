//! The Lua scripts behind every multi-key step, loaded once per process.
//!
//! Each script is atomic on the server, so a worker killed at any line leaves Redis either
//! before or after a step, never halfway. State-changing scripts share `prelude.lua`, which
//! keeps the state indexes and the dead set in step with the records.
//! `redis::Script` sends `EVALSHA` and falls back to loading the script when Redis answers
//! `NOSCRIPT` (after a restart), so nothing here needs to survive a Redis restart.
//!
//! The scripts take the time from their caller (`clock.rs`), except the rate limiter's
//! (`rate_acquire.lua`, `rate_pause.lua`): a budget shared by every process must be
//! counted on one clock, and Redis's is the one they share (`rate_limit.rs`).

use std::sync::LazyLock;

use redis::Script;

const PRELUDE: &str = include_str!("scripts/prelude.lua");

fn with_prelude(body: &str) -> Script {
    Script::new(&format!("{PRELUDE}\n{body}"))
}

pub struct Scripts {
    pub enqueue: Script,
    pub claim: Script,
    pub settle: Script,
    pub promote: Script,
    pub release: Script,
    pub requeue: Script,
    pub forget: Script,
    pub form_batch: Script,
    pub heartbeat: Script,
    pub drop_entry: Script,
    pub split_batch: Script,
    pub forget_idle_consumers: Script,
    pub schedule_declare: Script,
    pub schedule_fire: Script,
    pub rate_acquire: Script,
    pub rate_pause: Script,
    pub wake: Script,
}

pub static SCRIPTS: LazyLock<Scripts> = LazyLock::new(|| Scripts {
    enqueue: with_prelude(include_str!("scripts/enqueue.lua")),
    claim: with_prelude(include_str!("scripts/claim.lua")),
    settle: with_prelude(include_str!("scripts/settle.lua")),
    promote: Script::new(include_str!("scripts/promote.lua")),
    release: with_prelude(include_str!("scripts/release.lua")),
    requeue: with_prelude(include_str!("scripts/requeue.lua")),
    forget: with_prelude(include_str!("scripts/forget.lua")),
    form_batch: with_prelude(include_str!("scripts/form_batch.lua")),
    heartbeat: Script::new(include_str!("scripts/heartbeat.lua")),
    drop_entry: Script::new(include_str!("scripts/drop_entry.lua")),
    split_batch: with_prelude(include_str!("scripts/split_batch.lua")),
    forget_idle_consumers: Script::new(include_str!("scripts/forget_idle_consumers.lua")),
    schedule_declare: Script::new(include_str!("scripts/schedule_declare.lua")),
    schedule_fire: with_prelude(include_str!("scripts/schedule_fire.lua")),
    rate_acquire: Script::new(include_str!("scripts/rate_acquire.lua")),
    rate_pause: Script::new(include_str!("scripts/rate_pause.lua")),
    wake: Script::new(include_str!("scripts/wake.lua")),
});

#[cfg(test)]
mod tests {
    use super::PRELUDE;
    use crate::queue::job::JobState;

    /// `move_state` finds a state's index by its position in `KEYS`: the prelude's table
    /// and the order `Keys::state_keys` sends them in (`JobState::ALL`) must agree, or a job
    /// would be indexed under another state.
    #[test]
    fn the_prelude_numbers_the_states_as_the_keys_are_sent() {
        let table = PRELUDE
            .split_once("local STATE_INDEX = {")
            .and_then(|(_, rest)| rest.split_once('}'))
            .map(|(table, _)| table)
            .expect("STATE_INDEX in prelude.lua");
        let entries: Vec<(String, usize)> = table
            .split(',')
            .filter_map(|entry| {
                let (name, index) = entry.split_once('=')?;
                Some((name.trim().to_string(), index.trim().parse().ok()?))
            })
            .collect();
        let expected: Vec<(String, usize)> = JobState::ALL
            .iter()
            .enumerate()
            .map(|(i, state)| (state.as_str().to_string(), i + 1))
            .collect();
        assert_eq!(entries, expected);
        assert!(
            PRELUDE.contains(&format!("local STATES = {}\n", JobState::ALL.len())),
            "STATES in prelude.lua must count JobState::ALL"
        );
    }
}
