//! The example answers of Proteger's own pages (seeds 000 and 001), copied verbatim,
//! decoded into our wire types (`vendors/proteger/types.rs`). The types read vendor answers
//! tolerantly, so "it parses" proves little: each example must also land in the modelled
//! fields (nothing left over in `extra`) and serialize back to the very same JSON, so that a
//! job's stored `result` says what the vendor said.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use underwrite::vendors::proteger::types::{
    Contract, ContractStatus, RefundQuote, VendorErrorBody,
};

/// Seed 000, `POST /v1/contracts/bulk`: the 200 answer, a bare array of contracts.
const BULK_CREATED: &str = r#"[ { "id": "c10a0882-2b11-633d-7de6-0563bbf9dbed", "inquiryCode": "892hv238", "transactionId": "order0001", "transactionTotal": 12000, "transactionDate": "2021-01-31T13:16:06.239289+09:00", "customer": { "id": "c10a0882-2b11-633d-7de6-0563bbf9dbed", "referenceId": "c10a0882-2b11-633d-7de6-0563bbf9dbed", "name": "山田 太郎", "email": "user@example.com", "phone": "0120-XXXX-XXXX", "billingAddress": { "postalNumber": "227-0043", "prefecture": "神奈川県", "city": "横浜市青葉区藤が丘", "address": "1-49-1", "building": "XXXハイム 306" }, "shippingAddress": { "postalNumber": "227-0043", "prefecture": "神奈川県", "city": "横浜市青葉区藤が丘", "address": "1-49-1", "building": "XXXハイム 306" } }, "product": { "id": "c10a0882-2b11-633d-7de6-0563bbf9dbed", "referenceId": "c10a0882-2b11-633d-7de6-0563bbf9dbed", "title": "ノートPC", "price": 10000, "imageUrl": "https://helloproteger.com/image/10vj12.png", "category": "パソコン", "brand": "Apple", "purchasePrice": 10000, "serialNumber": "12304981", "createdAt": "2021-01-31T13:16:06.239289+09:00", "updatedAt": "2021-01-31T13:16:06.239289+09:00" }, "plan": { "id": "c10a0882-2b11-633d-7de6-0563bbf9dbed", "title": "1年延長保証", "price": 2000, "termLength": 12, "serviceType": "Repair", "protectionType": "Base", "url": "string" }, "store": { "id": "c10a0882-2b11-633d-7de6-0563bbf9dbed", "name": "proteger公式オンラインストア", "webSite": "https://hi.helloproteger.com", "logoUrl": "https://helloproteger.com/logo.png" }, "isFulfilled": true, "status": "Active", "fraud": false, "startedAt": "2021-01-31T13:16:06.239289+09:00", "endedAt": "2021-01-31T13:16:06.239289+09:00", "createdAt": "2021-01-31T13:16:06.239289+09:00", "updatedAt": "2021-01-31T13:16:06.239289+09:00" }]"#;

/// Seed 000: the error answer.
const BULK_ERROR: &str = r#"{ "requestId": "kJZQv3lyB2rjHKNbeGBy5HMet4MO0nw9", "code": "BadRequestException", "error": "failed create contract: failed get product: not found"}"#;

/// Seed 001, `PUT /v1/contracts/{contractId}/refund`: the 200 answer (note: no `store` and
/// no `fraud`, unlike the contract of seed 000).
const REFUNDED: &str = r#"{  "id": "c10a0882-2b11-633d-7de6-0563bbf9dbed",  "inquiryCode": "892hv238",  "transactionId": "order0001",  "transactionTotal": 12000,  "transactionDate": "2021-01-31T13:16:06.239289+09:00",  "refundAmount": 1000,  "customer": {    "id": "c10a0882-2b11-633d-7de6-0563bbf9dbed",    "referenceId": "c10a0882-2b11-633d-7de6-0563bbf9dbed",    "name": "山田 太郎",    "email": "user@example.com",    "phone": "0120-XXXX-XXXX",    "billingAddress": {      "postalNumber": "227-0043",      "prefecture": "神奈川県",      "city": "横浜市青葉区藤が丘",      "address": "1-49-1",      "building": "XXXハイム 306"    },    "shippingAddress": {      "postalNumber": "227-0043",      "prefecture": "神奈川県",      "city": "横浜市青葉区藤が丘",      "address": "1-49-1",      "building": "XXXハイム 306"    }  },  "product": {    "id": "c10a0882-2b11-633d-7de6-0563bbf9dbed",    "referenceId": "c10a0882-2b11-633d-7de6-0563bbf9dbed",    "title": "ノートPC",    "price": 10000,    "imageUrl": "https://helloproteger.com/image/10vj12.png",    "category": "パソコン",    "brand": "Apple",    "purchasePrice": 10000,    "serialNumber": "12304981",    "createdAt": "2021-01-31T13:16:06.239289+09:00",    "updatedAt": "2021-01-31T13:16:06.239289+09:00"  },  "plan": {    "id": "c10a0882-2b11-633d-7de6-0563bbf9dbed",    "title": "1年延長保証",    "price": 2000,    "termLength": 12,    "serviceType": "Repair",    "protectionType": "Base",    "url": "string"  },  "isFulfilled": true,  "status": "Active",  "startedAt": "2021-01-31T13:16:06.239289+09:00",  "endedAt": "2021-01-31T13:16:06.239289+09:00",  "createdAt": "2021-01-31T13:16:06.239289+09:00",  "updatedAt": "2021-01-31T13:16:06.239289+09:00"}"#;

