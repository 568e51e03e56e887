//! The forwarder's bounded queue: records wait here until a sink took them.

use std::collections::VecDeque;

use super::record::ForwardRecord;

/// Records waiting for a sink, oldest first, within a bound on count and
/// bytes. A push past the bound drops the oldest records and counts them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct Queue {
    records: VecDeque<ForwardRecord>,
    bytes: usize,
    max_records: usize,
    max_bytes: usize,
}

impl Queue {
    pub(super) fn new(max_records: usize, max_bytes: usize) -> Self {
        Self { records: VecDeque::new(), bytes: 0, max_records: max_records.max(1), max_bytes }
    }

    /// Appends `record`; returns how many old records were dropped to make
    /// room. A record larger than the whole bound still fits alone.
    pub(super) fn push(&mut self, record: ForwardRecord) -> u64 {
        let mut dropped = 0;
        self.bytes += record.weight();
        self.records.push_back(record);
        while self.records.len() > 1 && (self.records.len() > self.max_records || self.bytes > self.max_bytes)
        {
            if let Some(old) = self.records.pop_front() {
                self.bytes -= old.weight();
                dropped += 1;
            }
        }
        dropped
    }

    /// Puts records that a sink did not take back at the front, in order.
    /// They were in the queue before, so the bound is enforced again by
    /// dropping the oldest; returns how many.
    pub(super) fn unshift(&mut self, records: Vec<ForwardRecord>) -> u64 {
        for record in records.into_iter().rev() {
            self.bytes += record.weight();
            self.records.push_front(record);
        }
        let mut dropped = 0;
        while self.records.len() > 1 && (self.records.len() > self.max_records || self.bytes > self.max_bytes)
        {
            if let Some(old) = self.records.pop_front() {
                self.bytes -= old.weight();
                dropped += 1;
            }
        }
        dropped
    }

    /// Takes up to `count` records from the front.
    pub(super) fn take(&mut self, count: usize) -> Vec<ForwardRecord> {
        let count = count.min(self.records.len());
        let taken: Vec<_> = self.records.drain(..count).collect();
        self.bytes -= taken.iter().map(ForwardRecord::weight).sum::<usize>();
        taken
    }

    pub(super) fn len(&self) -> usize {
        self.records.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.records.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    fn record(n: u8) -> ForwardRecord {
        ForwardRecord::from_function(Bytes::from(vec![b'x'; usize::from(n)]))
    }

    #[test]
    fn the_oldest_records_are_dropped_past_the_bound() {
        let mut queue = Queue::new(2, usize::MAX);
        assert_eq!(queue.push(record(1)) + queue.push(record(2)), 0);
        assert_eq!(queue.push(record(3)), 1);
        assert_eq!(queue.take(5), vec![record(2), record(3)]);
        assert!(queue.is_empty());
    }

    #[test]
    fn the_byte_bound_counts_and_a_huge_record_still_fits_alone() {
        let one = record(10).weight();
        let mut queue = Queue::new(100, 2 * one);
        queue.push(record(10));
        queue.push(record(10));
        assert_eq!(queue.push(record(10)), 1);
        assert_eq!(queue.push(record(200)), 2);
        assert_eq!(queue.len(), 1);
        assert_eq!(queue.take(1), vec![record(200)]);
        assert_eq!(queue.bytes, 0);
    }

    #[test]
    fn records_put_back_keep_their_order() {
        let mut queue = Queue::new(3, usize::MAX);
        queue.push(record(1));
        queue.push(record(2));
        let taken = queue.take(1);
        queue.push(record(3));
        queue.push(record(4));
        assert_eq!(queue.unshift(taken), 1);
        assert_eq!(queue.take(3), vec![record(2), record(3), record(4)]);
    }
}
