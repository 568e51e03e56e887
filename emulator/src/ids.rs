//! Request ids and trace ids the emulator hands out: UUID-shaped, unique
//! within a run and unlikely to repeat across runs.

use std::time::{SystemTime, UNIX_EPOCH};

use lambda_sansio::RequestId;

pub(crate) struct IdSource {
    seed: u64,
    seq: u64,
}

/// SplitMix64: a fast, well-distributed mix of a counter.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl IdSource {
    pub(crate) fn new() -> Self {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        Self { seed: mix(nanos as u64 ^ u64::from(std::process::id()) << 32), seq: 0 }
    }

    pub(crate) fn next_seq(&mut self) -> u64 {
        self.seq += 1;
        self.seq
    }

    fn next_random(&mut self) -> u64 {
        let seq = self.next_seq();
        mix(self.seed ^ seq)
    }

    /// A version-4-shaped UUID.
    pub(crate) fn request_id(&mut self) -> RequestId {
        let (a, b) = (self.next_random(), self.next_random());
        let text = format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0x0fff,
            0x8000 | (b >> 48) & 0x3fff,
            b & 0xffff_ffff_ffff
        );
        // Hex digits and dashes are always a valid request id.
        RequestId::new(&text).unwrap_or_else(|_| RequestId::new("request").expect("constant id"))
    }

    /// An X-Ray trace header.
    pub(crate) fn trace_id(&mut self) -> String {
        let (a, b) = (self.next_random(), self.next_random());
        let secs = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        format!("Root=1-{secs:08x}-{:016x}{:08x};Parent={:016x};Sampled=1", a, b >> 32, mix(b))
    }
}
