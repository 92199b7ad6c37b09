//! The sandbox's memory, behind one mutex: contracts, the effects report, the faults in
//! force and the idempotency keys. The lock is never held across an `.await`, so a plain
//! `std::sync::Mutex` is right, and every handler's read-check-write is atomic.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use serde::{Deserialize, Serialize};

use super::ProtegerSandboxConfig;
use super::contracts::StoredContract;
use super::faults::Faults;
use super::idempotency::IdempotencyStore;

/// What the sandbox *did*, as opposed to what it answered: tests read this to prove that a
/// contract was never created (or cancelled) twice, whatever the client saw.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Effects {
    /// Contracts created (one per item of every create that executed).
    pub contracts_created: u64,
    /// Distinct `transactionId`s among them.
    pub unique_transaction_ids: u64,
    /// `transactionId`s created more than once: must stay 0 in every test of ours.
    pub duplicate_transaction_ids: u64,
    /// Refunds that cancelled a contract (`commit=true` or no `commit`).
    pub cancellations_committed: u64,
    /// Refund quotes answered (`commit=false`).
    pub quotes_served: u64,
    /// API requests received (`/v1/...`), whatever became of them.
    pub requests_seen: u64,
    /// Requests answered from the idempotency store instead of executing.
    pub idempotent_replays: u64,
    /// Requests a fault was injected into.
    pub faults_injected: u64,
    /// Requests that passed authentication by `X-Proteger-Auth-Token`, the documented name
    /// our client must send...
    #[serde(default)]
    pub authenticated_by_auth_token: u64,
    /// ... and by `X-Proteger-Access-Token`, the spelling of some of the vendor's examples
    /// (a request carrying both counts under the first).
    #[serde(default)]
    pub authenticated_by_access_token: u64,
}

pub struct Inner {
    pub contracts: HashMap<String, StoredContract>,
    /// How many contracts were created per `transactionId`.
    pub transactions: HashMap<String, u64>,
    /// Counters; the two derived fields are filled in by [`Shared::effects`].
    pub effects: Effects,
    pub faults: Faults,
    pub keys: IdempotencyStore,
}

impl Inner {
    fn new(config: &ProtegerSandboxConfig) -> Self {
        Self {
            contracts: HashMap::new(),
            transactions: HashMap::new(),
            effects: Effects::default(),
            faults: config.faults.clone(),
            keys: IdempotencyStore::new(config.idempotency_ttl),
        }
    }

    /// Records a created contract in the effects report.
    pub fn record_created(&mut self, transaction_id: &str) {
        self.effects.contracts_created += 1;
        *self
            .transactions
            .entry(transaction_id.to_string())
            .or_default() += 1;
    }
}

/// The state every handler shares.
pub struct Shared {
    pub config: ProtegerSandboxConfig,
    inner: Mutex<Inner>,
}

impl Shared {
    pub fn new(config: ProtegerSandboxConfig) -> Self {
        Self {
            inner: Mutex::new(Inner::new(&config)),
            config,
        }
    }

    /// The state. A handler that panicked while holding the lock leaves it poisoned; the
    /// sandbox carries on with whatever it wrote, which beats failing every later request.
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn effects(&self) -> Effects {
        let inner = self.lock();
        Effects {
            unique_transaction_ids: inner.transactions.len() as u64,
            duplicate_transaction_ids: inner.transactions.values().filter(|n| **n > 1).count()
                as u64,
            ..inner.effects
        }
    }

    /// Back to the state of [`Shared::new`]: no contracts, no keys, zero effects, the
    /// configured faults.
    pub fn reset(&self) {
        *self.lock() = Inner::new(&self.config);
    }
}
