//! Small, fast, seedable random numbers for picking ids: a load generator
//! needs speed and reproducibility, not cryptographic quality.

/// SplitMix64: one multiply-xorshift round per number.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn seeded(seed: u64) -> Self {
        Rng(seed)
    }

    /// Seeded from the operating system, for runs that need no replay.
    pub fn from_entropy() -> Self {
        let mut bytes = [0u8; 8];
        // Without entropy a fixed seed is still a fine load pattern.
        let _ = getrandom::fill(&mut bytes);
        Rng(u64::from_le_bytes(bytes))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [0, n); 0 when n is 0.
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        // Multiply-shift: unbiased enough for picking among ids.
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }

    pub fn chance(&mut self, probability: f64) -> bool {
        self.unit() < probability
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        items.get(self.below(items.len()))
    }
}

/// A Zipf (discrete Pareto) distribution over ranks 0..n: rank r is drawn
/// with weight 1/(r+1)^s, so the first few ranks take a large share, as a
/// few very large partners do in the real channel.
#[derive(Clone, Debug)]
pub struct Skewed {
    cumulative: Vec<f64>,
}

impl Skewed {
    pub fn new(n: usize, exponent: f64) -> Self {
        let mut total = 0.0;
        let cumulative = (0..n)
            .map(|rank| {
                total += 1.0 / ((rank + 1) as f64).powf(exponent);
                total
            })
            .collect();
        Skewed { cumulative }
    }

    /// A rank in 0..n (0 when n is 0).
    pub fn sample(&self, rng: &mut Rng) -> usize {
        let Some(total) = self.cumulative.last() else {
            return 0;
        };
        let target = rng.unit() * total;
        self.cumulative
            .partition_point(|&bound| bound <= target)
            .min(self.cumulative.len() - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn below_stays_in_range_and_covers_it() {
        let mut rng = Rng::seeded(7);
        let mut seen = [0u32; 5];
        for _ in 0..10_000 {
            seen[rng.below(5)] += 1;
        }
        assert!(seen.iter().all(|&count| (1800..2200).contains(&count)), "{seen:?}");
        assert_eq!(rng.below(0), 0);
    }

    #[test]
    fn skewed_favours_the_first_ranks() {
        let skewed = Skewed::new(100, 1.2);
        let mut rng = Rng::seeded(1);
        let mut counts = vec![0u32; 100];
        for _ in 0..100_000 {
            counts[skewed.sample(&mut rng)] += 1;
        }
        // Rank 0 has weight 1 of a total near 3.9: about a quarter.
        assert!((22_000..30_000).contains(&counts[0]), "{}", counts[0]);
        assert!(counts[0] > 2 * counts[1] && counts[1] > counts[10] && counts[99] > 0);
    }
}
