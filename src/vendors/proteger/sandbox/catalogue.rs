//! The sandbox's fixed catalogue: one store, a few products and warranty plans, with ids
//! that never change so tests and the demo can name them.
//!
//! Proteger's catalogue is per merchant and set up out of band; a contract must name a
//! product (by the merchant's `referenceId`) and a plan that exist there, else the create
//! fails with `failed get product: not found`. The sandbox also refuses a plan that is not
//! offered for the product: whether the real vendor checks that is **unknown**, and being
//! stricter than the vendor is the safe side for a fake.
//!
//! Also served: `GET /v1/plans?productId=&storeId=&status=`, `GET /v1/plans/{planId}` and
//! `GET /v1/products/{referenceId}`. `POST`/`PUT /v1/products` are documented by the vendor
//! but not modelled: underwrite never manages the catalogue.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::errors::{bad_request, not_found};
use crate::vendors::proteger::types::{
    ContractRequest, Customer, Plan, PlanRef, Product, ProductRef, Store,
};

/// The only store.
pub const SANDBOX_STORE_ID: &str = "0190c3a0-0000-7000-8000-00000000a001";
/// A laptop (the merchant's `referenceId`), price 100 000 yen.
pub const SANDBOX_PRODUCT_ID: &str = "sandbox-laptop";
/// A phone, price 80 000 yen.
pub const SANDBOX_PHONE_PRODUCT_ID: &str = "sandbox-phone";
/// 1-year plan (12 months, 2 000 yen) for the laptop; status `Live`.
pub const SANDBOX_PLAN_ID: &str = "0190c3a0-0000-7000-8000-00000000b001";
/// 3-year plan (36 months, 5 000 yen) for the laptop; status `Live`.
pub const SANDBOX_PLAN_3Y_ID: &str = "0190c3a0-0000-7000-8000-00000000b003";
/// 2-year plan (24 months, 3 000 yen) for the phone; status `LiveInStore`.
pub const SANDBOX_PHONE_PLAN_ID: &str = "0190c3a0-0000-7000-8000-00000000b002";

const CATALOGUE_DATE: &str = "2024-01-01T00:00:00+09:00";

/// A catalogue product.
pub struct CatalogueProduct {
    pub id: &'static str,
    pub reference_id: &'static str,
    pub title: &'static str,
    pub price: i64,
    pub category: &'static str,
    pub brand: &'static str,
}

/// A catalogue plan and where it is offered.
pub struct CataloguePlan {
    pub id: &'static str,
    pub title: &'static str,
    pub price: i64,
    pub term_months: u32,
    /// `Live` (online) or `LiveInStore` (in physical stores).
    pub status: &'static str,
    /// `referenceId`s of the products it covers.
    pub products: &'static [&'static str],
}

pub const PRODUCTS: &[CatalogueProduct] = &[
    CatalogueProduct {
        id: "0190c3a0-0000-7000-8000-00000000c001",
        reference_id: SANDBOX_PRODUCT_ID,
        title: "ノートPC",
        price: 100_000,
        category: "パソコン",
        brand: "Sandbox",
    },
    CatalogueProduct {
        id: "0190c3a0-0000-7000-8000-00000000c002",
        reference_id: SANDBOX_PHONE_PRODUCT_ID,
        title: "スマートフォン",
        price: 80_000,
        category: "スマートフォン",
        brand: "Sandbox",
    },
];

pub const PLANS: &[CataloguePlan] = &[
    CataloguePlan {
        id: SANDBOX_PLAN_ID,
        title: "1年延長保証",
        price: 2_000,
        term_months: 12,
        status: "Live",
        products: &[SANDBOX_PRODUCT_ID],
    },
    CataloguePlan {
        id: SANDBOX_PLAN_3Y_ID,
        title: "3年延長保証",
        price: 5_000,
        term_months: 36,
        status: "Live",
        products: &[SANDBOX_PRODUCT_ID],
    },
    CataloguePlan {
        id: SANDBOX_PHONE_PLAN_ID,
        title: "2年延長保証",
        price: 3_000,
        term_months: 24,
        status: "LiveInStore",
        products: &[SANDBOX_PHONE_PRODUCT_ID],
    },
];

pub fn product(reference_id: &str) -> Option<&'static CatalogueProduct> {
    PRODUCTS.iter().find(|p| p.reference_id == reference_id)
}

pub fn plan(id: &str) -> Option<&'static CataloguePlan> {
    PLANS.iter().find(|p| p.id == id)
}

impl CatalogueProduct {
    pub fn to_wire(&self) -> Product {
        let mut extra = Map::new();
        extra.insert("storeId".into(), json!(SANDBOX_STORE_ID));
        Product {
            id: Some(self.id.into()),
            reference_id: Some(self.reference_id.into()),
            title: Some(self.title.into()),
            price: Some(self.price),
            image_url: Some(format!(
                "https://sandbox.invalid/images/{}.png",
                self.reference_id
            )),
            category: Some(self.category.into()),
            brand: Some(self.brand.into()),
            created_at: Some(CATALOGUE_DATE.into()),
            updated_at: Some(CATALOGUE_DATE.into()),
            extra,
            ..Product::default()
        }
    }
}

