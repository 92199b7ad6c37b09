//! The contract calls: `POST /v2/contracts` (`?preview=true` prices only), `GET
//! /v2/contracts?uid=&skip=&limit=&test=`, `GET /v2/contracts/{cid}`, `DELETE
//! /v2/contracts/{cid}` (cancel within 4 h of the start, terminate after; `?preview=true`
//! changes nothing).
//!
//! A body is checked with [`ContractRequest::parse`], the function our API runs, and the
//! first broken rule is answered as Tulip does: 400 with its code. A contract unknown, or
//! another key's, is 400 with 1051 (Tulip answers 400, not 404, for a missing contract).
//! Gaps in the documents, and how they are filled here ("unknown"): a termination without
//! a reason (the pages require one and name no code: 400 with 1221, "invalid"); a list's
//! order (newest first, a switch away from oldest first).

use std::collections::HashMap;
use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use chrono::{Duration, Utc};
use serde_json::{Map, Value, json};

use super::errors::{error, error_with, success};
use super::gate::Caller;
use super::price::{cents, line_price};
use super::state::{Shared, StoredContract};
use crate::vendors::tulip::types::codes::{CONTRACT_NOT_FOUND, CONTRACT_NOT_OPEN};
use crate::vendors::tulip::types::{
    ContractRequest, Mode, Rules, Termination, format_date, parse_date,
};

type Params = Query<HashMap<String, String>>;

/// Tulip cancels rather than terminates this long after the start.
const CANCEL_WINDOW: Duration = Duration::hours(4);

fn preview(params: &HashMap<String, String>) -> bool {
    params.get("preview").is_some_and(|p| p == "true")
}

/// `POST /contracts`.
pub async fn create(
    State(shared): State<Arc<Shared>>,
    Extension(Caller(key)): Extension<Caller>,
    Query(params): Params,
    body: Bytes,
) -> Response {
    let preview = preview(&params);
    let mut inner = shared.lock();
    let envelope = inner.switches.envelope;
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        inner.effects.refused += 1;
        return error_with(envelope, 400, 1221, "The body is not JSON.");
    };
    let now = Utc::now();
    let rules = Rules {
        mode: if preview { Mode::Quote } else { Mode::Create },
        now,
        lcd_min_one_day: inner.switches.lcd_min_one_day,
    };
    let request = match ContractRequest::parse(&body, &rules) {
        Ok(request) => request,
        Err(violations) => {
            inner.effects.refused += 1;
            let code = violations.first().map_or(1221, |v| v.code);
            return error(envelope, 400, code);
        }
    };
    let start = request.start_date.unwrap_or(now);
    let mut lines = Map::new();
    let mut total = 0.0;
    for line in &request.products {
        let price = line_price(line, &request, start);
        total += price;
        let cpid = inner.fresh_id('P');
        let product_id = line
            .product_id
            .clone()
            .unwrap_or_else(|| format!("inline-{cpid}"));
        lines.insert(
            cpid,
            json!({
                "product_id": product_id,
                "product_type": line.product_type,
                "start_date": format_date(start),
                "end_date": format_date(request.end_date),
                "status": "open",
                "data": line.data.clone().unwrap_or_default(),
                "price": price,
            }),
        );
    }
    let mut contract = json!({
        "uid": request.uid,
        "created_date": format_date(now),
        "updated_date": format_date(now),
        "start_date": format_date(start),
        "end_date": format_date(request.end_date),
        "status": "open",
        "contract_type": request.contract_type,
        "test": request.test.unwrap_or(false),
        "options": request.options,
        "products": lines,
        "price": cents(total),
    });
    for (field, party) in [
        ("company", &request.company),
        ("individual", &request.individual),
    ] {
        if let Some(party) = party {
            contract[field] = Value::Object(party.clone());
        }
    }
    if preview {
        // "cid is undefined" in a preview: nothing was stored.
        inner.effects.quotes += 1;
        return success(envelope, "contract", contract);
    }
    contract["cid"] = json!(inner.fresh_id('C'));
    inner.effects.contracts_created += 1;
    inner.contracts.push(StoredContract {
        owner: key,
        contract: contract.clone(),
        start,
        end: request.end_date,
        created: now,
        test: request.test.unwrap_or(false),
    });
    success(envelope, "contract", contract)
}

/// `GET /contracts?uid=&skip=&limit=&test=`: `limit` 20 by default, at most 100.
pub async fn list(
    State(shared): State<Arc<Shared>>,
    Extension(Caller(key)): Extension<Caller>,
    Query(params): Params,
) -> Response {
    let mut inner = shared.lock();
    let switches = inner.switches.clone();
    let Some(uid) = params.get("uid").filter(|u| !u.is_empty()) else {
        inner.effects.refused += 1;
        return error(switches.envelope, 400, 1012);
    };
    let number = |name: &str, default: usize| {
        params
            .get(name)
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(default)
    };
    let (skip, limit) = (number("skip", 0), number("limit", 20).min(100));
    let test = params.get("test").map(String::as_str);
    inner.effects.lists += 1;
    let mut found: Vec<&StoredContract> = inner
        .contracts
        .iter()
        .filter(|c| c.owner == key && c.uid() == uid)
        .filter(|c| match test {
            Some("true") => c.test,
            Some("false") => !c.test,
            _ => !(switches.list_hides_test && c.test),
        })
        .collect();
    if !switches.list_oldest_first {
        found.reverse();
    }
    let page: Vec<Value> = found
        .into_iter()
        .skip(skip)
        .take(limit)
        .map(|c| c.contract.clone())
        .collect();
    success(switches.envelope, "contracts", Value::Array(page))
}

