//! `EndpointStore`: every read and write of webhook endpoints in Redis.
//!
//! Writes to an existing endpoint go through a Lua script that first checks it still
//! exists, so a write racing a delete never brings back half a record; the failure
//! counting (`health.lua`) and rotation (`rotate.lua`) are read-modify-writes, atomic on
//! the server because deliveries record their outcomes concurrently.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use redis::aio::ConnectionManager;
use redis::{AsyncCommands, Script};
use uuid::Uuid;

use super::model::{
    Endpoint, EndpointPatch, NewEndpoint, Source, definition_fields, field, flag, ms,
};
use crate::config::ConfiguredEndpoint;
use crate::queue::{AppName, Keys, QueueError, Store};
use crate::validation::FieldError;
use crate::webhooks::signing::{Secret, SecretError};
use crate::webhooks::ssrf::SsrfPolicy;

struct Scripts {
    write: Script,
    health: Script,
    rotate: Script,
}

static SCRIPTS: LazyLock<Scripts> = LazyLock::new(|| Scripts {
    write: Script::new(include_str!("write.lua")),
    health: Script::new(include_str!("health.lua")),
    rotate: Script::new(include_str!("rotate.lua")),
});

/// Why an endpoint operation failed. No message ever quotes a secret.
#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    /// Fields the caller must fix.
    #[error("the webhook endpoint is invalid: {}", summary(.0))]
    Invalid(Vec<FieldError>),
    #[error("no webhook endpoint {0}")]
    NotFound(String),
    #[error("a webhook endpoint {0} already exists")]
    Exists(String),
    /// The API may only enable or disable an endpoint of the config file.
    #[error(
        "webhook endpoint {0} is declared in the config file (its secret in the environment): change it there"
    )]
    Configured(String),
    #[error(
        "webhook endpoint `{id}` of the config file: the environment variable {var} (its secret) is not set"
    )]
    MissingSecret { id: String, var: String },
    #[error(
        "webhook endpoint `{id}` of the config file: the environment variable {var} does not hold a webhook secret: {reason}"
    )]
    BadSecret {
        id: String,
        var: String,
        reason: SecretError,
    },
    #[error("webhook endpoint `{id}` of the config file is invalid: {}", summary(.fields))]
    BadConfig { id: String, fields: Vec<FieldError> },
    /// Rotated too often: `limit` rotations per window were made already.
    #[error(
        "the secret of webhook endpoint {id} was rotated {limit} times within the limit's window: try again in {} s",
        retry_after.as_secs().max(1)
    )]
    RotatedTooOften {
        id: String,
        limit: u32,
        retry_after: Duration,
    },
    #[error("the stored webhook endpoint {id} is corrupt: {reason}")]
    Corrupt { id: String, reason: String },
    #[error(transparent)]
    Store(#[from] QueueError),
}

impl From<redis::RedisError> for EndpointError {
    fn from(error: redis::RedisError) -> Self {
        Self::Store(error.into())
    }
}

fn summary(fields: &[FieldError]) -> String {
    fields
        .iter()
        .map(|f| format!("`{}` {}", f.field, f.reason))
        .collect::<Vec<_>>()
        .join("; ")
}

/// A rotation's outcome: the new secret (to hand to the owner, once) and until when the
/// previous one keeps signing.
#[derive(Debug, Clone)]
pub struct Rotation {
    pub secret: Secret,
    pub previous_expires_at: DateTime<Utc>,
}

/// How often an endpoint's secret may be rotated: `limit` times per `window`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RotationLimit {
    pub limit: u32,
    pub window: Duration,
}

impl RotationLimit {
    /// No limit (the store's own callers: tests, the demo).
    pub const NONE: RotationLimit = RotationLimit {
        limit: 0,
        window: Duration::ZERO,
    };
}

/// What [`EndpointStore::sync_configured`] changed, by endpoint id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Synced {
    pub created: Vec<String>,
    pub updated: Vec<String>,
    /// Config-file endpoints that are no longer in the file.
    pub removed: Vec<String>,
}

