//! Bounded work for the expensive models (whisper, piper, MiniLM): at most `workers`
//! jobs run at once, at most `queue` callers wait, and the rest are refused at once, so
//! a burst turns into quick 503s with Retry-After instead of slow timeouts.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A fixed number of worker slots with a bounded waiting line. Cheap to clone; clones
/// share the slots and the line.
#[derive(Debug, Clone)]
pub struct BoundedWorkers {
    slots: Arc<Semaphore>,
    waiting: Arc<AtomicUsize>,
    queue: usize,
}

/// The waiting line was full; the caller should answer 503 with Retry-After.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueFull {
    /// Callers already waiting when this one was refused.
    pub queued: usize,
}

impl BoundedWorkers {
    /// `workers` slots (at least one) and room for `queue` waiting callers.
    pub fn new(workers: usize, queue: usize) -> Self {
        BoundedWorkers {
            slots: Arc::new(Semaphore::new(workers.max(1))),
            waiting: Arc::new(AtomicUsize::new(0)),
            queue,
        }
    }

    /// A slot, once one is free; refused at once when `queue` callers already wait.
    /// Hold the permit for as long as the work runs (move it into `spawn_blocking`).
    pub async fn acquire(&self) -> Result<OwnedSemaphorePermit, QueueFull> {
        if let Ok(permit) = self.slots.clone().try_acquire_owned() {
            return Ok(permit);
        }
        let queued = self.waiting.fetch_add(1, Ordering::SeqCst);
        if queued >= self.queue {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(QueueFull { queued });
        }
        let permit = self.slots.clone().acquire_owned().await;
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        // The semaphore is never closed, so waiting can only end with a permit.
        permit.map_err(|_| QueueFull { queued })
    }

    /// A slot only if one is free now and nobody waits for one, for work worth doing
    /// only when a worker is idle (it never takes a slot from a queued caller).
    pub fn try_acquire(&self) -> Option<OwnedSemaphorePermit> {
        if self.waiting.load(Ordering::SeqCst) > 0 {
            return None;
        }
        self.slots.clone().try_acquire_owned().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn refuses_beyond_the_queue_and_admits_when_a_slot_frees() {
        let workers = BoundedWorkers::new(1, 1);
        let running = workers.acquire().await.unwrap();
        let waiter = tokio::spawn({
            let workers = workers.clone();
            async move { workers.acquire().await.map(drop) }
        });
        tokio::task::yield_now().await;
        while workers.waiting.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        assert_eq!(
            workers.acquire().await.unwrap_err(),
            QueueFull { queued: 1 }
        );
        drop(running);
        assert!(
            waiter.await.unwrap().is_ok(),
            "the waiting caller gets the freed slot"
        );
        assert!(workers.acquire().await.is_ok());
    }

    #[tokio::test]
    async fn idle_only_work_never_jumps_the_queue() {
        let workers = BoundedWorkers::new(1, 4);
        let running = workers.try_acquire().expect("a free worker is taken");
        assert!(workers.try_acquire().is_none(), "the only worker is busy");
        let waiter = tokio::spawn({
            let workers = workers.clone();
            async move { workers.acquire().await.map(drop) }
        });
        while workers.waiting.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        drop(running);
        assert!(
            workers.try_acquire().is_none(),
            "the freed worker goes to the caller who waited"
        );
        assert!(waiter.await.unwrap().is_ok());
        assert!(workers.try_acquire().is_some(), "idle again");
    }
}
