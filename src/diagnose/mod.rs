//! Diagnosis: turning transport errors and responses into a small closed set of classes a
//! person (and an alert) can act on.

pub mod derived_hint;
pub mod error_class;
pub mod export_hint;
pub mod hints;
pub mod identity;
pub mod pipeline_delta;
pub mod scan;
pub mod second_look;
pub mod sniff;
