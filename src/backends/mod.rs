//! One reader per backend API. Readers only read and judge: each call is one query that
//! answers "visible", "not yet", "retry" or "refused" (see `poll::Read`); polling, deadlines
//! and reporting live elsewhere.

pub mod client;
pub mod grafana;
pub mod loki;
pub mod prometheus;
pub mod self_metrics;
pub mod tempo;

pub use client::{QueryError, ReadClient};
