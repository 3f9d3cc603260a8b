//! etcd as the [`KeySource`] of the tree lister: keys-only ranges and
//! batched `count_only` reads.

use etcd_client::{GetOptions, Txn, TxnOp, TxnOpResponse};

use super::{EtcdError, EtcdSession, Retry};
use crate::tree::{End, KeySource, RangeKeys, RangeRead};

/// etcd's default `--max-txn-ops`: the most reads one transaction may hold.
const MAX_TXN_OPS: usize = 128;

impl KeySource for EtcdSession {
    type Error = EtcdError;

    async fn range_keys(&self, read: RangeRead) -> Result<RangeKeys, EtcdError> {
        let options = EtcdSession::range_options(&read.end, Some(read.limit), read.revision);
        let response = self.get(read.start, Some(options)).await?;
        Ok(RangeKeys {
            revision: response.header().map_or(0, |h| h.revision()),
            more: response.more(),
            keys: response.kvs().iter().map(|kv| kv.key().to_vec()).collect(),
        })
    }

    async fn count_ranges(
        &self,
        ranges: Vec<(Vec<u8>, End)>,
        revision: i64,
    ) -> Result<Vec<u64>, EtcdError> {
        let mut counts = Vec::with_capacity(ranges.len());
        for chunk in ranges.chunks(MAX_TXN_OPS) {
            let ops = chunk
                .iter()
                .map(|(start, end)| {
                    let options = GetOptions::new()
                        .with_count_only()
                        .with_range(end.clone().unwrap_or_else(|| vec![0]))
                        .with_revision(revision);
                    TxnOp::get(start.clone(), Some(options))
                })
                .collect::<Vec<_>>();
            let txn = Txn::new().and_then(ops);
            let txn = &txn;
            let response = self
                .call(Retry::Always, |mut client| async move {
                    client.txn(txn.clone()).await
                })
                .await?;
            for op in response.op_responses() {
                match op {
                    TxnOpResponse::Get(get) => counts.push(get.count().max(0) as u64),
                    other => {
                        return Err(EtcdError::Other(format!(
                            "unexpected transaction answer {other:?}"
                        )));
                    }
                }
            }
        }
        Ok(counts)
    }
}
