//! Which created contract belongs to which member job: by `transactionId`, never by
//! position.
//!
//! Seed 000 does not promise that a bulk answer keeps the request's order. Matching by
//! position would hand one customer another's contract, and the `proteger.contract.created`
//! webhook would carry it to the receiver. `transactionId`s are unique within a batch (the
//! API refuses a bulk request that repeats one, and the batcher never puts two waiting
//! contracts with the same one in one batch), so each created contract names its member.
//!
//! An answer that cannot be matched one to one (a missing, extra, unknown or repeated
//! `transactionId`) is a [`Mismatch`]: the caller records the raw answer and fails the batch
//! loudly. Nothing is guessed.

use std::collections::HashMap;

use super::super::types::{Contract, ContractRequest};
use crate::queue::JobId;

/// Why an answer cannot be matched to the members.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Mismatch {
    #[error("two members of the batch share transactionId `{0}`")]
    DuplicateSent(String),
    #[error("the answer repeats transactionId `{0}`")]
    DuplicateAnswered(String),
    #[error("the answer holds transactionId `{0}`, which the batch did not send")]
    Unknown(String),
    #[error("the answer has no contract for transactionId `{0}`")]
    Missing(String),
}

/// Pairs each member with its contract, in member order. `members` and `sent` are parallel
/// (member `i` sent `sent[i]`).
pub fn match_contracts(
    members: &[JobId],
    sent: &[ContractRequest],
    created: Vec<Contract>,
) -> Result<Vec<(JobId, Contract)>, Mismatch> {
    let mut wanted: HashMap<&str, usize> = HashMap::with_capacity(sent.len());
    for (i, contract) in sent.iter().enumerate() {
        if wanted.insert(&contract.transaction_id, i).is_some() {
            return Err(Mismatch::DuplicateSent(contract.transaction_id.clone()));
        }
    }
    let mut found: Vec<Option<Contract>> = vec![None; sent.len()];
    for contract in created {
        let Some(&i) = wanted.get(contract.transaction_id.as_str()) else {
            return Err(Mismatch::Unknown(contract.transaction_id));
        };
        if found[i].is_some() {
            return Err(Mismatch::DuplicateAnswered(contract.transaction_id));
        }
        found[i] = Some(contract);
    }
    members
        .iter()
        .zip(found)
        .zip(sent)
        .map(|((member, contract), request)| match contract {
            Some(contract) => Ok((*member, contract)),
            None => Err(Mismatch::Missing(request.transaction_id.clone())),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vendors::proteger::sandbox::sample_contract;

    fn created(transaction_id: &str, id: &str) -> Contract {
        serde_json::from_value(serde_json::json!({ "id": id, "transactionId": transaction_id }))
            .expect("contract")
    }

    #[test]
    fn a_reordered_answer_still_gives_each_member_its_own_contract() {
        let members = [JobId::new(), JobId::new(), JobId::new()];
        let sent = [
            sample_contract("a"),
            sample_contract("b"),
            sample_contract("c"),
        ];
        let answer = vec![created("c", "3"), created("a", "1"), created("b", "2")];
        let matched = match_contracts(&members, &sent, answer).expect("matched");
        let ids: Vec<(JobId, String)> = matched.into_iter().map(|(m, c)| (m, c.id)).collect();
        assert_eq!(
            ids,
            vec![
                (members[0], "1".into()),
                (members[1], "2".into()),
                (members[2], "3".into())
            ]
        );
    }

    #[test]
    fn an_answer_that_does_not_match_one_to_one_is_refused() {
        let members = [JobId::new(), JobId::new()];
        let sent = [sample_contract("a"), sample_contract("b")];
        let cases = [
            (vec![created("a", "1")], Mismatch::Missing("b".into())),
            (
                vec![created("a", "1"), created("b", "2"), created("x", "3")],
                Mismatch::Unknown("x".into()),
            ),
            (
                vec![created("a", "1"), created("a", "2")],
                Mismatch::DuplicateAnswered("a".into()),
            ),
        ];
        for (answer, expected) in cases {
            assert_eq!(match_contracts(&members, &sent, answer), Err(expected));
        }
        let twice = [sample_contract("a"), sample_contract("a")];
        assert_eq!(
            match_contracts(&members, &twice, vec![created("a", "1")]),
            Err(Mismatch::DuplicateSent("a".into()))
        );
    }
}
