//! The producer API's Tulip routes: every broken rule is a 422 naming the field and Tulip's
//! code, and changes nothing; good bodies become jobs of the right kind.

use chrono::Utc;
use reqwest::StatusCode;
use serde_json::{Value, json};
use underwrite::vendors::tulip::types::validate::cases::CASES;

use crate::helpers::api::TestApi;
use crate::tulip_sandbox::lcd;

#[tokio::test]
async fn tulip_api_refuses_every_rule_with_the_field_and_tulips_code() {
    let api = TestApi::spawn().await;
    for (code, field, base, edit) in CASES {
        let mut body = base(Utc::now());
        edit(&mut body, Utc::now());
        let answer = api
            .post("/v1/tulip/contracts")
            .json(&body)
            .send()
            .await
            .expect("answered");
        assert_eq!(
            answer.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{code} {field}"
        );
        let answer: Value = answer.json().await.expect("json");
        assert_eq!(answer["error"]["code"], "validation_failed");
        let fields = answer["error"]["fields"].as_array().expect("fields");
        let wanted = format!("(Tulip code {code})");
        assert!(
            fields.iter().any(|f| f["field"] == json!(field)
                && f["reason"].as_str().is_some_and(|r| r.contains(&wanted))),
            "{code} on {field}: {answer}"
        );
    }
    assert!(api.all_jobs().await.is_empty(), "nothing enqueued");
}

#[tokio::test]
async fn tulip_api_enqueues_quotes_creations_and_cancellations() {
    let api = TestApi::spawn().await;
    let mut body = lcd("renter-api");
    body["reference"] = json!("order-7");
    for (path, kind) in [
        ("/v1/tulip/quotes", "tulip.contract.quote"),
        ("/v1/tulip/contracts", "tulip.contract.create"),
    ] {
        let answer = api.post(path).json(&body).send().await.expect("answered");
        assert_eq!(answer.status(), StatusCode::ACCEPTED, "{path}");
        let link: Value = answer.json().await.expect("json");
        let record: Value = api
            .get(link["status_url"].as_str().expect("status_url"))
            .send()
            .await
            .expect("answered")
            .json()
            .await
            .expect("json");
        assert_eq!(record["kind"], kind);
        assert_eq!(record["reference"], "order-7");
    }
    // A quote may leave out what only a creation needs.
    let mut light = lcd("renter-api");
    light["products"] =
        json!([{"product_type": "bike", "product_subtype": "standard", "value_excl": 900}]);
    let quote = api
        .post("/v1/tulip/quotes")
        .json(&light)
        .send()
        .await
        .expect("answered");
    assert_eq!(quote.status(), StatusCode::ACCEPTED);
    let create = api
        .post("/v1/tulip/contracts")
        .json(&light)
        .send()
        .await
        .expect("answered");
    assert_eq!(create.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let cancel = api
        .post("/v1/tulip/contracts/C000000000001/cancellation")
        .json(&json!({"reason": "returned early"}))
        .send()
        .await
        .expect("answered");
    assert_eq!(cancel.status(), StatusCode::ACCEPTED);
    let kinds: Vec<String> = api.all_jobs().await.into_iter().map(|j| j.kind).collect();
    assert_eq!(kinds.len(), 4, "{kinds:?}");
    assert!(kinds.contains(&"tulip.contract.cancel".to_string()));
}

#[tokio::test]
async fn tulip_api_refuses_typos_bad_ids_and_empty_reasons() {
    let api = TestApi::spawn().await;
    let mut typo = lcd("renter-api");
    typo["end_dat"] = json!("2030-01-01T00:00:00Z");
    let answer = api
        .post("/v1/tulip/contracts")
        .json(&typo)
        .send()
        .await
        .expect("answered");
    assert_eq!(answer.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(answer.text().await.expect("text").contains("end_dat"));

    let answer = api
        .post("/v1/tulip/contracts/a%2Fb/cancellation")
        .json(&json!({"reason": ""}))
        .send()
        .await
        .expect("answered");
    assert_eq!(answer.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let shown = answer.text().await.expect("text");
    assert!(
        shown.contains("\"cid\"") && shown.contains("\"reason\""),
        "{shown}"
    );
    let answer = api
        .post("/v1/tulip/contracts/C1/cancellation")
        .json(&json!({"reason": "x", "end_date": "2001-01-01T00:00:00Z"}))
        .send()
        .await
        .expect("answered");
    assert_eq!(answer.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        answer
            .text()
            .await
            .expect("text")
            .contains("Tulip code 1351")
    );
    let unauthenticated = api
        .anonymous(reqwest::Method::POST, "/v1/tulip/contracts")
        .json(&lcd("renter-api"))
        .send()
        .await
        .expect("answered");
    assert_eq!(unauthenticated.status(), StatusCode::UNAUTHORIZED);
    assert!(api.all_jobs().await.is_empty(), "nothing enqueued");
}
