//! Tulip's error codes for contracts, with the English message the API answers for each
//! (`error-handling.mdx`; the OpenAPI file carries French wordings of the same codes).
//!
//! Our local validation names the code Tulip would answer, the sandbox answers it, and the
//! client reads it back: one table for all three, so a code means the same everywhere.
//! Only the codes of the calls we make are here (contracts, their products, the parties,
//! authentication, permission and quota), not those of claims or renewals.

/// Codes `classify.rs` treats apart from plain refusals.
pub const CONTRACT_NOT_FOUND: u32 = 1051;
pub const CONTRACT_NOT_OPEN: u32 = 1052;
pub const MISSING_KEY: u32 = 9001;
pub const INVALID_KEY: u32 = 9002;
pub const UNAUTHORIZED_USER: u32 = 9003;
pub const NO_PERMISSION: u32 = 98888;
pub const QUOTA_REACHED: u32 = 99888;

/// `(code, message)`, as `error-handling.mdx` lists them.
pub const CODES: &[(u32, &str)] = &[
    (1000, "The start_date cannot be in the past."),
    (1001, "The end_date cannot be earlier than the start_date."),
    (1002, "The duration of the contract is invalid."),
    (
        1003,
        "You do not have permissions to create this type of contract.",
    ),
    (1004, "The contract type is invalid."),
    (1005, "An end_date is required."),
    (1006, "A contract_type is required."),
    (
        1007,
        "At least one product is required to create the contract.",
    ),
    (1008, "Options are required to create a contract."),
    (
        1009,
        "Options for breakage and theft are required to create a contract, including whether the insured is a company or an individual.",
    ),
    (1010, "The options for the contract are invalid."),
    (1012, "A uid is required to create a contract."),
    (1013, "A company is required to create this contract."),
    (1014, "An individual is required to create this contract."),
    (
        1015,
        "Options for breakage and theft are required to create a contract, specifying whether the insured is a company or an individual, and defining the use case of the product(s): home_to_work, professional, or transporter.",
    ),
    (
        1018,
        "Options for breakage and theft are required to create a contract.",
    ),
    (
        1019,
        "Options for breakage and theft are required to create a contract.",
    ),
    (
        1020,
        "Options for breakage and theft are required to create a contract, including whether the insured is a company or an individual.",
    ),
    (1021, "The end_date cannot be in the past."),
    (1050, "The contract started more than 4 hours ago."),
    (1051, "The contract does not exist."),
    (1052, "The contract is not open."),
    (1100, "A company name is required to create this contract."),
    (1101, "A SIREN number is required to create this contract."),
    (
        1102,
        "The SIREN must be 9 characters for France and 11 characters for Italy.",
    ),
    (1103, "A first name is required to create this contract."),
    (1104, "A last name is required to create this contract."),
    (1105, "An address is required to create this contract."),
    (1106, "A zipcode is required to create this contract."),
    (1107, "A city is required to create this contract."),
    (1108, "A country is required to create this contract."),
    (1109, "The company details are invalid."),
    (
        1200,
        "product_id is required to assign a product to the contract",
    ),
    (
        1220,
        "data is required when the product is a bike/winter sports/water sports/event/small tool",
    ),
    (1221, "The products are invalid"),
    (1222, "product_type is required to create this contract"),
    (1223, "product_type is invalid"),
    (1224, "product_subtype is required to create this contract"),
    (1225, "product_subtype is invalid"),
    (1226, "value_excl is required to create this contract"),
    (1227, "value_excl must be positive"),
    (1228, "brand is required to create this contract"),
    (1229, "model is required to create this contract"),
    (1230, "value_excl must be less or equal to 15000"),
    (1300, "user_name is required to create this contract"),
    (1301, "product_marked is required to create this contract"),
    (1310, "user_name is required to create this contract"),
    (1311, "product_marked is required to create this contract"),
    (1320, "user_name is required to create this contract"),
    (1321, "product_marked is required to create this contract"),
    (1351, "The end_date cannot be in the past"),
    (1352, "The end_date cannot be in the future of the contract"),
    (1400, "A first_name is required to create this contract."),
    (1401, "A last_name is required to create this contract."),
    (1402, "An address is required to create this contract."),
    (1403, "A zipcode is required to create this contract."),
    (1404, "A city is required to create this contract."),
    (1405, "A phone_number is required to create this contract."),
    (1406, "A country is required to create this contract."),
    (1407, "The zipcode is invalid."),
    (1408, "The city is invalid."),
    (1409, "The country is invalid."),
    (1410, "The individual details are invalid."),
    (9001, "Missing API key"),
    (9002, "Invalid API key"),
    (9003, "Unauthorized user"),
    (98888, "You do not have permissions."),
    (
        99888,
        "The limit has been reached. You cannot perform this action. Please contact support.",
    ),
];

/// The vendor's message for `code`, or a neutral one for a code we do not list.
pub fn message(code: u32) -> &'static str {
    CODES
        .iter()
        .find(|(c, _)| *c == code)
        .map_or("bad request", |(_, m)| m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_listed_once_and_in_order() {
        for pair in CODES.windows(2) {
            assert!(pair[0].0 < pair[1].0, "{} before {}", pair[0].0, pair[1].0);
        }
        assert_eq!(message(1051), "The contract does not exist.");
        assert_eq!(message(4242), "bad request");
    }
}
