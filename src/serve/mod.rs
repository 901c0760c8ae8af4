//! The continuous canary (`serve`): scenarios probed on a schedule, exposed as Prometheus
//! metrics. This module grows with issue 5; so far it holds the metrics registry.

pub mod metrics;