#[derive(Debug, Clone, Copy)]
enum Op {
    Create,
    Update,
    Delete,
}

impl Op {
    fn as_str(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Update => "update",
            Self::Delete => "delete",
        }
    }
}

/// What `write.lua` answered.
enum Written {
    Ok(HashMap<String, String>),
    Missing,
    Exists,
    Config,
}

/// Webhook endpoints of one queue, in Redis. Cheap to clone.
#[derive(Clone)]
pub struct EndpointStore {
    conn: ConnectionManager,
    keys: Keys,
}

impl std::fmt::Debug for EndpointStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EndpointStore")
            .field("keys", &self.keys)
            .finish()
    }
}

impl EndpointStore {
    pub fn new(store: &Store) -> Self {
        Self {
            conn: store.connection(),
            keys: store.keys().clone(),
        }
    }

    pub fn keys(&self) -> &Keys {
        &self.keys
    }

    pub fn connection(&self) -> ConnectionManager {
        self.conn.clone()
    }

    /// The hash of one endpoint.
    pub fn endpoint_key(&self, id: &str) -> String {
        self.keys.webhook_endpoint(id)
    }

    /// The set of every endpoint's id.
    pub fn index_key(&self) -> String {
        self.keys.webhook_endpoints()
    }

    /// Creates an endpoint; answers it with its secret (the given one, or a new one), the
    /// only time the secret leaves the store.
    pub async fn create(&self, mut new: NewEndpoint) -> Result<(Endpoint, Secret), EndpointError> {
        new.validate().map_err(EndpointError::Invalid)?;
        let id = new
            .id
            .take()
            .unwrap_or_else(|| format!("ep_{}", Uuid::now_v7().simple()));
        let secret = new.secret.take().unwrap_or_else(Secret::generate);
        let now = ms(Utc::now());
        let mut set = definition_fields(&new.url, &new.events, &new.headers, new.ordered);
        set.extend([
            (field::APP, new.app.to_string()),
            (field::SOURCE, new.source.as_str().to_string()),
            (field::CREATED_AT, now.clone()),
            (field::UPDATED_AT, now.clone()),
            (field::ENABLED, flag(new.enabled).to_string()),
            (field::ENABLED_AT, now),
            (field::SECRET, secret.expose()),
        ]);
        match self.write(&id, Op::Create, false, None, &set, &[]).await? {
            Written::Ok(hash) => Ok((decode(&id, &hash)?, secret)),
            Written::Exists => Err(EndpointError::Exists(id)),
            Written::Missing | Written::Config => unreachable!("create answers ok or exists"),
        }
    }

    /// One endpoint; `None` when there is no such endpoint.
    pub async fn get(&self, id: &str) -> Result<Option<Endpoint>, EndpointError> {
        let mut conn = self.conn.clone();
        let hash: HashMap<String, String> = conn.hgetall(self.endpoint_key(id)).await?;
        if hash.is_empty() {
            return Ok(None);
        }
        decode(id, &hash).map(Some)
    }

    /// Every endpoint, oldest first, in two round trips. A corrupt record is logged and
    /// left out rather than failing the whole list (the fan-out reads it for every job).
    pub async fn list(&self) -> Result<Vec<Endpoint>, EndpointError> {
        let mut conn = self.conn.clone();
        let ids: Vec<String> = conn.smembers(self.index_key()).await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for id in &ids {
            pipe.hgetall(self.endpoint_key(id));
        }
        let hashes: Vec<HashMap<String, String>> = pipe.query_async(&mut conn).await?;
        let mut endpoints = Vec::with_capacity(ids.len());
        for (id, hash) in ids.iter().zip(&hashes) {
            // Empty: deleted between the two round trips.
            if hash.is_empty() {
                continue;
            }
            match decode(id, hash) {
                Ok(endpoint) => endpoints.push(endpoint),
                Err(error) => tracing::error!(%error, "skipping a corrupt webhook endpoint"),
            }
        }
        endpoints.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(endpoints)
    }

