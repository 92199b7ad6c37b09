//! The Redis key layout: every key of a deployment, and the one place that builds them.
//!
//! Every key of a queue starts with `<prefix>:{<queue>}:`; the braces make `<queue>` the
//! hash tag, so all keys of a queue live in one Redis Cluster slot and every Lua script can
//! touch them together. Scripts receive every key they touch in `KEYS` (none is built inside
//! a script), as Redis Cluster requires.
//!
//! The webhook module's keys are listed and built here too, in the same hash tag: a job's
//! settlement writes its webhook deliveries, and indexes them, in the same atomic step. The
//! queue only names those keys; what is in them is the webhook module's business.
//!
//! | key (after the prefix)               | type   | holds                                        |
//! |--------------------------------------|--------|----------------------------------------------|
//! | `job:<id>`                           | hash   | the job record (state, attempts, payload,    |
//! |                                      |        | result, ...; fields in `job.rs`)             |
//! | `stream:<kind>`                      | stream | ready jobs of a kind, one entry per delivery |
//! |                                      |        | (`id=<job>`); consumer group `workers`,      |
//! |                                      |        | whose pending list is the lease              |
//! | `sched:<kind>`                       | zset   | delayed jobs (retries): job id scored by due |
//! |                                      |        | time (ms)                                    |
//! | `idx:<state>`                        | zset   | job ids in a state, scored by when they      |
//! |                                      |        | entered it (ms)                              |
//! | `idx:all`                            | zset   | every job id, scored by enqueue time (ms),   |
//! |                                      |        | for listing                                  |
//! | `dead`                               | zset   | the dead set: failed and dead jobs, scored   |
//! |                                      |        | by death (ms)                                |
//! | `sampler`                            | string | which process samples the queue's depth now  |
//! | `idem:<scope>:<key>`                 | string | an `Idempotency-Key`'s body hash and job ids |
//! |                                      |        | (24 h TTL by default)                        |
//! | `idem_secret`                        | string | the deployment's key for idempotency scopes  |
//! |                                      |        | (32 random bytes, hex; `api/scope_key.rs`)   |
//! | `kinds`                              | set    | job kinds that have a stream (for the        |
//! |                                      |        | janitor and metrics)                         |
//! | `schedules`                          | set    | the names of every declared schedule         |
//! | `schedule:<name>`                    | hash   | a periodic job (`schedule.rs`): kind, every, |
//! |                                      |        | jitter (ms), `tick` (the next tick), when it |
//! |                                      |        | runs (`next_run_at`), the last run and job   |
//! | `ratelimit:<vendor>:grants`          | zset   | a vendor's shared request budget: one member |
//! |                                      |        | per request granted in the window, scored by |
//! |                                      |        | Redis time (ms); expires with the window     |
//! | `ratelimit:<vendor>:pause`           | string | exists while nobody may call the vendor (a   |
//! |                                      |        | 429's cool-down): when it ends (ms), with TTL|
//! | `webhook:endpoints`                  | set    | every webhook endpoint's id                  |
//! | `webhook:endpoint:<id>`              | hash   | one endpoint: URL, filters, health, secrets  |
//! |                                      |        | (fields in `webhooks/endpoints/mod.rs`)      |
//! | `webhook:rotations:<endpoint>`       | string | rotations of an endpoint's secret in the     |
//! |                                      |        | current window (the API's rate limit);       |
//! |                                      |        | expires with the window                      |
//! | `webhook:order:<endpoint>:<subject>` | zset   | an ordered endpoint's pending deliveries of  |
//! |                                      |        | one subject: delivery job ids scored by      |
//! |                                      |        | event time (ms); the first one's turn is now |
//! | `webhook:attempts:<delivery>`        | list   | a delivery's attempts (JSON), newest last,   |
//! |                                      |        | the last 50 kept; expires 30 days after the  |
//! |                                      |        | last one                                     |
//! | `vendor:<vendor>:<name>`             | any    | a vendor module's own key, named and         |
//! |                                      |        | documented by that vendor. Today one:        |
//! |                                      |        | `vendor:proteger:recent`, a zset of the      |
//! |                                      |        | contracts we created at Proteger lately      |
//! |                                      |        | (`vendors/proteger/recent.rs`)               |

use super::id::JobId;
use super::job::JobState;

/// The consumer group every worker of a kind reads through.
pub const GROUP: &str = "workers";

/// Key builder for one queue.
#[derive(Debug, Clone)]
pub struct Keys {
    base: String,
}

