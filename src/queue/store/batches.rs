//! Batch jobs: several member jobs carried by one job of a batch kind.
//!
//! The batcher (`batcher.rs`) reads member jobs off their kind's stream and forms a batch
//! of them, stored with its members before any vendor call, so that every retry sends the
//! same members; the batch's answer settles every member with it (`settle.rs`). When the
//! vendor refuses a whole batch for a reason that may concern only one member, the batch
//! is split into one batch per member, so that one bad member cannot sink the others. Both
//! steps happen once: replayed after a crash, they create nothing new.

use super::handle::Store;
use crate::queue::clock::now_ms;
use crate::queue::error::QueueError;
use crate::queue::id::JobId;
use crate::queue::keys::GROUP;
use crate::queue::scripts::SCRIPTS;

impl Store {
    /// Forms a batch job of `batch_kind` from member jobs read from `member_kind`'s stream.
    /// Returns the number of members that joined the batch (0: no batch was created).
    pub async fn form_batch(
        &self,
        member_kind: &str,
        batch_kind: &str,
        batch_id: &JobId,
        members: &[(JobId, String)],
    ) -> Result<usize, QueueError> {
        let mut invocation = SCRIPTS.form_batch.prepare_invoke();
        invocation
            .key(self.keys.state_keys())
            .key(self.keys.job(batch_id))
            .key(self.keys.stream(batch_kind))
            .key(self.keys.kinds())
            .key(self.keys.stream(member_kind))
            .arg(now_ms())
            .arg(batch_id.to_string())
            .arg(batch_kind)
            .arg(GROUP);
        for (id, entry) in members {
            invocation
                .key(self.keys.job(id))
                .arg(id.to_string())
                .arg(entry);
        }
        let mut conn = self.conn.clone();
        Ok(invocation.invoke_async(&mut conn).await?)
    }

    /// Splits batch `parent` of `batch_kind` into one batch per member (see
    /// `split_batch.lua`). Returns the new batch ids, one per member, in member order.
    pub async fn split_batch(
        &self,
        batch_kind: &str,
        parent: &JobId,
        members: &[JobId],
    ) -> Result<Vec<JobId>, QueueError> {
        let batches: Vec<JobId> = (0..members.len())
            .map(|i| JobId::derived(parent, i))
            .collect();
        let mut invocation = SCRIPTS.split_batch.prepare_invoke();
        invocation
            .key(self.keys.state_keys())
            .key(self.keys.kinds())
            .key(self.keys.stream(batch_kind))
            .arg(now_ms())
            .arg(parent.to_string())
            .arg(batch_kind);
        for (batch, member) in batches.iter().zip(members) {
            invocation
                .key(self.keys.job(batch))
                .key(self.keys.job(member))
                .arg(batch.to_string())
                .arg(member.to_string());
        }
        let mut conn = self.conn.clone();
        let _moved: u64 = invocation.invoke_async(&mut conn).await?;
        Ok(batches)
    }
}