    /// The enabled endpoints that want events of this type.
    pub async fn matching(&self, event_type: &str) -> Result<Vec<Endpoint>, EndpointError> {
        let mut endpoints = self.list().await?;
        endpoints.retain(|e| e.enabled && e.accepts(event_type));
        Ok(endpoints)
    }

    /// Changes an endpoint and answers it as it is afterwards. Enabling clears
    /// `disabled_reason` and `failing_since`, and failures of attempts made before it no
    /// longer count. A config-file endpoint may only be enabled or disabled. With an
    /// `owner`, another app's endpoint is [`EndpointError::NotFound`] (checked in the same
    /// atomic step as the write); `None` is the operator's: any endpoint.
    pub async fn update(
        &self,
        id: &str,
        owner: Option<&AppName>,
        mut patch: EndpointPatch,
    ) -> Result<Endpoint, EndpointError> {
        patch.validate().map_err(EndpointError::Invalid)?;
        let now = ms(Utc::now());
        let refuse_config = patch.touches_definition();
        let empty = patch.is_empty();
        let mut set = Vec::new();
        let mut remove = Vec::new();
        if let Some(url) = patch.url {
            set.push((field::URL, url));
        }
        if let Some(events) = patch.events {
            set.push((
                field::EVENTS,
                serde_json::to_string(&events).expect("strings encode"),
            ));
        }
        if let Some(headers) = patch.headers {
            set.push((
                field::HEADERS,
                serde_json::to_string(&headers).expect("strings encode"),
            ));
        }
        if let Some(ordered) = patch.ordered {
            set.push((field::ORDERED, flag(ordered).to_string()));
        }
        if let Some(enabled) = patch.enabled {
            set.push((field::ENABLED, flag(enabled).to_string()));
            if enabled {
                set.push((field::ENABLED_AT, now.clone()));
                remove.extend([field::DISABLED_REASON, field::FAILING_SINCE]);
            }
        }
        if !empty {
            set.push((field::UPDATED_AT, now));
        }
        match self
            .write(id, Op::Update, refuse_config, owner, &set, &remove)
            .await?
        {
            Written::Ok(hash) => decode(id, &hash),
            Written::Missing => Err(EndpointError::NotFound(id.to_string())),
            Written::Config => Err(EndpointError::Configured(id.to_string())),
            Written::Exists => unreachable!("update never answers exists"),
        }
    }

    /// Deletes an endpoint (not one of the config file: it would come back at the next start).
    /// Its pending deliveries fail when they find it gone. `owner` as for
    /// [`EndpointStore::update`].
    pub async fn delete(&self, id: &str, owner: Option<&AppName>) -> Result<(), EndpointError> {
        match self.write(id, Op::Delete, true, owner, &[], &[]).await? {
            Written::Ok(_) => Ok(()),
            Written::Missing => Err(EndpointError::NotFound(id.to_string())),
            Written::Config => Err(EndpointError::Configured(id.to_string())),
            Written::Exists => unreachable!("delete never answers exists"),
        }
    }

    /// A new secret for the endpoint; the current one keeps signing for `grace`.
    pub async fn rotate(&self, id: &str, grace: Duration) -> Result<Secret, EndpointError> {
        self.rotate_at(id, grace, Utc::now())
            .await
            .map(|r| r.secret)
    }

    /// [`EndpointStore::rotate`] at a given time, telling until when the previous secret
    /// signs. Not for config-file endpoints: their secret comes from the environment.
    pub async fn rotate_at(
        &self,
        id: &str,
        grace: Duration,
        now: DateTime<Utc>,
    ) -> Result<Rotation, EndpointError> {
        self.rotate_limited(id, None, grace, RotationLimit::NONE, now)
            .await
    }