/// Seed 001: the error answer (the same example as seed 000's, layout aside).
const REFUND_ERROR: &str = r#"{  "requestId": "kJZQv3lyB2rjHKNbeGBy5HMet4MO0nw9",  "code": "BadRequestException",  "error": "failed create contract: failed get product: not found"}"#;

/// Decodes `text` as `T`, and checks that `T` gives back exactly the same JSON.
fn decode<T: DeserializeOwned + Serialize>(text: &str) -> T {
    let decoded: T = match serde_json::from_str(text) {
        Ok(decoded) => decoded,
        Err(e) => panic!("the seed's example does not decode: {e}"),
    };
    let original: Value = serde_json::from_str(text).expect("the seed's example is JSON");
    let back = serde_json::to_value(&decoded).expect("serializes");
    assert_eq!(back, original, "decoding then encoding changed the example");
    decoded
}

/// Every documented field is modelled: nothing fell into an `extra` map.
fn fully_modelled(contract: &Contract) {
    assert!(contract.extra.is_empty(), "{:?}", contract.extra);
    let customer = contract.customer.as_ref().expect("customer");
    assert!(customer.extra.is_empty(), "{:?}", customer.extra);
    let product = contract.product.as_ref().expect("product");
    assert!(product.extra.is_empty(), "{:?}", product.extra);
    let plan = contract.plan.as_ref().expect("plan");
    assert!(plan.extra.is_empty(), "{:?}", plan.extra);
    if let Some(store) = &contract.store {
        assert!(store.extra.is_empty(), "{:?}", store.extra);
    }
}

#[test]
fn seed_000_bulk_answer_decodes_into_contracts() {
    let contracts: Vec<Contract> = decode(BULK_CREATED);
    assert_eq!(contracts.len(), 1);
    let contract = &contracts[0];
    fully_modelled(contract);
    assert_eq!(contract.id, "c10a0882-2b11-633d-7de6-0563bbf9dbed");
    assert_eq!(contract.inquiry_code.as_deref(), Some("892hv238"));
    assert_eq!(contract.transaction_id, "order0001");
    assert_eq!(contract.transaction_total, Some(12000));
    assert_eq!(contract.status, ContractStatus::Active);
    assert_eq!(contract.is_fulfilled, Some(true));
    assert_eq!(contract.fraud, Some(false));
    let customer = contract.customer.as_ref().expect("customer");
    assert_eq!(customer.name.as_deref(), Some("山田 太郎"));
    assert_eq!(
        customer
            .billing_address
            .as_ref()
            .map(|a| &a["postalNumber"]),
        Some(&Value::from("227-0043"))
    );
    let product = contract.product.as_ref().expect("product");
    assert_eq!(product.purchase_price, Some(10000));
    assert_eq!(product.serial_number.as_deref(), Some("12304981"));
    let plan = contract.plan.as_ref().expect("plan");
    assert_eq!(plan.term_length, Some(12));
    assert_eq!(plan.price, Some(2000));
    let store = contract.store.as_ref().expect("store");
    assert_eq!(
        store.web_site.as_deref(),
        Some("https://hi.helloproteger.com")
    );
}

#[test]
fn seed_001_refund_answer_decodes_into_a_quote() {
    let quote: RefundQuote = decode(REFUNDED);
    fully_modelled(&quote.contract);
    assert_eq!(quote.refund_amount, Some(1000));
    assert_eq!(quote.contract.id, "c10a0882-2b11-633d-7de6-0563bbf9dbed");
    assert_eq!(quote.contract.status, ContractStatus::Active);
    assert_eq!(quote.contract.store, None);
    assert_eq!(quote.contract.fraud, None);
    assert_eq!(
        quote
            .contract
            .plan
            .as_ref()
            .and_then(|p| p.service_type.as_deref()),
        Some("Repair")
    );
}

#[test]
fn the_seeds_error_answers_decode() {
    for text in [BULK_ERROR, REFUND_ERROR] {
        let error: VendorErrorBody = decode(text);
        assert_eq!(error.request_id, "kJZQv3lyB2rjHKNbeGBy5HMet4MO0nw9");
        assert_eq!(error.code, "BadRequestException");
        assert_eq!(
            error.error,
            "failed create contract: failed get product: not found"
        );
    }
}
