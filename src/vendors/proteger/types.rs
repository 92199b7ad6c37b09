//! Proteger's wire types, shared by the client (`client.rs`) and the sandbox (`sandbox/`),
//! spelled as the vendor spells them (camelCase JSON, seeds 000 and 001).
//!
//! Two families, with opposite strictness on purpose:
//!
//! - **What we send** ([`ContractRequest`] and its parts) refuses unknown fields: a
//!   producer's typo (`transactionID`) must be a 400 from *our* API, not a field the vendor
//!   silently ignores. [`ContractRequest::validate`] then runs the field checks the vendor
//!   runs, so our API refuses at enqueue time what Proteger would refuse hours later; the
//!   sandbox applies the very same function, so the two cannot drift apart.
//! - **What the vendor answers** ([`Contract`], [`RefundQuote`], [`Plan`], [`Product`])
//!   tolerates anything: every field but the id is optional and unknown fields are kept in
//!   `extra`. A contract that was *created* but whose answer we fail to parse would be the
//!   worst failure of all (the effect happened, the job cannot record it), so the client
//!   must never trip over a field the vendor adds tomorrow.
//!
//! Money is in whole yen (`i64`): JSON numbers with a fraction do not deserialize.

use chrono::DateTime;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::validation::FieldError;

/// Most contracts one bulk call may carry (seed 000: "10件まで").
pub const MAX_BULK_CONTRACTS: usize = 10;

/// Longest identifier we accept (transactionId, referenceId, planId). The vendor's limit is
/// not documented; 255 is the usual `varchar(255)` column and what the upstream API enforces.
pub const MAX_ID_LEN: usize = 255;

/// Largest amount in yen. Not a vendor rule we know of: it is the largest integer a
/// JavaScript (or any `f64`) JSON parser on the vendor's side keeps exactly, so anything
/// above would be silently changed in transit.
pub const MAX_YEN: i64 = (1 << 53) - 1;

// ---------------------------------------------------------------------------------------
// What we send
// ---------------------------------------------------------------------------------------

/// One contract to create: an item of `POST /v1/contracts/bulk`, or the whole body of
/// `POST /v1/contracts`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = ProtegerContract)]
pub struct ContractRequest {
    /// The merchant's order id. Proteger does not deduplicate on it (as far as we know), so
    /// it is *our* job never to send the same one twice.
    pub transaction_id: String,
    /// The whole order, in yen.
    pub transaction_total: i64,
    /// RFC 3339 with an offset, e.g. `2021-01-31T13:16:06.239289+09:00`. Kept as the
    /// producer wrote it: the vendor echoes it back verbatim.
    pub transaction_date: String,
    pub customer: Customer,
    pub product: ProductRef,
    pub plan: PlanRef,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = ProtegerCustomer)]
pub struct Customer {
    pub name: String,
    pub email: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing_address: Option<Address>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_address: Option<Address>,
}

/// A Japanese postal address as the seeds show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = ProtegerAddress)]
pub struct Address {
    /// `227-0043` (the hyphen is optional).
    pub postal_number: String,
    pub prefecture: String,
    pub city: String,
    pub address: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub building: Option<String>,
}

/// The product bought, by the merchant's own id (`referenceId`), which must exist in the
/// vendor's product catalogue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = ProtegerProductRef)]
pub struct ProductRef {
    pub reference_id: String,
    pub purchase_price: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial_number: Option<String>,
}

/// The warranty plan bought, by the vendor's plan id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(as = ProtegerPlanRef)]
pub struct PlanRef {
    pub purchase_price: i64,
    pub plan_id: String,
}

/// The body of `POST /v1/contracts/bulk`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BulkCreateRequest {
    pub contracts: Vec<ContractRequest>,
}

// ---------------------------------------------------------------------------------------
// Validation: the checks the vendor runs before it creates anything
// ---------------------------------------------------------------------------------------

impl ContractRequest {
    /// Every field that is wrong, with a JSON path relative to the contract
    /// (`customer.email`); empty when the contract is acceptable. Catalogue checks (does
    /// this product exist?) are not here: only the vendor knows its catalogue.
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        check_id(&mut errors, "transactionId", &self.transaction_id);
        check_yen(&mut errors, "transactionTotal", self.transaction_total);
        if DateTime::parse_from_rfc3339(&self.transaction_date).is_err() {
            errors.push(FieldError::new(
                "transactionDate",
                "must be an RFC 3339 date-time with an offset, e.g. 2021-01-31T13:16:06+09:00",
            ));
        }
        errors.extend(
            self.customer
                .validate()
                .into_iter()
                .map(|e| e.nested("customer")),
        );
        check_id(
            &mut errors,
            "product.referenceId",
            &self.product.reference_id,
        );
        check_yen(
            &mut errors,
            "product.purchasePrice",
            self.product.purchase_price,
        );
        if let Some(serial) = &self.product.serial_number {
            check_text(&mut errors, "product.serialNumber", serial, MAX_ID_LEN);
        }
        check_id(&mut errors, "plan.planId", &self.plan.plan_id);
        check_yen(&mut errors, "plan.purchasePrice", self.plan.purchase_price);
        errors
    }
}