/// `GET /contracts/{cid}`.
pub async fn read(
    State(shared): State<Arc<Shared>>,
    Extension(Caller(key)): Extension<Caller>,
    Path(cid): Path<String>,
) -> Response {
    let mut inner = shared.lock();
    let envelope = inner.switches.envelope;
    let found = inner
        .contracts
        .iter()
        .find(|c| c.cid() == cid && c.owner == key)
        .map(|c| c.contract.clone());
    match found {
        Some(contract) => {
            inner.effects.reads += 1;
            success(envelope, "contract", contract)
        }
        None => {
            inner.effects.refused += 1;
            error(envelope, 400, CONTRACT_NOT_FOUND)
        }
    }
}

/// `DELETE /contracts/{cid}` with `{"reason", "end_date"?}`.
///
/// Within 4 h of the start: cancelled (`cancel`), `end_date` ignored. After: terminated
/// (`terminated`), which needs a `reason` (400 with 1221 without one: the pages name no
/// code), and an `end_date` not in the past (1351) nor after the contract's end (1352). A
/// contract no longer open is 1052.
pub async fn terminate(
    State(shared): State<Arc<Shared>>,
    Extension(Caller(key)): Extension<Caller>,
    Path(cid): Path<String>,
    Query(params): Params,
    body: Bytes,
) -> Response {
    let preview = preview(&params);
    let now = Utc::now();
    let mut inner = shared.lock();
    let envelope = inner.switches.envelope;
    let termination: Option<Termination> = serde_json::from_slice(&body).ok();
    let Some(index) = inner
        .contracts
        .iter()
        .position(|c| c.cid() == cid && c.owner == key)
    else {
        inner.effects.refused += 1;
        return error(envelope, 400, CONTRACT_NOT_FOUND);
    };
    let stored = &inner.contracts[index];
    let refusal = if stored.contract["status"] != "open" {
        Some(error(envelope, 400, CONTRACT_NOT_OPEN))
    } else {
        None
    };
    let cancel = now < stored.start + CANCEL_WINDOW;
    let end = termination.as_ref().and_then(|t| t.end_date);
    let refusal = refusal.or_else(|| match (&termination, end) {
        _ if cancel => None,
        (None, _) => Some(error_with(
            envelope,
            400,
            1221,
            "A reason is required to terminate the contract.",
        )),
        (Some(t), _) if t.reason.trim().is_empty() => Some(error_with(
            envelope,
            400,
            1221,
            "A reason is required to terminate the contract.",
        )),
        (_, Some(end)) if end < now - Duration::minutes(1) => Some(error(envelope, 400, 1351)),
        (_, Some(end)) if end > stored.end => Some(error(envelope, 400, 1352)),
        _ => None,
    });
    if let Some(refusal) = refusal {
        inner.effects.refused += 1;
        return refusal;
    }
    let mut contract = inner.contracts[index].contract.clone();
    let status = if cancel { "cancel" } else { "terminated" };
    contract["status"] = json!(status);
    contract["updated_date"] = json!(format_date(now));
    if !cancel {
        contract["end_date"] = json!(format_date(end.unwrap_or(now)));
        if let Some(t) = &termination {
            contract["reason"] = json!(t.reason);
        }
    }
    if let Some(lines) = contract["products"].as_object_mut() {
        for line in lines.values_mut() {
            line["status"] = json!(status);
        }
    }
    if !preview {
        if cancel {
            inner.effects.cancelled += 1;
        } else {
            inner.effects.terminated += 1;
        }
        inner.contracts[index].contract = contract.clone();
    }
    success(envelope, "contract", contract)
}

/// Moves a contract's dates `hours` into the past (the admin's way to reach the
/// termination window, since a new contract may not start in the past).
pub fn backdate(shared: &Shared, cid: &str, hours: i64) -> Option<Value> {
    let mut inner = shared.lock();
    let stored = inner.contracts.iter_mut().find(|c| c.cid() == cid)?;
    let by = Duration::hours(hours);
    stored.start -= by;
    stored.end -= by;
    stored.created -= by;
    stored.contract["start_date"] = json!(format_date(stored.start));
    stored.contract["end_date"] = json!(format_date(stored.end));
    stored.contract["created_date"] = json!(format_date(stored.created));
    if let Some(lines) = stored.contract["products"].as_object_mut() {
        for line in lines.values_mut() {
            for field in ["start_date", "end_date"] {
                let moved = line[field]
                    .as_str()
                    .and_then(parse_date)
                    .map(|d| format_date(d - by));
                line[field] = json!(moved);
            }
        }
    }
    Some(stored.contract.clone())
}