    /// [`EndpointStore::rotate_at`], refused ([`EndpointError::RotatedTooOften`], nothing
    /// changed) once `limit` rotations were made within its window. The previous secret
    /// replaces any older one still in its grace (`rotate.lua`): at most two sign. `owner`
    /// as for [`EndpointStore::update`].
    pub async fn rotate_limited(
        &self,
        id: &str,
        owner: Option<&AppName>,
        grace: Duration,
        limit: RotationLimit,
        now: DateTime<Utc>,
    ) -> Result<Rotation, EndpointError> {
        let secret = Secret::generate();
        let previous_expires_at = TimeDelta::from_std(grace)
            .ok()
            .and_then(|grace| now.checked_add_signed(grace))
            .unwrap_or(DateTime::<Utc>::MAX_UTC);
        let window_ms = u64::try_from(limit.window.as_millis())
            .unwrap_or(u64::MAX)
            .max(1);
        let mut conn = self.conn.clone();
        let answer: Vec<String> = SCRIPTS
            .rotate
            .key(self.endpoint_key(id))
            .key(self.keys.webhook_rotations(id))
            .arg(secret.expose())
            .arg(now.timestamp_millis())
            .arg(previous_expires_at.timestamp_millis())
            .arg("1")
            .arg(limit.limit)
            .arg(window_ms)
            .arg(owner.map_or("", AppName::as_str))
            .invoke_async(&mut conn)
            .await?;
        match answer.first().map(String::as_str) {
            Some("ok") => Ok(Rotation {
                secret,
                previous_expires_at,
            }),
            Some("missing") => Err(EndpointError::NotFound(id.to_string())),
            Some("config") => Err(EndpointError::Configured(id.to_string())),
            Some("limited") => {
                let ms = answer
                    .get(1)
                    .and_then(|ms| ms.parse::<u64>().ok())
                    .unwrap_or(window_ms);
                Err(EndpointError::RotatedTooOften {
                    id: id.to_string(),
                    limit: limit.limit,
                    retry_after: Duration::from_millis(ms),
                })
            }
            _ => Err(unexpected(format!("rotate.lua answered {answer:?}"))),
        }
    }

    /// Disables the endpoint, saying why (the receiver answered 410, ...). Config-file
    /// endpoints too: being disabled is state, not definition.
    pub async fn disable(&self, id: &str, reason: &str) -> Result<(), EndpointError> {
        let set = [
            (field::ENABLED, "0".to_string()),
            (field::DISABLED_REASON, reason.to_string()),
        ];
        match self.write(id, Op::Update, false, None, &set, &[]).await? {
            Written::Ok(_) => Ok(()),
            Written::Missing => Err(EndpointError::NotFound(id.to_string())),
            Written::Exists | Written::Config => unreachable!("disable answers ok or missing"),
        }
    }

    /// A delivery attempted at `at` succeeded: the failing streak (if it began by then) ends.
    pub async fn record_success(&self, id: &str, at: DateTime<Utc>) -> Result<(), EndpointError> {
        let mut conn = self.conn.clone();
        let answer: i64 = SCRIPTS
            .health
            .key(self.endpoint_key(id))
            .arg("success")
            .arg(at.timestamp_millis())
            .invoke_async(&mut conn)
            .await?;
        match answer {
            -1 => Err(EndpointError::NotFound(id.to_string())),
            _ => Ok(()),
        }
    }

    /// A delivery attempted at `at` failed. Answers `true` when this failure disabled the
    /// endpoint: it has failed without a single success since `failing_since`, for
    /// `disable_after` or longer. Exactly one of concurrent failures answers `true`.
    pub async fn record_failure(
        &self,
        id: &str,
        at: DateTime<Utc>,
        disable_after: Duration,
    ) -> Result<bool, EndpointError> {
        let reason = format!(
            "no delivery succeeded for {}: disabled automatically",
            human(disable_after)
        );
        let mut conn = self.conn.clone();
        let answer: i64 = SCRIPTS
            .health
            .key(self.endpoint_key(id))
            .arg("failure")
            .arg(at.timestamp_millis())
            .arg(u64::try_from(disable_after.as_millis()).unwrap_or(u64::MAX))
            .arg(reason)
            .invoke_async(&mut conn)
            .await?;
        match answer {
            -1 => Err(EndpointError::NotFound(id.to_string())),
            answer => Ok(answer == 1),
        }
    }