impl Customer {
    fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        check_text(&mut errors, "name", &self.name, 255);
        if !is_sane_email(&self.email) {
            errors.push(FieldError::new("email", "must be an e-mail address"));
        }
        if let Some(phone) = &self.phone {
            check_text(&mut errors, "phone", phone, 32);
        }
        for (field, address) in [
            ("billingAddress", &self.billing_address),
            ("shippingAddress", &self.shipping_address),
        ] {
            if let Some(address) = address {
                errors.extend(address.validate().into_iter().map(|e| e.nested(field)));
            }
        }
        errors
    }
}

impl Address {
    fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let digits: String = self.postal_number.chars().filter(|c| *c != '-').collect();
        let hyphen_ok = match self.postal_number.find('-') {
            None => true,
            Some(at) => at == 3 && self.postal_number.matches('-').count() == 1,
        };
        if digits.len() != 7 || !digits.chars().all(|c| c.is_ascii_digit()) || !hyphen_ok {
            errors.push(FieldError::new(
                "postalNumber",
                "must be a Japanese postal code: 7 digits, as 1234567 or 123-4567",
            ));
        }
        check_text(&mut errors, "prefecture", &self.prefecture, 255);
        check_text(&mut errors, "city", &self.city, 255);
        check_text(&mut errors, "address", &self.address, 255);
        if let Some(building) = &self.building {
            check_text(&mut errors, "building", building, 255);
        }
        errors
    }
}

impl BulkCreateRequest {
    /// 1 to [`MAX_BULK_CONTRACTS`] contracts, each valid; paths are `contracts[i].…`.
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if !(1..=MAX_BULK_CONTRACTS).contains(&self.contracts.len()) {
            errors.push(FieldError::new(
                "contracts",
                format!("must hold 1 to {MAX_BULK_CONTRACTS} contracts"),
            ));
        }
        for (i, contract) in self.contracts.iter().enumerate() {
            let parent = format!("contracts[{i}]");
            errors.extend(contract.validate().into_iter().map(|e| e.nested(&parent)));
        }
        errors
    }
}

fn check_text(errors: &mut Vec<FieldError>, field: &str, value: &str, max_chars: usize) {
    if value.trim().is_empty() {
        errors.push(FieldError::new(field, "must not be empty"));
    } else if value.chars().count() > max_chars {
        errors.push(FieldError::new(
            field,
            format!("must be at most {max_chars} characters"),
        ));
    }
}

fn check_id(errors: &mut Vec<FieldError>, field: &str, value: &str) {
    check_text(errors, field, value, MAX_ID_LEN);
    // Ids end up in URLs and log lines: control characters there are never legitimate.
    if value.chars().any(char::is_control) {
        errors.push(FieldError::new(
            field,
            "must not contain control characters",
        ));
    }
}

fn check_yen(errors: &mut Vec<FieldError>, field: &str, value: i64) {
    if value < 0 {
        errors.push(FieldError::new(field, "must be zero or more (whole yen)"));
    } else if value > MAX_YEN {
        errors.push(FieldError::new(field, format!("must be at most {MAX_YEN}")));
    }
}

/// Deliberately loose (RFC 5322 is not worth enforcing): one `@`, a non-empty local part,
/// a dotted domain without empty labels, no whitespace, at most 254 characters.
fn is_sane_email(email: &str) -> bool {
    if email.len() > 254 || email.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && domain.split('.').all(|label| !label.is_empty())
}

// ---------------------------------------------------------------------------------------
// What the vendor answers
// ---------------------------------------------------------------------------------------

/// A contract as Proteger answers it (bulk create, GET, and inside a refund answer).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Contract {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inquiry_code: Option<String>,
    #[serde(default)]
    pub transaction_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_total: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<ContractCustomer>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<Product>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<Plan>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<Store>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_fulfilled: Option<bool>,
    /// Absent status reads as `Unknown("")` rather than failing the whole answer.
    #[serde(default)]
    pub status: ContractStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fraud: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    /// Fields we do not model, kept so a stored result loses nothing.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The customer inside a contract: what we sent plus the vendor's ids.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContractCustomer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Kept as raw JSON: the strict [`Address`] is for what we send only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billing_address: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_address: Option<Value>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A product of the vendor's catalogue (`GET /v1/products/{referenceId}`, and inside a
