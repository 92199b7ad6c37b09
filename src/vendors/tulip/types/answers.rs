//! What Tulip answers, read leniently.
//!
//! The pages disagree on the envelope: the OpenAPI file wraps a contract as
//! `{"status": "success", "execution_id", "contract": {...}}` and a list as `{..., "contracts":
//! [...]}`, the conventions page shows `{"success": true, "data": ...}`; errors are
//! `{"execution_id", "status": "error", "type", "message", "error": {"code", "message"}}`
//! in the OpenAPI file and `{"success": false, "error": {"code", "message"}}` in the guides.
//! We read every one of those shapes, and a code sent as a number or as a numeric string.
//!
//! A [`Contract`] keeps the vendor's JSON as it came (it is what a job's result shows) and
//! reads the few fields we act on from it, so a field the vendor adds or renames does not
//! make an answer unreadable.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::request::parse_date;

/// A contract (or a quote: no `cid`) as Tulip answered it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Contract(pub Value);

/// The end states of `DELETE /contracts/{cid}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ending {
    /// Within 4 h of the start: status `cancel`.
    Cancelled,
    /// After: status `terminated`.
    Terminated,
}

impl Contract {
    fn text(&self, field: &str) -> Option<&str> {
        self.0.get(field)?.as_str().filter(|s| !s.is_empty())
    }

    pub fn cid(&self) -> Option<&str> {
        self.text("cid")
    }

    pub fn uid(&self) -> Option<&str> {
        self.text("uid")
    }

    /// `open`, `closed`, `cancel` or `terminated`.
    pub fn status(&self) -> Option<&str> {
        self.text("status")
    }

    pub fn contract_type(&self) -> Option<&str> {
        self.text("contract_type")
    }

    /// The price, taxes included: a number, or a decimal written as a string.
    pub fn price(&self) -> Option<f64> {
        match self.0.get("price")? {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    pub fn start_date(&self) -> Option<DateTime<Utc>> {
        self.text("start_date").and_then(parse_date)
    }

    pub fn end_date(&self) -> Option<DateTime<Utc>> {
        self.text("end_date").and_then(parse_date)
    }

    pub fn created_date(&self) -> Option<DateTime<Utc>> {
        self.text("created_date").and_then(parse_date)
    }

    /// Whether the contract has ended by cancellation or termination, and which.
    pub fn ending(&self) -> Option<Ending> {
        match self.status()? {
            "cancel" | "cancelled" | "canceled" => Some(Ending::Cancelled),
            "terminated" => Some(Ending::Terminated),
            _ => None,
        }
    }

    /// The products' `data.internal_id`s. `products` is an object keyed by product-line id
    /// in the OpenAPI file; a list is read too.
    pub fn internal_ids(&self) -> Vec<&str> {
        let lines: Vec<&Value> = match self.0.get("products") {
            Some(Value::Object(lines)) => lines.values().collect(),
            Some(Value::Array(lines)) => lines.iter().collect(),
            _ => Vec::new(),
        };
        lines
            .into_iter()
            .filter_map(|line| line.get("data")?.get("internal_id")?.as_str())
            .collect()
    }
}

/// The contract of a success body, in whichever envelope.
pub fn contract_of(body: &Value) -> Option<Contract> {
    let found = body
        .get("contract")
        .or_else(|| body.get("data").and_then(|d| d.get("contract")))
        .or_else(|| body.get("data"))?;
    found.is_object().then(|| Contract(found.clone()))
}

/// The contracts of a list body, in whichever envelope.
pub fn contracts_of(body: &Value) -> Option<Vec<Contract>> {
    let found = body
        .get("contracts")
        .or_else(|| body.get("data").and_then(|d| d.get("contracts")))
        .or_else(|| body.get("data"))?;
    let items = found.as_array()?;
    Some(items.iter().cloned().map(Contract).collect())
}

/// `error.code` and `error.message` of an error body, when it has them.
pub fn error_of(body: &str) -> Option<(u32, String)> {
    let body: Value = serde_json::from_str(body).ok()?;
    let error = body.get("error")?;
    let code = match error.get("code")? {
        Value::Number(n) => u32::try_from(n.as_u64()?).ok()?,
        Value::String(s) => s.trim().parse().ok()?,
        _ => return None,
    };
    let message = error
        .get("message")
        .or_else(|| body.get("message"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    Some((code, message))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn both_envelopes_and_both_error_shapes_are_read() {
        let openapi = json!({"status": "success", "execution_id": "e1", "contract": {"cid": "C1", "price": 12.5}});
        let guide = json!({"success": true, "data": {"cid": "C1", "price": "12.50"}});
        for body in [openapi, guide] {
            let contract = contract_of(&body).expect("a contract");
            assert_eq!(contract.cid(), Some("C1"));
            assert_eq!(contract.price(), Some(12.5));
        }
        let listed = json!({"status": "success", "contracts": [{"cid": "A"}, {"cid": "B"}]});
        assert_eq!(contracts_of(&listed).map(|c| c.len()), Some(2));
        assert_eq!(
            contracts_of(&json!({"success": true, "data": []})).map(|c| c.len()),
            Some(0)
        );

        let openapi = r#"{"execution_id":"x","status":"error","type":"bad_request","message":"bad request","error":{"code":1051,"message":"Le contrat n'existe pas."}}"#;
        assert_eq!(
            error_of(openapi),
            Some((1051, "Le contrat n'existe pas.".into()))
        );
        let guide = r#"{"success":false,"error":{"code":"9001","message":"Missing API key"}}"#;
        assert_eq!(error_of(guide), Some((9001, "Missing API key".into())));
        assert_eq!(error_of("<html>502</html>"), None);
    }

    #[test]
    fn internal_ids_come_from_an_object_or_a_list_of_lines() {
        let keyed = Contract(
            json!({"products": {"cp1": {"data": {"internal_id": "a"}}, "cp2": {"data": {}}}}),
        );
        assert_eq!(keyed.internal_ids(), ["a"]);
        let listed = Contract(json!({"products": [{"data": {"internal_id": "b"}}]}));
        assert_eq!(listed.internal_ids(), ["b"]);
        assert_eq!(
            Contract(json!({"status": "cancel"})).ending(),
            Some(Ending::Cancelled)
        );
    }
}
