//! The services of the assistant, their default ports and binary names.

use serde::{Deserialize, Serialize};

/// One service of the assistant. Each is its own crate, binary and process
/// (whisper.cpp and llama.cpp cannot share a binary), and its own Deployment on k3s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Service {
    /// The only public face: kiosk page, staff page, conversation orchestration.
    Kiosk,
    /// Speech to text and text to speech.
    Voice,
    /// Faces and garments seen by the camera.
    Vision,
    /// Understanding and replying, grounded in the catalogue.
    Dialogue,
    /// The only owner of the vector store: products, inventory, customers.
    Catalog,
    /// Virtual try-on and garment image generation.
    Tryon,
}

impl Service {
    /// Every service, in the order the launcher starts them: dependencies first,
    /// the kiosk (which calls all others) last.
    pub const ALL: [Service; 6] = [
        Service::Catalog,
        Service::Voice,
        Service::Vision,
        Service::Dialogue,
        Service::Tryon,
        Service::Kiosk,
    ];

    /// The service's name as used in config sections, logs, metrics and binaries.
    pub fn name(self) -> &'static str {
        match self {
            Service::Kiosk => "kiosk",
            Service::Voice => "voice",
            Service::Vision => "vision",
            Service::Dialogue => "dialogue",
            Service::Catalog => "catalog",
            Service::Tryon => "tryon",
        }
    }

    /// The loopback port the service listens on by default, the same in every mode.
    pub fn default_port(self) -> u16 {
        match self {
            Service::Kiosk => 8080,
            Service::Voice => 8081,
            Service::Vision => 8082,
            Service::Dialogue => 8083,
            Service::Catalog => 8084,
            Service::Tryon => 8085,
        }
    }
}

impl std::fmt::Display for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Service {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Service::ALL
            .into_iter()
            .find(|service| service.name() == s)
            .ok_or_else(|| {
                let names: Vec<_> = Service::ALL.iter().map(|s| s.name()).collect();
                format!(
                    "unknown service {s:?}; expected one of {}",
                    names.join(", ")
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_distinct_and_names_round_trip() {
        let mut ports: Vec<_> = Service::ALL.iter().map(|s| s.default_port()).collect();
        ports.sort_unstable();
        ports.dedup();
        assert_eq!(ports.len(), Service::ALL.len());
        for service in Service::ALL {
            assert_eq!(service.name().parse::<Service>(), Ok(service));
        }
        assert!("mirror".parse::<Service>().unwrap_err().contains("kiosk"));
    }
}