/// contract, where it also carries `purchasePrice` and `serialNumber`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Product {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brand: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purchase_price: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// A warranty plan (`GET /v1/plans`, `GET /v1/plans/{planId}`, and inside a contract).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub price: Option<i64>,
    /// Coverage length in months.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub term_length: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protection_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The merchant's store, inside a contract.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Store {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub web_site: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo_url: Option<String>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The answer of `PUT /v1/contracts/{id}/refund`: the contract plus the refund.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefundQuote {
    #[serde(flatten)]
    pub contract: Contract,
    /// Yen refunded (commit) or that would be refunded (quote). `None` only when the
    /// *client* made this answer up for a contract that was already cancelled before the
    /// call (see `client.rs`): the vendor does not repeat the earlier refund, and `0` would
    /// wrongly say that nothing was ever refunded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_amount: Option<i64>,
}

/// The vendor's error body (seed 000). Only `BadRequestException` is documented; other
/// codes are the sandbox's guesses.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VendorErrorBody {
    /// 32 random characters, the vendor's trace id: quote it to their support.
    #[serde(default)]
    pub request_id: String,
    #[serde(default)]
    pub code: String,
    #[serde(default)]
    pub error: String,
}

/// A contract's status.
///
/// Only `Active` appears in the seeds; **the full list is unknown**. `Cancelled` and
/// `Expired` are our guesses (and what the sandbox uses); anything else the vendor sends is
/// kept verbatim in `Unknown` instead of failing the answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum ContractStatus {
    Active,
    Cancelled,
    Expired,
    Unknown(String),
    /// No status in the answer at all.
    #[default]
    Missing,
}

impl From<String> for ContractStatus {
    fn from(value: String) -> Self {
        match value.as_str() {
            "Active" => Self::Active,
            // The American spelling too: the vendor's English is not documented.
            "Cancelled" | "Canceled" => Self::Cancelled,
            "Expired" => Self::Expired,
            "" => Self::Missing,
            _ => Self::Unknown(value),
        }
    }
}