    /// Makes the stored endpoints of the config file what the file says: creates the new
    /// ones, rewrites the definition and secret of the others (keeping their state:
    /// disabled, failing, last success) and removes those no longer in the file. The
    /// secret of each is read from the environment variable its `secret_env` names.
    /// Everything is checked before anything is written, each URL against `policy` too:
    /// a file naming a URL webhooks may not reach fails the start, not every delivery.
    pub async fn sync_configured(
        &self,
        configured: &[ConfiguredEndpoint],
        policy: &SsrfPolicy,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Synced, EndpointError> {
        let mut wanted = Vec::with_capacity(configured.len());
        let mut seen = HashSet::new();
        for c in configured {
            let id = c.id.clone();
            if !seen.insert(id.clone()) {
                return Err(EndpointError::BadConfig {
                    id,
                    fields: vec![FieldError::new("id", "is declared twice")],
                });
            }
            let var = c.secret_env.clone();
            let Some(text) = env(&var).filter(|v| !v.trim().is_empty()) else {
                return Err(EndpointError::MissingSecret { id, var });
            };
            let secret = Secret::parse(&text).map_err(|reason| EndpointError::BadSecret {
                id: id.clone(),
                var,
                reason,
            })?;
            let app = match c.app.as_deref() {
                None => AppName::default_app(),
                Some(name) => AppName::parse(name).map_err(|reason| EndpointError::BadConfig {
                    id: id.clone(),
                    fields: vec![FieldError::new("app", reason.to_string())],
                })?,
            };
            let mut new = NewEndpoint {
                id: Some(id.clone()),
                app,
                url: c.url.clone(),
                events: c.events.clone(),
                headers: c.headers.clone(),
                ordered: c.ordered,
                enabled: true,
                secret: Some(secret),
                source: Source::Config,
            };
            new.validate_for(policy)
                .map_err(|fields| EndpointError::BadConfig { id, fields })?;
            wanted.push(new);
        }

        let existing: HashMap<String, Endpoint> = self
            .list()
            .await?
            .into_iter()
            .map(|e| (e.id.clone(), e))
            .collect();
        let mut synced = Synced::default();
        for new in wanted {
            let id = new.id.clone().expect("configured endpoints have ids");
            match existing.get(&id) {
                Some(current) => {
                    if self.redefine(current, &new).await? {
                        synced.updated.push(id);
                    }
                }
                None => match self.create(new.clone()).await {
                    Ok(_) => synced.created.push(id),
                    // Another process synced it meanwhile.
                    Err(EndpointError::Exists(_)) => {
                        if let Some(current) = self.get(&id).await? {
                            self.redefine(&current, &new).await?;
                        }
                        synced.updated.push(id);
                    }
                    Err(error) => return Err(error),
                },
            }
        }
        for (id, endpoint) in &existing {
            if endpoint.source == Source::Config && !seen.contains(id) {
                match self.write(id, Op::Delete, false, None, &[], &[]).await? {
                    Written::Ok(_) => synced.removed.push(id.clone()),
                    _ => continue,
                }
            }
        }
        synced.removed.sort();
        if synced != Synced::default() {
            tracing::info!(
                created = ?synced.created,
                updated = ?synced.updated,
                removed = ?synced.removed,
                "webhook endpoints of the config file synced"
            );
        }
        Ok(synced)
    }

    /// Rewrites the definition and secret of `current` to `new`'s, when they differ.
    async fn redefine(&self, current: &Endpoint, new: &NewEndpoint) -> Result<bool, EndpointError> {
        let secret = new
            .secret
            .as_ref()
            .expect("configured endpoints have a secret");
        let redefined = current.app != new.app
            || current.url != new.url
            || current.events != new.events
            || current.headers != new.headers
            || current.ordered != new.ordered
            || current.source != new.source;
        if !redefined && current.current_secret() == secret {
            return Ok(false);
        }
        let mut set = definition_fields(&new.url, &new.events, &new.headers, new.ordered);
        set.push((field::APP, new.app.to_string()));
        set.push((field::SOURCE, new.source.as_str().to_string()));
        set.push((field::SECRET, secret.expose()));
        if redefined {
            set.push((field::UPDATED_AT, ms(Utc::now())));
        }
        match self
            .write(&current.id, Op::Update, false, None, &set, &[])
            .await?
        {
            Written::Ok(_) => Ok(true),
            // Deleted meanwhile; the next start creates it again.
            _ => Ok(false),
        }
    }

    async fn write(
        &self,
        id: &str,
        op: Op,
        refuse_config: bool,
        owner: Option<&AppName>,
        set: &[(&str, String)],
        remove: &[&str],
    ) -> Result<Written, EndpointError> {
        let mut invocation = SCRIPTS.write.prepare_invoke();
        invocation
            .key(self.endpoint_key(id))
            .key(self.index_key())
            .arg(id)
            .arg(op.as_str())
            .arg(flag(refuse_config))
            .arg(owner.map_or("", AppName::as_str))
            .arg(set.len());
        for (name, value) in set {
            invocation.arg(*name).arg(value);
        }
        for name in remove {
            invocation.arg(*name);
        }
        let mut conn = self.conn.clone();
        let answer: Vec<String> = invocation.invoke_async(&mut conn).await?;
        let mut answer = answer.into_iter();
        match answer.next().as_deref() {
            Some("ok") => {
                let mut hash = HashMap::new();
                while let (Some(name), Some(value)) = (answer.next(), answer.next()) {
                    hash.insert(name, value);
                }
                Ok(Written::Ok(hash))
            }
            Some("missing") => Ok(Written::Missing),
            Some("exists") => Ok(Written::Exists),
            Some("config") => Ok(Written::Config),
            other => Err(unexpected(format!("write.lua answered {other:?}"))),
        }
    }
}

fn decode(id: &str, hash: &HashMap<String, String>) -> Result<Endpoint, EndpointError> {
    Endpoint::from_hash(id, hash).map_err(|reason| EndpointError::Corrupt {
        id: id.to_string(),
        reason,
    })
}

fn unexpected(message: String) -> EndpointError {
    EndpointError::Store(QueueError::Unexpected(message))
}

/// `5 d`, `2 h`, `30 min`, `45 s`, `250 ms`: the largest unit that divides it.
fn human(duration: Duration) -> String {
    let ms = duration.as_millis();
    if ms == 0 || !ms.is_multiple_of(1000) {
        return format!("{ms} ms");
    }
    let secs = ms / 1000;
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("min", 60)] {
        if secs.is_multiple_of(size) {
            return format!("{} {unit}", secs / size);
        }
    }
    format!("{secs} s")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_well() {
        assert_eq!(human(Duration::from_secs(5 * 86_400)), "5 d");
        assert_eq!(human(Duration::from_secs(7_200)), "2 h");
        assert_eq!(human(Duration::from_secs(90)), "90 s");
        assert_eq!(human(Duration::from_secs(120)), "2 min");
        assert_eq!(human(Duration::from_millis(250)), "250 ms");
        assert_eq!(human(Duration::ZERO), "0 ms");
    }

    #[test]
    fn errors_never_quote_a_secret() {
        let error = EndpointError::BadSecret {
            id: "shop".into(),
            var: "SHOP_SECRET".into(),
            reason: Secret::parse("whsec_c2hvcnQ=").expect_err("too short"),
        };
        let text = error.to_string();
        assert!(
            text.contains("SHOP_SECRET") && !text.contains("c2hvcnQ"),
            "{text}"
        );
    }
}
