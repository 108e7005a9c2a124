//! Which services are up: each one's `/readyz`, probed concurrently with a short
//! timeout, so the status page answers quickly however many services are down.
//!
//! These types belong in the `protocol` crate (the staff page and the launcher will
//! want them too); they live here only until the kiosk protocol issue moves them.

use std::time::Duration;

use protocol::Service;
use protocol::health::ReadinessReport;
use serde::{Deserialize, Serialize};
use service_kit::config::Config;
use service_kit::health::Readiness;

/// The longest one probe may take. Probes run concurrently, so this also bounds how
/// long the status page waits however many services hang.
pub const PROBE_TIMEOUT: Duration = Duration::from_millis(800);

/// The status of every service, in launch order ([`Service::ALL`]); the body of
/// `GET /api/status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemStatus {
    /// One entry per service, in [`Service::ALL`] order.
    pub services: Vec<ServiceStatus>,
}

impl SystemStatus {
    /// How many services are ready.
    pub fn ready_count(&self) -> usize {
        self.services
            .iter()
            .filter(|s| s.state == ServiceState::Ready)
            .count()
    }

    /// The entry for `service`, if present.
    pub fn get(&self, service: Service) -> Option<&ServiceStatus> {
        self.services.iter().find(|s| s.service == service)
    }
}

/// What the kiosk knows about one service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceStatus {
    /// Which service.
    pub service: Service,
    /// What it does, in a few words, for an operator who does not know the names.
    pub role: String,
    /// The base URL the kiosk reaches it at (its `/readyz` is probed there).
    pub url: String,
    /// What its `/readyz` said, or why it said nothing.
    #[serde(flatten)]
    pub state: ServiceState,
}

/// The outcome of probing one service's `/readyz`.
///
/// Serialised with a `state` tag, e.g. `{"state": "not_ready", "failing_checks":
/// ["models_loaded"]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ServiceState {
    /// `/readyz` answered 200 with every check passing.
    Ready,
    /// `/readyz` answered with a report in which some checks fail (usually 503 while
    /// models load or a dependency is missing).
    NotReady {
        /// Names of the failing checks, in the service's order, e.g. `models_loaded`.
        failing_checks: Vec<String>,
    },
    /// Nothing accepted the connection: the service is not started (or not built).
    NotRunning {
        /// Why the connection failed, e.g. `connection refused`.
        detail: String,
    },
    /// Something accepted the connection but gave no readiness report in time: the
    /// process may be stuck, or another program holds the port.
    NoAnswer {
        /// What happened instead, e.g. `no answer within 800 ms` or `HTTP 404`.
        detail: String,
    },
}

impl ServiceState {
    /// Short words for the page, e.g. `not ready`.
    pub fn label(&self) -> &'static str {
        match self {
            ServiceState::Ready => "ready",
            ServiceState::NotReady { .. } => "not ready",
            ServiceState::NotRunning { .. } => "not running",
            ServiceState::NoAnswer { .. } => "no answer",
        }
    }

    /// The snake_case tag also used in the JSON, for styling the page.
    pub fn tag(&self) -> &'static str {
        match self {
            ServiceState::Ready => "ready",
            ServiceState::NotReady { .. } => "not_ready",
            ServiceState::NotRunning { .. } => "not_running",
            ServiceState::NoAnswer { .. } => "no_answer",
        }
    }

    /// What an operator needs next to the label: the failing checks or the reason.
    pub fn detail(&self) -> String {
        match self {
            ServiceState::Ready => String::new(),
            ServiceState::NotReady { failing_checks } if failing_checks.is_empty() => {
                "reported not ready without naming a check".to_string()
            }
            ServiceState::NotReady { failing_checks } => {
                format!("failing: {}", failing_checks.join(", "))
            }
            ServiceState::NotRunning { detail } | ServiceState::NoAnswer { detail } => {
                detail.clone()
            }
        }
    }
}

/// What `service` does, in a few words.
pub fn role(service: Service) -> &'static str {
    match service {
        Service::Kiosk => "kiosk and staff pages, conversation",
        Service::Voice => "speech to text, text to speech",
        Service::Vision => "faces and garments from the camera",
        Service::Dialogue => "understanding and replying",
        Service::Catalog => "products, inventory, customers",
        Service::Tryon => "virtual try-on",
    }
}

/// The client used for probes. No proxy: services are reached on loopback or the
/// store's own network, and a proxy set in the environment for downloads must not
/// swallow (or slow down) these requests.
pub fn probe_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(PROBE_TIMEOUT)
        .timeout(PROBE_TIMEOUT)
        .build()
        // Only fails if the TLS back end cannot initialise; fall back to the default
        // client rather than refuse to show the page.
        .unwrap_or_else(|_| reqwest::Client::new())
}

