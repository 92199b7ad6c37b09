//! The sandbox's memory, behind one mutex: billing customers, applications, credits, the
//! switches, the scripted faults, the rate limiter and the effects report. The lock is
//! never held across an `.await`, so every handler's read-check-write is atomic.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::BillingRoboSandboxConfig;
use super::faults::Fault;
use super::rate::RateLimiter;
use crate::vendors::billing_robo::types::{
    ApplicationStatus, CreditStatus, format_datetime, to_jst,
};

/// What the sandbox *did*, as opposed to what it answered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Effects {
    /// API requests received, whatever became of them (the rate limit counts these).
    pub requests_seen: u64,
    /// `429`s sent.
    pub rate_limited: u64,
    /// `503`s sent for maintenance.
    pub maintenance_refusals: u64,
    /// `401`s sent.
    pub unauthorized: u64,
    /// Calls that reached each endpoint (past the rate limit, faults and maintenance).
    pub register_calls: u64,
    pub application_searches: u64,
    pub credit_searches: u64,
    /// Applications stored.
    pub applications_registered: u64,
    /// Items answered with an error code.
    pub items_refused: u64,
    /// Applications decided (by the admin endpoint or the rule).
    pub decisions: u64,
    /// Requests a fault was injected into.
    pub faults_injected: u64,
}

/// A billing customer (請求先) the sandbox knows. `billing_code` ending in `*` is a
/// prefix: every code starting with the rest exists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Customer {
    pub billing_code: String,
    /// Every department has a phone number (else 5409 in the seed).
    #[serde(default = "yes")]
    pub phone_registered: bool,
    /// Every department is approved (else 5410 in the seed).
    #[serde(default = "yes")]
    pub department_approved: bool,
}

fn yes() -> bool {
    true
}

impl Customer {
    /// A customer with a phone number and approved departments.
    pub fn new(billing_code: impl Into<String>) -> Self {
        Self {
            billing_code: billing_code.into(),
            phone_registered: true,
            department_approved: true,
        }
    }

    fn covers(&self, code: &str) -> bool {
        match self.billing_code.strip_suffix('*') {
            Some(prefix) => code.starts_with(prefix),
            None => self.billing_code == code,
        }
    }
}

/// An application as the sandbox keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredApplication {
    pub id: u64,
    pub billing_code: String,
    pub claim_type: u8,
    pub status: ApplicationStatus,
    pub requested: DateTime<Utc>,
    pub responded: Option<DateTime<Utc>>,
    /// When the demo rule decides it, if it is still pending then.
    pub decide_at: Option<DateTime<Utc>>,
}

impl StoredApplication {
    /// As `request_marunage_credit/search` shows it.
    pub fn render(&self) -> Value {
        json!({
            "error_code": null,
            "error_message": null,
            "id": self.id,
            "billing_code": self.billing_code,
            "claim_type": self.claim_type,
            "status": i64::from(self.status),
            "requested_date": stamp(self.requested),
            "responded_date": self.responded.map(stamp),
        })
    }
}

/// A billing customer's credit (one per billing code here; the vendor's pages hint at one
/// per claim type, which changes nothing for the calls we make).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredCredit {
    pub id: u64,
    pub billing_code: String,
    pub claim_type: u8,
    pub status: CreditStatus,
    pub regist: DateTime<Utc>,
    /// Moves whenever the status changes.
    pub update: DateTime<Utc>,
}

impl StoredCredit {
    /// As `marunage_credit/search` shows it.
    pub fn render(&self) -> Value {
        json!({
            "error_code": null,
            "error_message": null,
            "id": self.id,
            "billing_code": self.billing_code,
            "claim_type": self.claim_type,
            "status": i64::from(self.status),
            "regist_date": stamp(self.regist),
            "update_date": stamp(self.update),
        })
    }
}

/// `yyyy/mm/dd hh:mm:ss`, Japan time.
pub fn stamp(at: DateTime<Utc>) -> String {
    format_datetime(to_jst(at))
}

