//! Quantiles from histogram bucket counts, as Prometheus' `histogram_quantile` computes them:
//! find the bucket the rank falls in and interpolate linearly inside it. An estimate, exact
//! only to the bucket: the status page says so beside every figure.

/// The `q` quantile (0..=1) of observations counted in buckets with these upper `bounds`
/// (ascending, finite) and per-bucket `counts` (not cumulative; one more than `bounds`, the
/// last being the +Inf bucket). `None` when nothing was observed or `q` is not in 0..=1.
///
/// As in Prometheus: the first bucket starts at 0 (when its bound is positive), a rank in the
/// +Inf bucket answers the highest finite bound, and inside a bucket the observations are
/// taken to be spread evenly.
pub fn bucket_quantile(q: f64, bounds: &[f64], counts: &[u64]) -> Option<f64> {
    if !(0.0..=1.0).contains(&q) || counts.len() != bounds.len() + 1 || bounds.is_empty() {
        return None;
    }
    let total: u64 = counts.iter().sum();
    if total == 0 {
        return None;
    }
    let rank = q * total as f64;
    let mut below = 0u64;
    for (i, &n) in counts.iter().enumerate() {
        let cumulative = below + n;
        if cumulative as f64 >= rank && n > 0 || (i + 1 == counts.len()) {
            if i == bounds.len() {
                return bounds.last().copied();
            }
            let end = bounds[i];
            let start = if i == 0 {
                0.0_f64.min(end)
            } else {
                bounds[i - 1]
            };
            if i == 0 && end <= 0.0 {
                return Some(end);
            }
            let within = (rank - below as f64) / n as f64;
            return Some(start + (end - start) * within.clamp(0.0, 1.0));
        }
        below = cumulative;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: [f64; 4] = [0.1, 0.5, 1.0, 2.0];

    fn close(a: Option<f64>, b: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() < 1e-9)
    }

    #[test]
    fn interpolates_inside_the_bucket_the_rank_falls_in() {
        // 10 observations: 2 <= 0.1, 6 in (0.1, 0.5], 2 in (0.5, 1].
        let c = [2, 6, 2, 0, 0];
        // p50: rank 5, 3 into the 6 of (0.1, 0.5]: 0.1 + 0.4 * 3/6.
        assert!(close(bucket_quantile(0.5, &B, &c), 0.3));
        // p95: rank 9.5, 1.5 into the 2 of (0.5, 1]: 0.5 + 0.5 * 0.75.
        assert!(close(bucket_quantile(0.95, &B, &c), 0.875));
        // The first bucket starts at 0.
        assert!(close(bucket_quantile(0.1, &B, &c), 0.05));
        assert!(close(bucket_quantile(1.0, &B, &c), 1.0));
        assert!(close(bucket_quantile(0.0, &B, &c), 0.0));
    }

    #[test]
    fn the_inf_bucket_answers_the_highest_finite_bound() {
        let c = [0, 0, 0, 1, 9];
        assert!(close(bucket_quantile(0.5, &B, &c), 2.0));
        assert!(close(bucket_quantile(0.05, &B, &c), 1.5));
    }

    #[test]
    fn empty_buckets_between_do_not_pull_the_answer() {
        // One fast and one slow observation: the median sits at the top of the first bucket,
        // not inside the empty ones.
        let c = [1, 0, 0, 1, 0];
        assert!(close(bucket_quantile(0.5, &B, &c), 0.1));
        assert!(close(bucket_quantile(0.75, &B, &c), 1.5));
    }

    #[test]
    fn nothing_observed_or_a_bad_q_has_no_answer() {
        assert_eq!(bucket_quantile(0.5, &B, &[0; 5]), None);
        assert_eq!(bucket_quantile(1.5, &B, &[1; 5]), None);
        assert_eq!(bucket_quantile(f64::NAN, &B, &[1; 5]), None);
        assert_eq!(
            bucket_quantile(0.5, &B, &[1; 4]),
            None,
            "counts must match bounds"
        );
    }
}
