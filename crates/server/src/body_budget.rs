//! How many request-body bytes all requests in flight may hold at once. Each body is read
//! whole (at most `KOSH_MAX_BODY_BYTES`) and parsed before its handler runs, so without a
//! bound on the sum, as many clients as send large bodies at once would each hold one: 500
//! connections sending a megabyte each are half a gigabyte. A request reserves its
//! `Content-Length` (or, sent in chunks, the most a body may be) before its body is read, and
//! holds it until it is answered; one that does not fit waits, its body unread in the socket.

use axum::http::{HeaderMap, header};
use tokio::sync::{Semaphore, SemaphorePermit};

/// The bytes of request bodies held at once: 16 MiB. A body parsed into JSON takes a few
/// times its size, so this keeps bodies in flight to some tens of megabytes at worst, while
/// 16 full-size (1 MiB) bodies, or thousands of a few kilobytes (a payment or a fetch), go
/// through together. Never less than one body of the largest size.
pub const BODY_BYTES_IN_FLIGHT: usize = 16 << 20;

/// Reservations are counted in KiB, so that the budget fits a semaphore's permits.
const UNIT: usize = 1024;

#[derive(Debug)]
pub struct BodyBudget {
    permits: Semaphore,
    max_body_bytes: usize,
}

impl BodyBudget {
    /// A budget of [`BODY_BYTES_IN_FLIGHT`] (or one body of `max_body_bytes`, if larger).
    pub fn new(max_body_bytes: usize) -> BodyBudget {
        let total = units(BODY_BYTES_IN_FLIGHT.max(max_body_bytes));
        BodyBudget {
            permits: Semaphore::new(total),
            max_body_bytes,
        }
    }

    /// The units a request with these headers reserves: its declared length, else the most a
    /// body may be; at least one unit.
    fn units_for(&self, headers: &HeaderMap) -> u32 {
        let declared = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<usize>().ok());
        let bytes = declared.map_or(self.max_body_bytes, |n| n.min(self.max_body_bytes));
        u32::try_from(units(bytes).max(1)).unwrap_or(u32::MAX)
    }

    /// Waits until the request's body fits, and holds its share until the permit is dropped.
    /// (The share is taken from `headers` at once, so the request may move on meanwhile.)
    pub fn reserve(
        &self,
        headers: &HeaderMap,
    ) -> impl std::future::Future<Output = SemaphorePermit<'_>> + '_ {
        let units = self.units_for(headers);
        async move {
            self.permits
                .acquire_many(units)
                .await
                .expect("the budget's semaphore is never closed")
        }
    }

    /// KiB still free, for tests and metrics.
    pub fn available_kib(&self) -> usize {
        self.permits.available_permits()
    }
}

fn units(bytes: usize) -> usize {
    bytes.div_ceil(UNIT)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sized(n: usize) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_LENGTH, n.into());
        h
    }

    #[tokio::test]
    async fn bodies_in_flight_stay_within_the_budget() {
        let budget = BodyBudget::new(1 << 20);
        let total = budget.available_kib();
        assert_eq!(total, BODY_BYTES_IN_FLIGHT / UNIT);
        // Chunked bodies (no length) reserve the largest size: sixteen fit, the next waits.
        let mut held = Vec::new();
        for _ in 0..BODY_BYTES_IN_FLIGHT / (1 << 20) {
            held.push(budget.reserve(&HeaderMap::new()).await);
        }
        assert_eq!(budget.available_kib(), 0);
        let waiting = budget.reserve(&sized(2_000));
        tokio::pin!(waiting);
        assert!(
            futures_poll_once(waiting.as_mut()).await.is_none(),
            "a request past the budget must wait"
        );
        held.pop();
        let small = waiting.await;
        assert_eq!(budget.available_kib(), 1024 - 2);
        drop(small);
        drop(held);
        assert_eq!(budget.available_kib(), total);
        // A declared length beyond the largest body reserves only the largest.
        assert_eq!(budget.units_for(&sized(usize::MAX)), 1024);
        assert_eq!(budget.units_for(&sized(0)), 1);
    }

    #[test]
    fn one_body_of_the_largest_size_always_fits() {
        let budget = BodyBudget::new(64 << 20);
        assert_eq!(budget.available_kib(), (64 << 20) / UNIT);
    }

    /// Polls `f` once: its output if it is ready at once.
    async fn futures_poll_once<F: std::future::Future + Unpin>(f: F) -> Option<F::Output> {
        let mut f = f;
        std::future::poll_fn(|cx| {
            std::task::Poll::Ready(match std::pin::Pin::new(&mut f).poll(cx) {
                std::task::Poll::Ready(v) => Some(v),
                std::task::Poll::Pending => None,
            })
        })
        .await
    }
}
