//! Liveness (`/healthz`) and readiness (`/readyz`) for probes, the launcher and the
//! kiosk. A service registers readiness checks ("models loaded", "catalog
//! reachable"); `/readyz` answers 200 only when all pass, else 503 with the report.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use protocol::health::{CheckResult, ReadinessReport};

/// A readiness check's outcome: `Err` says why it is not ready (no personal data).
pub type CheckOutcome = Result<(), String>;

type BoxedCheck = Arc<dyn Fn() -> Pin<Box<dyn Future<Output = CheckOutcome> + Send>> + Send + Sync>;

/// A check that takes longer than this counts as failed, so `/readyz` always answers
/// within a probe's timeout.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// The service's readiness checks. Cheap to clone; clones share the list, so checks
/// can be added after the server started.
#[derive(Clone, Default)]
pub struct Readiness {
    checks: Arc<RwLock<Vec<(String, BoxedCheck)>>>,
}

impl std::fmt::Debug for Readiness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<String> = self
            .checks
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(name, _)| name.clone())
            .collect();
        f.debug_struct("Readiness").field("checks", &names).finish()
    }
}

impl Readiness {
    /// No checks yet: ready.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers an async check, run on every `/readyz` (e.g. a ping of a
    /// dependency). `name` should be a stable snake_case label.
    pub fn add_check<F, Fut>(&self, name: impl Into<String>, check: F)
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = CheckOutcome> + Send + 'static,
    {
        let boxed: BoxedCheck = Arc::new(move || Box::pin(check()));
        self.checks
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .push((name.into(), boxed));
    }

    /// Registers a check that fails until the returned flag is set, for one-off
    /// start-up work such as loading models.
    pub fn add_flag(&self, name: impl Into<String>) -> ReadyFlag {
        let flag = ReadyFlag(Arc::new(AtomicBool::new(false)));
        let probe = flag.clone();
        self.add_check(name, move || {
            let ready = probe.is_ready();
            async move {
                if ready {
                    Ok(())
                } else {
                    Err("not ready yet".to_string())
                }
            }
        });
        flag
    }

    /// Runs every check concurrently (each bounded by a timeout) and reports.
    pub async fn report(&self) -> ReadinessReport {
        let checks: Vec<(String, BoxedCheck)> = self
            .checks
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        // Spawned so checks run in parallel and a panicking check fails alone.
        let running: Vec<_> = checks
            .into_iter()
            .map(|(name, check)| {
                (
                    name,
                    tokio::spawn(tokio::time::timeout(CHECK_TIMEOUT, check())),
                )
            })
            .collect();
        let mut results = Vec::with_capacity(running.len());
        for (name, handle) in running {
            let outcome = match handle.await {
                Ok(Ok(outcome)) => outcome,
                Ok(Err(_elapsed)) => Err(format!("timed out after {}s", CHECK_TIMEOUT.as_secs())),
                Err(_panicked) => Err("check panicked".to_string()),
            };
            results.push(CheckResult {
                name,
                ok: outcome.is_ok(),
                detail: outcome.err(),
            });
        }
        ReadinessReport::from_checks(results)
    }
}

/// Set once a start-up step is done; the matching readiness check then passes.
#[derive(Debug, Clone)]
pub struct ReadyFlag(Arc<AtomicBool>);

impl ReadyFlag {
    /// Marks the step done (or undone, e.g. while a model reloads).
    pub fn set(&self, ready: bool) {
        self.0.store(ready, Ordering::Release);
    }

    /// Whether the step is done.
    pub fn is_ready(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// `GET /healthz`: 200 while the process can answer at all.
pub async fn healthz() -> impl IntoResponse {
    (StatusCode::OK, Json(serde_json::json!({"status": "ok"})))
}

/// `GET /readyz`: 200 with the report when every check passes, 503 otherwise.
pub async fn readyz(State(readiness): State<Readiness>) -> impl IntoResponse {
    let report = readiness.report().await;
    let status = if report.is_ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(report))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn report_lists_each_check_and_follows_the_flag() {
        let readiness = Readiness::new();
        readiness.add_check("always", || async { Ok(()) });
        let models = readiness.add_flag("models_loaded");
        let report = readiness.report().await;
        assert!(!report.is_ready());
        assert_eq!(report.checks[0].name, "always");
        assert!(report.checks[0].ok);
        assert_eq!(report.checks[1].detail.as_deref(), Some("not ready yet"));
        models.set(true);
        assert!(readiness.report().await.is_ready());
    }
}
