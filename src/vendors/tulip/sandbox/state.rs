//! The sandbox's shared state: the contracts stored, what was done ([`Effects`]), the
//! switches and the scripted faults.

use std::sync::{Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::TulipSandboxConfig;
use super::faults::Fault;

/// What the sandbox did so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Effects {
    /// Vendor API requests received (admin calls not counted).
    pub requests: u64,
    /// `POST /contracts` calls that created a contract.
    pub contracts_created: u64,
    /// `POST /contracts?preview=true` calls answered with a quote.
    pub quotes: u64,
    pub lists: u64,
    pub reads: u64,
    /// Contracts cancelled (within 4 h of their start) and terminated (after).
    pub cancelled: u64,
    pub terminated: u64,
    /// 400 answers: validation and unknown contracts.
    pub refused: u64,
    /// 401 answers (9001, 9002, 9003).
    pub unauthenticated: u64,
    /// 99888 answers.
    pub quota_refusals: u64,
    /// 429 answers (injected).
    pub rate_limited: u64,
    pub faults_injected: u64,
}

/// Readings of the documents that differ, and refusals on demand. Fields left out of a
/// `PUT /_admin/switches` take their defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Switches {
    /// The seed's strict reading of "LCD: 1 to 31 days": an LCD under 24 h is 1002.
    pub lcd_min_one_day: bool,
    /// Every call answers code 99888 (quota reached) until switched off.
    pub quota_exceeded: bool,
    /// The status of a 99888: the OpenAPI file lists it among 400 answers (the default, and
    /// the unkind reading: a client judging by status alone takes it as final); 429 also
    /// makes sense.
    pub quota_status: Option<u16>,
    /// `Retry-After` on a 99888 (none by default: the pages promise none).
    pub quota_retry_after_secs: Option<u64>,
    /// Every write answers 403 with code 98888 (no permission).
    pub forbidden: bool,
    /// A list without `test=true` leaves test contracts out (the pages say only that they
    /// are "filtrables"): the unkind reading for a client looking for its test contract.
    pub list_hides_test: bool,
    /// Lists oldest first (the default is newest first); the order is not documented.
    pub list_oldest_first: bool,
    /// The envelope of every answer: the OpenAPI file's or the guides'.
    pub envelope: Envelope,
}

/// `openapi`: `{"status": "success", "execution_id", "contract"}` and errors with
/// `execution_id`, `type`, `message`; `guide`: `{"success": true, "data"}` and
/// `{"success": false, "error"}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Envelope {
    #[default]
    Openapi,
    Guide,
}

/// One stored contract, with the key that created it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredContract {
    pub owner: String,
    /// The contract as the API shows it.
    pub contract: Value,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub created: DateTime<Utc>,
    pub test: bool,
}

impl StoredContract {
    pub fn cid(&self) -> &str {
        self.contract["cid"].as_str().unwrap_or_default()
    }

    pub fn uid(&self) -> &str {
        self.contract["uid"].as_str().unwrap_or_default()
    }

    pub fn carries(&self, internal_id: &str) -> bool {
        self.contract["products"].as_object().is_some_and(|lines| {
            lines
                .values()
                .any(|line| line["data"]["internal_id"].as_str() == Some(internal_id))
        })
    }
}

pub struct Inner {
    pub contracts: Vec<StoredContract>,
    pub effects: Effects,
    pub switches: Switches,
    pub faults: Vec<Fault>,
    /// For ids: every contract and product line gets a fresh one.
    pub next_id: u64,
    /// The W3C `traceparent` headers of the latest requests that carried one (at most
    /// [`TRACES_KEPT`]), for tests of trace propagation.
    pub traceparents: std::collections::VecDeque<String>,
}

/// How many `traceparent` headers the sandbox remembers.
pub const TRACES_KEPT: usize = 100;

impl Inner {
    fn new(config: &TulipSandboxConfig) -> Self {
        Self {
            contracts: Vec::new(),
            effects: Effects::default(),
            switches: config.switches.clone(),
            faults: config.faults.clone(),
            next_id: 1,
            traceparents: std::collections::VecDeque::new(),
        }
    }

    /// A fresh id of 13 upper-case characters, like Tulip's `01CFV26E8TS0U`.
    pub fn fresh_id(&mut self, prefix: char) -> String {
        let n = self.next_id;
        self.next_id += 1;
        format!(
            "{prefix}{:012X}",
            n.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 16
        )
    }
}

pub struct Shared {
    pub config: TulipSandboxConfig,
    inner: Mutex<Inner>,
}

impl Shared {
    pub fn new(config: TulipSandboxConfig) -> Self {
        let inner = Mutex::new(Inner::new(&config));
        Self { config, inner }
    }

    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn effects(&self) -> Effects {
        self.lock().effects
    }

    /// Back to the configured start.
    pub fn reset(&self) {
        *self.lock() = Inner::new(&self.config);
    }
}