/// Misbehaviour and vendor-side conditions an operator (or a test) turns on and off.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Switches {
    /// Every API request gets `503` with code 19 (メンテナンス中).
    pub maintenance: bool,
    /// `Retry-After` on the maintenance `503` (none, as far as we know the vendor).
    pub maintenance_retry_after_secs: Option<u64>,
    /// Every API request gets `401` with code 13 (接続IPが不正).
    pub source_ip_refused: bool,
    /// The account has the まるなげ option; off, every item gets 5402 (seed only: the
    /// current pages have no such code).
    pub marunage_option: bool,
    /// The order of a `bulk_register` answer; the pages do not promise the request's.
    pub answer_order: AnswerOrder,
    /// How a search refuses a bad filter; the pages do not say.
    pub search_errors: SearchErrors,
}

impl Default for Switches {
    fn default() -> Self {
        Self {
            maintenance: false,
            maintenance_retry_after_secs: None,
            source_ip_refused: false,
            marunage_option: true,
            answer_order: AnswerOrder::AsSent,
            search_errors: SearchErrors::InItems,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnswerOrder {
    /// As sent (the examples').
    #[default]
    AsSent,
    /// Last sent, first answered: a client must match by billing code.
    Reversed,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SearchErrors {
    /// `200` with one record holding `error_code` and `error_message` (the answers'
    /// documented place for errors; a careless client reads it as a record).
    #[default]
    InItems,
    /// `400` with `{"error":{"code","message"}}`.
    Status400,
}

pub struct Inner {
    pub customers: Vec<Customer>,
    pub applications: Vec<StoredApplication>,
    pub credits: BTreeMap<String, StoredCredit>,
    pub switches: Switches,
    pub faults: Vec<Fault>,
    pub limiter: RateLimiter,
    pub effects: Effects,
}

impl Inner {
    fn new(config: &BillingRoboSandboxConfig) -> Self {
        Self {
            customers: config.customers.clone(),
            applications: Vec::new(),
            credits: BTreeMap::new(),
            switches: config.switches.clone(),
            faults: config.faults.clone(),
            limiter: RateLimiter::new(config.rate_limit),
            effects: Effects::default(),
        }
    }

    /// The customer `code` belongs to: an exact entry first, else a prefix.
    pub fn customer(&self, code: &str) -> Option<&Customer> {
        self.customers
            .iter()
            .find(|c| c.billing_code == code)
            .or_else(|| self.customers.iter().find(|c| c.covers(code)))
    }

    /// Adds a customer, or replaces the one with the same code.
    pub fn add_customer(&mut self, customer: Customer) {
        self.customers
            .retain(|c| c.billing_code != customer.billing_code);
        self.customers.push(customer);
    }

    /// A pending application or an active credit for `code` (5411 in the seed).
    pub fn already_applied(&self, code: &str) -> bool {
        self.applications
            .iter()
            .any(|a| a.billing_code == code && a.status == ApplicationStatus::Pending)
            || self.credits.get(code).is_some_and(|c| {
                matches!(
                    c.status,
                    CreditStatus::Active | CreditStatus::ActiveStopRequested
                )
            })
    }
}

/// The state every handler shares.
pub struct Shared {
    pub config: BillingRoboSandboxConfig,
    inner: Mutex<Inner>,
}

impl Shared {
    pub fn new(config: BillingRoboSandboxConfig) -> Self {
        Self {
            inner: Mutex::new(Inner::new(&config)),
            config,
        }
    }

    /// The state. A handler that panicked while holding the lock leaves it poisoned; the
    /// sandbox carries on with whatever it wrote.
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn effects(&self) -> Effects {
        self.lock().effects
    }

    /// Back to the configured start: no applications, zero effects, the configured
    /// customers, switches and faults, a fresh rate limiter.
    pub fn reset(&self) {
        *self.lock() = Inner::new(&self.config);
    }
}