/// Probes every service concurrently and reports in [`Service::ALL`] order. The kiosk
/// itself is not probed over HTTP: its own `readiness` (what its `/readyz` serves)
/// is asked directly.
pub async fn collect(
    config: &Config,
    client: &reqwest::Client,
    own: &Readiness,
    timeout: Duration,
) -> SystemStatus {
    // Spawned so the probes run in parallel: the page waits for the slowest probe,
    // not the sum of them.
    let running: Vec<_> = Service::ALL
        .into_iter()
        .map(|service| {
            let url = config.url_of(service);
            let client = client.clone();
            let own = own.clone();
            let probe_url = url.clone();
            let task = tokio::spawn(async move {
                let probe = async {
                    if service == Service::Kiosk {
                        state_of(&own.report().await)
                    } else {
                        probe(&client, &probe_url, timeout).await
                    }
                };
                tokio::time::timeout(timeout, probe)
                    .await
                    .unwrap_or_else(|_| no_answer_within(timeout))
            });
            (service, url, task)
        })
        .collect();
    let mut services = Vec::with_capacity(running.len());
    for (service, url, task) in running {
        let state = task.await.unwrap_or_else(|_| ServiceState::NoAnswer {
            detail: "the probe failed inside the kiosk".to_string(),
        });
        services.push(ServiceStatus {
            service,
            role: role(service).to_string(),
            url,
            state,
        });
    }
    SystemStatus { services }
}

/// Asks `GET {base_url}/readyz` and classifies the answer.
pub async fn probe(client: &reqwest::Client, base_url: &str, timeout: Duration) -> ServiceState {
    let response = match client
        .get(format!("{base_url}/readyz"))
        .timeout(timeout)
        .send()
        .await
    {
        Ok(response) => response,
        // Checked first: a connect that times out is a host that drops packets, not
        // a refused connection, and says so.
        Err(e) if e.is_timeout() => return no_answer_within(timeout),
        Err(e) if e.is_connect() => {
            return ServiceState::NotRunning {
                detail: connect_detail(&e),
            };
        }
        Err(e) => {
            return ServiceState::NoAnswer {
                detail: format!("request failed: {e}"),
            };
        }
    };
    let status = response.status();
    // `/readyz` sends its report with 200 and with 503; anything else is not a
    // service of ours answering.
    if status != reqwest::StatusCode::OK && status != reqwest::StatusCode::SERVICE_UNAVAILABLE {
        return ServiceState::NoAnswer {
            detail: format!("/readyz answered HTTP {}", status.as_u16()),
        };
    }
    match response.json::<ReadinessReport>().await {
        Ok(report) => state_of(&report),
        Err(e) if e.is_timeout() => no_answer_within(timeout),
        Err(_) => ServiceState::NoAnswer {
            detail: format!(
                "/readyz answered HTTP {} without a readiness report",
                status.as_u16()
            ),
        },
    }
}

fn state_of(report: &ReadinessReport) -> ServiceState {
    if report.is_ready() {
        ServiceState::Ready
    } else {
        ServiceState::NotReady {
            failing_checks: report
                .checks
                .iter()
                .filter(|c| !c.ok)
                .map(|c| c.name.clone())
                .collect(),
        }
    }
}

fn no_answer_within(timeout: Duration) -> ServiceState {
    ServiceState::NoAnswer {
        detail: format!("no answer within {} ms", timeout.as_millis()),
    }
}

/// The innermost cause of a connect error (e.g. `Connection refused (os error
/// 111)`), which is what an operator recognises; reqwest's own message only says
/// "error sending request".
fn connect_detail(error: &reqwest::Error) -> String {
    let mut source: &dyn std::error::Error = error;
    while let Some(next) = source.source() {
        source = next;
    }
    let text = source.to_string();
    if text.to_ascii_lowercase().contains("refused") {
        "connection refused".to_string()
    } else {
        format!("cannot connect: {text}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use protocol::health::CheckResult;

    #[test]
    fn the_state_is_tagged_and_flattened_in_json() {
        let status = ServiceStatus {
            service: Service::Catalog,
            role: role(Service::Catalog).to_string(),
            url: "http://127.0.0.1:8084".to_string(),
            state: ServiceState::NotReady {
                failing_checks: vec!["models_loaded".to_string()],
            },
        };
        let json = serde_json::to_value(&status).expect("serialise");
        assert_eq!(json["service"], "catalog");
        assert_eq!(json["state"], "not_ready");
        assert_eq!(json["failing_checks"][0], "models_loaded");
        let back: ServiceStatus = serde_json::from_value(json).expect("deserialise");
        assert_eq!(back, status);
    }

    #[test]
    fn only_failing_checks_are_named() {
        let report = ReadinessReport::from_checks(vec![
            CheckResult {
                name: "models_loaded".into(),
                ok: true,
                detail: None,
            },
            CheckResult {
                name: "catalog_reachable".into(),
                ok: false,
                detail: Some("connection refused".into()),
            },
        ]);
        let state = state_of(&report);
        assert_eq!(state.detail(), "failing: catalog_reachable");
        assert_eq!(state.label(), "not ready");
    }
}
