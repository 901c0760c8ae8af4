//! What the lab's PromQL and LogQL metric queries share once samples are computed: vector
//! aggregation (`sum`, `count`, `min`, `max`, `avg`, optionally `by (labels)`) and comparison
//! with a number, with Prometheus' semantics (an aggregation drops the metric name and every
//! label not grouped by; a comparison without `bool` filters).

use std::collections::BTreeMap;

/// A series' labels.
pub type Labels = BTreeMap<String, String>;

/// `==`, `!=`, `>`, `<`, `>=`, `<=`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    Eq,
    Ne,
    Gt,
    Lt,
    Ge,
    Le,
}

impl CmpOp {
    pub fn holds(self, a: f64, b: f64) -> bool {
        match self {
            CmpOp::Eq => a == b,
            CmpOp::Ne => a != b,
            CmpOp::Gt => a > b,
            CmpOp::Lt => a < b,
            CmpOp::Ge => a >= b,
            CmpOp::Le => a <= b,
        }
    }

    /// The operator written as a query token (`==`, `>=`, …), if it is one.
    pub fn from_token(t: &str) -> Option<CmpOp> {
        Some(match t {
            "==" => CmpOp::Eq,
            "!=" => CmpOp::Ne,
            ">" => CmpOp::Gt,
            "<" => CmpOp::Lt,
            ">=" => CmpOp::Ge,
            "<=" => CmpOp::Le,
            _ => return None,
        })
    }
}

/// A comparison with a number. Without `bool` it filters (keeping the metric name, as
/// Prometheus does for comparisons); with `bool` it keeps every series, drops the name and
/// yields 1 or 0.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Comparison {
    pub op: CmpOp,
    pub bool_mode: bool,
    pub rhs: f64,
}

impl Comparison {
    pub fn apply(&self, series: Vec<(Labels, f64)>) -> Vec<(Labels, f64)> {
        series
            .into_iter()
            .filter_map(|(mut labels, v)| {
                let holds = self.op.holds(v, self.rhs);
                if self.bool_mode {
                    labels.remove("__name__");
                    Some((labels, if holds { 1.0 } else { 0.0 }))
                } else {
                    holds.then_some((labels, v))
                }
            })
            .collect()
    }
}

/// An aggregation operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AggOp {
    Sum,
    Count,
    Min,
    Max,
    Avg,
}

impl AggOp {
    pub fn from_name(name: &str) -> Option<AggOp> {
        Some(match name {
            "sum" => AggOp::Sum,
            "count" => AggOp::Count,
            "min" => AggOp::Min,
            "max" => AggOp::Max,
            "avg" => AggOp::Avg,
            _ => return None,
        })
    }
}

/// `op [by (labels)] (…)`: `by` is `None` for an aggregation over everything.
#[derive(Clone, Debug, PartialEq)]
pub struct Aggregation {
    pub op: AggOp,
    pub by: Option<Vec<String>>,
}

impl Aggregation {
    /// Aggregates `series` into one output series per group. An empty input gives an empty
    /// output (`sum(nothing)` is no series, not 0), as in Prometheus and Loki.
    pub fn apply(&self, series: Vec<(Labels, f64)>) -> Vec<(Labels, f64)> {
        let mut groups: BTreeMap<Labels, Vec<f64>> = BTreeMap::new();
        for (labels, v) in series {
            let key: Labels = match &self.by {
                None => Labels::new(),
                Some(names) => labels
                    .into_iter()
                    .filter(|(k, _)| names.contains(k))
                    .collect(),
            };
            groups.entry(key).or_default().push(v);
        }
        groups
            .into_iter()
            .map(|(labels, values)| {
                let n = values.len() as f64;
                let v = match self.op {
                    AggOp::Sum => values.iter().sum(),
                    AggOp::Count => n,
                    AggOp::Min => values.iter().copied().fold(f64::INFINITY, f64::min),
                    AggOp::Max => values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
                    AggOp::Avg => values.iter().sum::<f64>() / n,
                };
                (labels, v)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn aggregations_group_and_drop_labels() {
        let input = vec![
            (
                l(&[("__name__", "c"), ("service", "a"), ("kind", "x")]),
                2.0,
            ),
            (
                l(&[("__name__", "c"), ("service", "a"), ("kind", "y")]),
                3.0,
            ),
            (
                l(&[("__name__", "c"), ("service", "b"), ("kind", "x")]),
                5.0,
            ),
        ];
        let sum = Aggregation {
            op: AggOp::Sum,
            by: None,
        };
        assert_eq!(sum.apply(input.clone()), vec![(Labels::new(), 10.0)]);
        let count_by = Aggregation {
            op: AggOp::Count,
            by: Some(vec!["service".into()]),
        };
        assert_eq!(
            count_by.apply(input.clone()),
            vec![(l(&[("service", "a")]), 2.0), (l(&[("service", "b")]), 1.0)]
        );
        let max = Aggregation {
            op: AggOp::Max,
            by: None,
        };
        assert_eq!(max.apply(input.clone())[0].1, 5.0);
        let avg = Aggregation {
            op: AggOp::Avg,
            by: None,
        };
        assert!((avg.apply(input)[0].1 - 10.0 / 3.0).abs() < 1e-12);
        assert!(
            sum.apply(Vec::new()).is_empty(),
            "sum of nothing is nothing"
        );
    }

    #[test]
    fn comparisons_filter_or_answer_bool() {
        let input = vec![
            (l(&[("__name__", "up")]), 0.0),
            (l(&[("__name__", "x")]), 2.0),
        ];
        let gt = Comparison {
            op: CmpOp::Gt,
            bool_mode: false,
            rhs: 1.0,
        };
        assert_eq!(gt.apply(input.clone()).len(), 1);
        let b = Comparison {
            bool_mode: true,
            ..gt
        };
        let out = b.apply(input);
        assert_eq!(out.len(), 2);
        assert!(out.iter().all(|(l, _)| !l.contains_key("__name__")));
        assert_eq!(CmpOp::from_token(">="), Some(CmpOp::Ge));
        assert_eq!(CmpOp::from_token("=~"), None);
    }
}
