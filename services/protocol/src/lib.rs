//! The one place where every type that crosses a process boundary is defined:
//! service APIs, the kiosk WebSocket protocol, events and errors.
//!
//! No service redefines another's types; a change here is a protocol change and
//! bumps [`PROTOCOL_VERSION`] when it is not backward compatible.

pub mod catalog;
pub mod dialogue;
pub mod error;
pub mod health;
pub mod kiosk;
pub mod service;
pub mod tryon;
pub mod vision;
/// The words customers use for garments and the canonical category/colour names that
/// appear in protocol fields; shared by catalog search, the dialogue's understanding and
/// vision's colour names.
pub mod vocabulary;
pub mod voice;

pub use error::ErrorBody;
pub use service::Service;

/// Version of the wire protocol spoken between services and with the kiosk page.
/// Carried in every kiosk WebSocket message so that a stale page is told to reload.
pub const PROTOCOL_VERSION: u32 = 1;
