//! The `dialogue` service.