impl From<ContractStatus> for String {
    fn from(value: ContractStatus) -> Self {
        match value {
            ContractStatus::Active => "Active".into(),
            ContractStatus::Cancelled => "Cancelled".into(),
            ContractStatus::Expired => "Expired".into(),
            ContractStatus::Unknown(other) => other,
            ContractStatus::Missing => String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn valid() -> ContractRequest {
        serde_json::from_value(json!({
            "transactionId": "order0001",
            "transactionTotal": 12000,
            "transactionDate": "2021-01-31T13:16:06.239289+09:00",
            "customer": { "name": "山田 太郎", "email": "user@example.com" },
            "product": { "referenceId": "laptop", "purchasePrice": 10000 },
            "plan": { "purchasePrice": 2000, "planId": "plan-1" }
        }))
        .expect("the seed's example parses")
    }

    fn fields(errors: Vec<FieldError>) -> Vec<String> {
        errors.into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn the_seed_example_is_valid() {
        assert_eq!(valid().validate(), vec![]);
    }

    #[test]
    fn unknown_fields_are_refused() {
        let mut value = serde_json::to_value(valid()).expect("serializes");
        value["transactionID"] = json!("typo");
        assert!(serde_json::from_value::<ContractRequest>(value).is_err());
        let mut value = serde_json::to_value(valid()).expect("serializes");
        value["customer"]["mail"] = json!("typo");
        assert!(serde_json::from_value::<ContractRequest>(value).is_err());
    }

    #[test]
    fn fractional_yen_do_not_parse() {
        let mut value = serde_json::to_value(valid()).expect("serializes");
        value["transactionTotal"] = json!(12000.5);
        assert!(serde_json::from_value::<ContractRequest>(value).is_err());
    }

    #[test]
    fn transaction_id_must_be_present_and_short() {
        let mut c = valid();
        c.transaction_id = "  ".into();
        assert_eq!(fields(c.validate()), ["transactionId"]);
        c.transaction_id = "x".repeat(255);
        assert_eq!(c.validate(), vec![]);
        c.transaction_id = "x".repeat(256);
        assert_eq!(fields(c.validate()), ["transactionId"]);
        c.transaction_id = "a\nb".into();
        assert_eq!(fields(c.validate()), ["transactionId"]);
    }

    #[test]
    fn amounts_are_non_negative_yen() {
        let mut c = valid();
        c.transaction_total = -1;
        c.product.purchase_price = -5;
        c.plan.purchase_price = MAX_YEN + 1;
        assert_eq!(
            fields(c.validate()),
            [
                "transactionTotal",
                "product.purchasePrice",
                "plan.purchasePrice"
            ]
        );
        let mut c = valid();
        c.transaction_total = 0;
        assert_eq!(c.validate(), vec![]);
    }

    #[test]
    fn transaction_date_needs_an_offset() {
        let mut c = valid();
        for bad in ["2021-01-31", "2021-01-31T13:16:06", "yesterday", ""] {
            c.transaction_date = bad.into();
            assert_eq!(fields(c.validate()), ["transactionDate"], "{bad}");
        }
        for good in ["2021-01-31T13:16:06Z", "2021-01-31T13:16:06.1+09:00"] {
            c.transaction_date = good.into();
            assert_eq!(c.validate(), vec![], "{good}");
        }
    }

    #[test]
    fn emails_must_look_like_emails() {
        let mut c = valid();
        for bad in [
            "",
            "user",
            "user@",
            "@example.com",
            "a@b",
            "a b@example.com",
            "a@@b.jp",
            "a@b..jp",
        ] {
            c.customer.email = bad.into();
            assert_eq!(fields(c.validate()), ["customer.email"], "{bad}");
        }
        c.customer.email = "taro.yamada+warranty@mail.example.co.jp".into();
        assert_eq!(c.validate(), vec![]);
    }

    #[test]
    fn ids_and_names_must_not_be_empty() {
        let mut c = valid();
        c.customer.name = String::new();
        c.product.reference_id = String::new();
        c.plan.plan_id = " ".into();
        c.product.serial_number = Some(String::new());
        assert_eq!(
            fields(c.validate()),
            [
                "customer.name",
                "product.referenceId",
                "product.serialNumber",
                "plan.planId"
            ]
        );
    }

    #[test]
    fn addresses_are_checked_when_present() {
        let mut c = valid();
        c.customer.billing_address = Some(Address {
            postal_number: "227-0043".into(),
            prefecture: "神奈川県".into(),
            city: "横浜市青葉区藤が丘".into(),
            address: "1-49-1".into(),
            building: None,
        });
        assert_eq!(c.validate(), vec![]);
        c.customer.shipping_address = Some(Address {
            postal_number: "22-70043".into(),
            prefecture: String::new(),
            city: "x".into(),
            address: "y".into(),
            building: None,
        });
        assert_eq!(
            fields(c.validate()),
            [
                "customer.shippingAddress.postalNumber",
                "customer.shippingAddress.prefecture"
            ]
        );
    }

    #[test]
    fn bulk_holds_one_to_ten() {
        let bulk = BulkCreateRequest { contracts: vec![] };
        assert_eq!(fields(bulk.validate()), ["contracts"]);
        let bulk = BulkCreateRequest {
            contracts: vec![valid(); 11],
        };
        assert_eq!(fields(bulk.validate()), ["contracts"]);
        let mut bad = valid();
        bad.customer.email = "nope".into();
        let bulk = BulkCreateRequest {
            contracts: vec![valid(), bad],
        };
        assert_eq!(fields(bulk.validate()), ["contracts[1].customer.email"]);
    }

    #[test]
    fn vendor_answers_are_read_tolerantly() {
        let contract: Contract = serde_json::from_value(json!({
            "id": "c1",
            "transactionId": "order0001",
            "status": "Active",
            "plan": { "id": "p", "termLength": 12, "newPlanField": true },
            "somethingNew": [1, 2]
        }))
        .expect("tolerant");
        assert_eq!(contract.status, ContractStatus::Active);
        assert_eq!(contract.extra["somethingNew"], json!([1, 2]));
        let plan = contract.plan.expect("plan");
        assert_eq!(plan.term_length, Some(12));
        assert_eq!(plan.extra["newPlanField"], json!(true));
        let odd: Contract =
            serde_json::from_value(json!({ "id": "c2", "status": "Suspended" })).expect("odd");
        assert_eq!(odd.status, ContractStatus::Unknown("Suspended".into()));
    }

    #[test]
    fn a_refund_answer_is_a_contract_plus_an_amount() {
        let quote: RefundQuote = serde_json::from_value(json!({
            "id": "c1", "transactionId": "t", "status": "Cancelled", "refundAmount": 1000
        }))
        .expect("parses");
        assert_eq!(quote.refund_amount, Some(1000));
        assert_eq!(quote.contract.status, ContractStatus::Cancelled);
        assert!(
            quote.contract.extra.is_empty(),
            "{:?}",
            quote.contract.extra
        );
        let back = serde_json::to_value(&quote).expect("serializes");
        assert_eq!(back["refundAmount"], json!(1000));
        assert_eq!(back["status"], json!("Cancelled"));
    }
}
