//! The `dialogue` service.

pub mod rules;
