//! What the kiosk's browser test needs besides the services: the browser itself
//! ([`driver`]) and the camera and microphone it is given ([`media`]).

pub mod driver;
pub mod media;
