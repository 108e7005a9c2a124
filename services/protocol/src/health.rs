//! The readiness report served by `/readyz` on every service, so the launcher, k3s
//! probes and the kiosk can tell which dependency is missing, not just that one is.

use serde::{Deserialize, Serialize};

/// Overall readiness: ready only when every check passes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReadyStatus {
    /// Every check passed; the service can take traffic.
    Ready,
    /// At least one check failed; probes should keep traffic away.
    NotReady,
}

/// The JSON body of `/readyz`, returned both with 200 and with 503.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadinessReport {
    /// Summary of all checks, so a probe need not read the list.
    pub status: ReadyStatus,
    /// One entry per registered check, in registration order, so an operator sees
    /// exactly which dependency is missing.
    pub checks: Vec<CheckResult>,
}

/// The outcome of one readiness check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResult {
    /// Stable name of the check, e.g. `models_loaded` or `catalog_reachable`.
    pub name: String,
    /// Whether the check passed.
    pub ok: bool,
    /// Why it failed (or a short note when it passed); never personal data.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl ReadinessReport {
    /// Builds a report whose status follows from the checks (ready only if all pass).
    pub fn from_checks(checks: Vec<CheckResult>) -> Self {
        let status = if checks.iter().all(|c| c.ok) {
            ReadyStatus::Ready
        } else {
            ReadyStatus::NotReady
        };
        Self { status, checks }
    }

    /// Whether the service is ready to take traffic.
    pub fn is_ready(&self) -> bool {
        self.status == ReadyStatus::Ready
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_failing_check_makes_the_report_not_ready() {
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
        assert!(!report.is_ready());
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["status"], "not_ready");
        assert_eq!(json["checks"][1]["detail"], "connection refused");
        assert!(json["checks"][0].get("detail").is_none());
        let back: ReadinessReport = serde_json::from_value(json).unwrap();
        assert_eq!(back, report);
    }

    #[test]
    fn no_checks_means_ready() {
        assert!(ReadinessReport::from_checks(vec![]).is_ready());
    }
}
