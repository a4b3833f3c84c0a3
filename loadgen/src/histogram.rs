//! A latency histogram with log-linear buckets (about 1.5 % relative error), mergeable,
//! fixed size, no allocation per sample. Pure.

/// Linear sub-buckets per power of two (64 → at most 1/64 relative bucket width).
const SUB_BITS: u32 = 6;
const SUB: u64 = 1 << SUB_BITS;
/// Enough buckets for values up to 2^40 µs (12 days).
const BUCKETS: usize = (2 * SUB + (40 - SUB_BITS as u64) * SUB) as usize;

/// Latencies in microseconds.
#[derive(Clone, PartialEq, Eq)]
pub struct Histogram {
    counts: Box<[u64]>,
    count: u64,
    sum: u64,
    max: u64,
}

impl std::fmt::Debug for Histogram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Histogram")
            .field("count", &self.count)
            .field("max", &self.max)
            .finish()
    }
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: vec![0; BUCKETS].into_boxed_slice(),
            count: 0,
            sum: 0,
            max: 0,
        }
    }
}

fn index(v: u64) -> usize {
    if v < 2 * SUB {
        return v as usize;
    }
    let e = 63 - v.leading_zeros() - SUB_BITS; // v >> e is in [SUB, 2*SUB)
    let i = 2 * SUB + u64::from(e - 1) * SUB + ((v >> e) - SUB);
    (i as usize).min(BUCKETS - 1)
}

/// The largest value that falls in bucket `i`.
fn upper(i: usize) -> u64 {
    let i = i as u64;
    if i < 2 * SUB {
        return i;
    }
    let e = (i - 2 * SUB) / SUB + 1;
    let m = (i - 2 * SUB) % SUB + SUB;
    ((m + 1) << e) - 1
}

impl Histogram {
    pub fn record(&mut self, micros: u64) {
        self.counts[index(micros)] += 1;
        self.count += 1;
        self.sum = self.sum.saturating_add(micros);
        self.max = self.max.max(micros);
    }

    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a += b;
        }
        self.count += other.count;
        self.sum = self.sum.saturating_add(other.sum);
        self.max = self.max.max(other.max);
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    /// The value at percentile `p` (0–100], in µs: the upper edge of its bucket, never more
    /// than the largest value recorded. `None` when empty.
    pub fn percentile(&self, p: f64) -> Option<u64> {
        if self.count == 0 {
            return None;
        }
        let rank = ((p / 100.0) * self.count as f64).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Some(upper(i).min(self.max));
            }
        }
        Some(self.max)
    }

    pub fn mean(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum as f64 / self.count as f64)
    }

    pub fn max(&self) -> Option<u64> {
        (self.count > 0).then_some(self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_contiguous_and_tight() {
        let mut last_upper = None;
        for v in 0..200_000u64 {
            let i = index(v);
            assert!(upper(i) >= v, "upper({i}) < {v}");
            if let Some((li, lu)) = last_upper
                && li != i
            {
                assert_eq!(lu + 1, v, "buckets contiguous at {v}");
            }
            assert!(
                (upper(i) - v) as f64 <= v as f64 / 60.0 + 1.0,
                "bucket at {v} too wide"
            );
            last_upper = Some((i, upper(i)));
        }
        assert_eq!(index(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn percentiles_of_a_known_distribution() {
        let mut h = Histogram::default();
        assert_eq!(h.percentile(99.0), None);
        for v in 1..=10_000u64 {
            h.record(v * 10); // 10 µs … 100 ms, uniform
        }
        for (p, want) in [
            (50.0, 50_000.0),
            (95.0, 95_000.0),
            (99.0, 99_000.0),
            (100.0, 100_000.0),
        ] {
            let got = h.percentile(p).unwrap() as f64;
            assert!((got - want).abs() / want < 0.02, "p{p}: {got} vs {want}");
        }
        assert_eq!(h.max(), Some(100_000));
        assert!((h.mean().unwrap() - 50_005.0).abs() < 1.0);
    }

    #[test]
    fn merge_adds_counts() {
        let (mut a, mut b) = (Histogram::default(), Histogram::default());
        a.record(100);
        b.record(5_000);
        b.record(7);
        a.merge(&b);
        assert_eq!(a.count(), 3);
        assert_eq!(a.max(), Some(5_000));
        assert_eq!(a.percentile(1.0), Some(7));
        assert_eq!(a.percentile(100.0), Some(5_000));
    }
}
