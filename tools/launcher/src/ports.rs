//! Where each service listens and where its binary lives.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use protocol::Service;

/// A port setting that cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PortError {
    /// The environment variable is set but is not a port number.
    #[error("{var}={value:?} is not a port number (1-65535)")]
    InvalidEnv {
        /// The variable, e.g. `SHOP_VOICE__PORT`.
        var: String,
        /// What it was set to.
        value: String,
    },
}

/// The environment variable a service reads its port from, e.g. `SHOP_VOICE__PORT`
/// (the services' layered config maps `SHOP_<SECTION>__<KEY>`).
pub fn port_env_var(service: Service) -> String {
    format!("SHOP_{}__PORT", service.name().to_ascii_uppercase())
}

/// Resolves a service's port: the `SHOP_<SERVICE>__PORT` environment variable first,
/// then a `--port service=N` flag, then [`Service::default_port`].
///
/// The environment comes first because it is what the service itself reads: a port
/// set there is the one the service will use, so the launcher must poll that one.
/// `env` looks a variable up (the process environment, with env files behind it).
pub fn resolve_port(
    service: Service,
    env: impl Fn(&str) -> Option<String>,
    flags: &BTreeMap<Service, u16>,
) -> Result<u16, PortError> {
    let var = port_env_var(service);
    if let Some(value) = env(&var) {
        return match value.trim().parse::<u16>() {
            Ok(port) if port != 0 => Ok(port),
            _ => Err(PortError::InvalidEnv { var, value }),
        };
    }
    Ok(flags
        .get(&service)
        .copied()
        .unwrap_or_else(|| service.default_port()))
}

/// Where a service's binary is expected in `bin_dir` (the cargo target directory
/// the launcher itself was built into, by default).
pub fn binary_path(bin_dir: &Path, service: Service) -> PathBuf {
    bin_dir.join(format!(
        "{}{}",
        service.name(),
        std::env::consts::EXE_SUFFIX
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_then_flag_then_default() {
        let no_env = |_: &str| None;
        let mut flags = BTreeMap::new();
        assert_eq!(resolve_port(Service::Voice, no_env, &flags), Ok(8081));
        flags.insert(Service::Voice, 9001);
        assert_eq!(resolve_port(Service::Voice, no_env, &flags), Ok(9001));
        let env = |var: &str| (var == "SHOP_VOICE__PORT").then(|| "9002".to_string());
        assert_eq!(resolve_port(Service::Voice, env, &flags), Ok(9002));
        assert_eq!(resolve_port(Service::Kiosk, env, &flags), Ok(8080));
        let bad = |_: &str| Some("eighty".to_string());
        assert!(matches!(
            resolve_port(Service::Voice, bad, &flags),
            Err(PortError::InvalidEnv { .. })
        ));
    }
}
