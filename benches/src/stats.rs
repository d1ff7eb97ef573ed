//! Order statistics over samples: the median reported everywhere, and the percentiles of the
//! timer-lateness scenario. Nearest-rank definition, no interpolation.

/// The `p`-th percentile (0 ≤ p ≤ 100) of `samples`, which it sorts. NaN for no samples.
pub fn percentile(samples: &mut [f64], p: f64) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    samples.sort_by(f64::total_cmp);
    let rank = (p / 100.0 * samples.len() as f64).ceil() as usize;
    samples[rank.clamp(1, samples.len()) - 1]
}

/// The median of `samples` (for an even count, the mean of the two middle ones).
pub fn median(samples: &mut [f64]) -> f64 {
    if samples.is_empty() {
        return f64::NAN;
    }
    samples.sort_by(f64::total_cmp);
    let mid = samples.len() / 2;
    if samples.len().is_multiple_of(2) {
        (samples[mid - 1] + samples[mid]) / 2.0
    } else {
        samples[mid]
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn nearest_rank() {
        let mut samples: Vec<f64> = (1..=100).rev().map(f64::from).collect();
        assert_eq!(super::percentile(&mut samples, 50.0), 50.0);
        assert_eq!(super::percentile(&mut samples, 99.0), 99.0);
        assert_eq!(super::median(&mut [3.0, 1.0, 2.0, 4.0]), 2.5);
    }
}
