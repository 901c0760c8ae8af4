//! Diagnosis: turning transport errors and responses into a small closed set of classes a
//! person (and an alert) can act on.

pub mod error_class;
pub mod hints;
pub mod scan;
pub mod sniff;