impl CataloguePlan {
    pub fn to_wire(&self) -> Plan {
        let mut extra = Map::new();
        extra.insert("status".into(), json!(self.status));
        Plan {
            id: Some(self.id.into()),
            title: Some(self.title.into()),
            price: Some(self.price),
            term_length: Some(self.term_months),
            service_type: Some("Repair".into()),
            protection_type: Some("Base".into()),
            url: Some(format!("https://sandbox.invalid/plans/{}", self.id)),
            extra,
        }
    }

    /// Offered for this product, named by its `referenceId` or its vendor id.
    fn covers(&self, product: &str) -> bool {
        self.products.iter().any(|reference| {
            *reference == product || self::product(reference).is_some_and(|p| p.id == product)
        })
    }
}

pub fn store() -> Store {
    Store {
        id: Some(SANDBOX_STORE_ID.into()),
        name: Some("underwrite sandbox store".into()),
        web_site: Some("https://sandbox.invalid".into()),
        logo_url: Some("https://sandbox.invalid/logo.png".into()),
        extra: Map::new(),
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PlanQuery {
    product_id: Option<String>,
    store_id: Option<String>,
    /// `Live`, `LiveInStore` or `Any`. The vendor's default is **unknown**: `Live` here.
    status: Option<String>,
}

/// `GET /v1/plans?productId=&storeId=&status=`.
pub async fn list_plans(query: Result<Query<PlanQuery>, QueryRejection>) -> Response {
    let Ok(Query(query)) = query else {
        return bad_request("failed list plans: invalid query");
    };
    let status = query.status.as_deref().unwrap_or("Live");
    if !matches!(status, "Live" | "LiveInStore" | "Any") {
        return bad_request("failed list plans: status must be Live, LiveInStore or Any");
    }
    if query
        .store_id
        .as_deref()
        .is_some_and(|s| s != SANDBOX_STORE_ID)
    {
        return Json(Vec::<Value>::new()).into_response();
    }
    let plans: Vec<Plan> = PLANS
        .iter()
        .filter(|p| status == "Any" || p.status == status)
        .filter(|p| query.product_id.as_deref().is_none_or(|id| p.covers(id)))
        .map(CataloguePlan::to_wire)
        .collect();
    Json(plans).into_response()
}

/// `GET /v1/plans/{planId}`.
pub async fn get_plan(Path(id): Path<String>) -> Response {
    match plan(&id) {
        Some(plan) => Json(plan.to_wire()).into_response(),
        None => not_found("failed get plan: not found"),
    }
}

/// `GET /v1/products/{referenceId}`.
pub async fn get_product(Path(reference_id): Path<String>) -> Response {
    match product(&reference_id) {
        Some(product) => Json(product.to_wire()).into_response(),
        None => not_found("failed get product: not found"),
    }
}

/// Why a contract cannot be made with this product and plan, in the vendor's words.
pub fn check_pair(
    reference_id: &str,
    plan_id: &str,
) -> Result<(&'static CatalogueProduct, &'static CataloguePlan), String> {
    let product = product(reference_id)
        .ok_or_else(|| "failed create contract: failed get product: not found".to_string())?;
    let plan = plan(plan_id)
        .ok_or_else(|| "failed create contract: failed get plan: not found".to_string())?;
    if !plan.covers(reference_id) {
        return Err("failed create contract: plan is not available for the product".into());
    }
    Ok((product, plan))
}

/// A valid contract for this catalogue (the laptop with its 1-year plan), bought 30 days
/// ago in Japan's time, so its coverage is running: for tests, the demo and benchmarks.
pub fn sample_contract(transaction_id: &str) -> ContractRequest {
    let bought = chrono::Utc::now() - chrono::Duration::days(30);
    ContractRequest {
        transaction_id: transaction_id.to_string(),
        transaction_total: 102_000,
        transaction_date: super::contracts::timestamp(bought),
        customer: Customer {
            name: "山田 太郎".into(),
            email: "taro.yamada@example.com".into(),
            phone: None,
            billing_address: None,
            shipping_address: None,
        },
        product: ProductRef {
            reference_id: SANDBOX_PRODUCT_ID.into(),
            purchase_price: 100_000,
            serial_number: None,
        },
        plan: PlanRef {
            purchase_price: 2_000,
            plan_id: SANDBOX_PLAN_ID.into(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_contract_is_valid_here() {
        let sample = sample_contract("t-1");
        assert_eq!(sample.validate(), vec![]);
        assert!(check_pair(&sample.product.reference_id, &sample.plan.plan_id).is_ok());
    }

    #[test]
    fn pairs_are_checked() {
        assert!(check_pair(SANDBOX_PRODUCT_ID, SANDBOX_PLAN_ID).is_ok());
        assert!(check_pair(SANDBOX_PRODUCT_ID, SANDBOX_PLAN_3Y_ID).is_ok());
        assert!(check_pair(SANDBOX_PHONE_PRODUCT_ID, SANDBOX_PHONE_PLAN_ID).is_ok());
        assert_eq!(
            check_pair("nope", SANDBOX_PLAN_ID).err().as_deref(),
            Some("failed create contract: failed get product: not found")
        );
        assert_eq!(
            check_pair(SANDBOX_PRODUCT_ID, "nope").err().as_deref(),
            Some("failed create contract: failed get plan: not found")
        );
        assert!(check_pair(SANDBOX_PHONE_PRODUCT_ID, SANDBOX_PLAN_ID).is_err());
    }
}
