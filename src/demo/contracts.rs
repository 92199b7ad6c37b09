//! What the demo sends to Proteger and how it prints what came back.

use serde_json::Value;

use crate::queue::JobRecord;
use crate::vendors::proteger::sandbox::{
    SANDBOX_PHONE_PLAN_ID, SANDBOX_PHONE_PRODUCT_ID, SANDBOX_PLAN_3Y_ID, sample_contract,
};

/// Contract number `i` of this run: the sandbox's sample, varied over its catalogue.
pub(super) fn contract(run_tag: &str, i: usize) -> Value {
    const NAMES: [(&str, &str); 5] = [
        ("山田 太郎", "taro.yamada"),
        ("佐藤 花子", "hanako.sato"),
        ("鈴木 一郎", "ichiro.suzuki"),
        ("高橋 美咲", "misaki.takahashi"),
        ("田中 健", "ken.tanaka"),
    ];
    let mut contract = sample_contract(&format!("demo-{run_tag}-{i:03}"));
    let (name, mail) = NAMES[i % NAMES.len()];
    contract.customer.name = name.to_string();
    contract.customer.email = format!("{mail}+{i}@example.com");
    match i % 3 {
        // The laptop with its 3-year plan.
        1 => {
            contract.plan.plan_id = SANDBOX_PLAN_3Y_ID.to_string();
            contract.plan.purchase_price = 5_000;
        }
        // The phone with its 2-year plan.
        2 => {
            contract.product.reference_id = SANDBOX_PHONE_PRODUCT_ID.to_string();
            contract.product.purchase_price = 80_000;
            contract.plan.plan_id = SANDBOX_PHONE_PLAN_ID.to_string();
            contract.plan.purchase_price = 3_000;
        }
        // The sample as it is: the laptop with its 1-year plan.
        _ => {}
    }
    contract.transaction_total = contract.product.purchase_price + contract.plan.purchase_price;
    serde_json::to_value(contract).unwrap_or_default()
}

/// The last error of a job, with the vendor's own words when it gave some.
pub(super) fn error_line(record: &JobRecord) -> String {
    let Some(error) = &record.last_error else {
        return format!("ended {} without an error recorded", record.state);
    };
    // Proteger's error body: `{"requestId", "code", "error"}`.
    let vendor_says = error
        .vendor_body
        .as_ref()
        .and_then(|body| body.get("error"))
        .and_then(Value::as_str);
    match (error.vendor_status, vendor_says) {
        (Some(status), Some(says)) => format!("Proteger answered {status}: {says}"),
        (Some(status), None) => format!("Proteger answered {status}: {}", error.message),
        (None, _) => error.message.clone(),
    }
}

/// `12345` → `¥12,345`.
pub(super) fn yen(amount: i64) -> String {
    let digits = amount.unsigned_abs().to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{}¥{grouped}", if amount < 0 { "-" } else { "" })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::{BULK, SINGLES};

    #[test]
    fn yen_groups_thousands() {
        assert_eq!(yen(0), "¥0");
        assert_eq!(yen(999), "¥999");
        assert_eq!(yen(1_000), "¥1,000");
        assert_eq!(yen(1_234_567), "¥1,234,567");
    }

    #[test]
    fn demo_contracts_pass_the_vendor_form_checks() {
        for i in 0..BULK + SINGLES {
            let value = contract("tag", i);
            let parsed: crate::vendors::proteger::types::ContractRequest =
                serde_json::from_value(value).expect("a contract");
            assert!(
                parsed.validate().is_empty(),
                "contract {i}: {:?}",
                parsed.validate()
            );
        }
    }
}