impl Keys {
    pub fn new(prefix: &str, queue: &str) -> Self {
        Self {
            base: format!("{prefix}:{{{queue}}}"),
        }
    }

    pub fn job(&self, id: &JobId) -> String {
        format!("{}:job:{id}", self.base)
    }

    pub fn stream(&self, kind: &str) -> String {
        format!("{}:stream:{kind}", self.base)
    }

    pub fn scheduled(&self, kind: &str) -> String {
        format!("{}:sched:{kind}", self.base)
    }

    pub fn index(&self, state: JobState) -> String {
        format!("{}:idx:{state}", self.base)
    }

    pub fn index_all(&self) -> String {
        format!("{}:idx:all", self.base)
    }

    pub fn dead(&self) -> String {
        format!("{}:dead", self.base)
    }

    /// The record of a job known only by its id's text (a member of an index).
    pub fn job_key(&self, id: &str) -> String {
        format!("{}:job:{id}", self.base)
    }

    /// Which process samples the queue's depth for the metrics (`store/sample.rs`).
    pub fn sampler_lease(&self) -> String {
        format!("{}:sampler", self.base)
    }

    pub fn idempotency(&self, scope: &str, key: &str) -> String {
        format!("{}:idem:{scope}:{key}", self.base)
    }

    /// The deployment's secret for idempotency scopes (`api/scope_key.rs`).
    pub fn idempotency_secret(&self) -> String {
        format!("{}:idem_secret", self.base)
    }

    pub fn kinds(&self) -> String {
        format!("{}:kinds", self.base)
    }

    pub fn schedules(&self) -> String {
        format!("{}:schedules", self.base)
    }

    pub fn schedule(&self, name: &str) -> String {
        format!("{}:schedule:{name}", self.base)
    }

    /// The log of requests granted from a vendor's budget (`rate_limit.rs`).
    pub fn rate_grants(&self, vendor: &str) -> String {
        format!("{}:ratelimit:{vendor}:grants", self.base)
    }

    /// The pause of every call to a vendor (`rate_limit.rs`).
    pub fn rate_pause(&self, vendor: &str) -> String {
        format!("{}:ratelimit:{vendor}:pause", self.base)
    }

    pub fn webhook_endpoints(&self) -> String {
        format!("{}:webhook:endpoints", self.base)
    }

    pub fn webhook_endpoint(&self, id: &str) -> String {
        format!("{}:webhook:endpoint:{id}", self.base)
    }

    /// How many times an endpoint's secret was rotated in the current window.
    pub fn webhook_rotations(&self, endpoint: &str) -> String {
        format!("{}:webhook:rotations:{endpoint}", self.base)
    }

    pub fn webhook_order(&self, endpoint: &str, subject: &str) -> String {
        format!("{}:webhook:order:{endpoint}:{subject}", self.base)
    }

    pub fn webhook_attempts(&self, delivery: &str) -> String {
        format!("{}:webhook:attempts:{delivery}", self.base)
    }

    /// A key owned by a vendor module (`name` is the vendor's to choose and to document),
    /// in this queue's hash tag so that it goes with the queue: deleted with it, and in its
    /// Cluster slot.
    pub fn vendor(&self, vendor: &str, name: &str) -> String {
        format!("{}:vendor:{vendor}:{name}", self.base)
    }

    /// A `SCAN MATCH` pattern for every key of this queue.
    pub fn pattern(&self) -> String {
        format!("{}:*", self.base)
    }

    /// The keys every state-changing script receives first, in this order, so that the
    /// shared Lua helper `move_state` can keep the state indexes and the dead set right.
    pub fn state_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = JobState::ALL.iter().map(|s| self.index(*s)).collect();
        keys.push(self.index_all());
        keys.push(self.dead());
        keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_shares_the_queue_hash_tag() {
        let keys = Keys::new("uw", "main");
        let id = JobId::new();
        for key in keys
            .state_keys()
            .into_iter()
            .chain([keys.job(&id), keys.stream("a.b"), keys.scheduled("a.b")])
            .chain([keys.idempotency("s", "k"), keys.kinds()])
            .chain([keys.idempotency_secret()])
            .chain([keys.schedules(), keys.schedule("v.poll")])
            .chain([keys.rate_grants("v"), keys.rate_pause("v")])
            .chain([keys.webhook_endpoints(), keys.webhook_endpoint("e")])
            .chain([keys.webhook_order("e", "s"), keys.webhook_attempts("d")])
            .chain([keys.webhook_rotations("e")])
            .chain([keys.vendor("v", "n")])
        {
            assert!(key.starts_with("uw:{main}:"), "{key}");
        }
    }
}
