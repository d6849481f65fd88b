//! Rate limits on sign-in and on every command: per client address and
//! per credential (the bearer token), each a token bucket (`governor`, the
//! crate under `tower_governor`), answered with 429 `rate_limited` and
//! `Retry-After`. Reads are not limited.
//!
//! Why both keys: one address may front many callers (a portal back end
//! behind one egress), and one leaked token may be used from many
//! addresses; a limit on either alone leaves the other open. Why only
//! writes: a command appends to the one log every tenant shares, and a
//! sign-in costs an argon2 hash; reads are served from read models and
//! paged.
//!
//! Configured in one place: `serve --rate-per-second N --rate-burst B`
//! (`PORTAL_LEDGER_RATE_PER_SECOND`, `PORTAL_LEDGER_RATE_BURST`); the
//! limiters live in this process (several replicas each allow the quota).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use sha2::{Digest, Sha256};

use crate::http::error::ApiError;
use crate::http::AppState;

/// How many commands (and sign-ins) a second, and how many at once, each
/// address and each credential may send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    pub per_second: u32,
    pub burst: u32,
}

/// The limiters of one process.
pub struct Limiters {
    address: DefaultKeyedRateLimiter<IpAddr>,
    credential: DefaultKeyedRateLimiter<[u8; 32]>,
    clock: DefaultClock,
}

/// `None`: no limits (tests that are not about them).
pub type SharedLimiters = Option<Arc<Limiters>>;

impl Limiters {
    pub fn new(limits: RateLimits) -> SharedLimiters {
        let per_second = NonZeroU32::new(limits.per_second)?;
        let burst = NonZeroU32::new(limits.burst.max(1)).unwrap_or(per_second);
        let quota = Quota::per_second(per_second).allow_burst(burst);
        Some(Arc::new(Limiters {
            address: RateLimiter::keyed(quota),
            credential: RateLimiter::keyed(quota),
            clock: DefaultClock::default(),
        }))
    }

    /// `Err(seconds to wait)` when either key is over its quota.
    fn check(&self, address: IpAddr, credential: Option<[u8; 32]>) -> Result<(), u64> {
        let wait = |not_until: governor::NotUntil<_>| {
            not_until
                .wait_time_from(self.clock.now())
                .as_secs_f64()
                .ceil()
                .max(1.0) as u64
        };
        self.address.check_key(&address).map_err(wait)?;
        if let Some(credential) = credential {
            self.credential.check_key(&credential).map_err(wait)?;
        }
        Ok(())
    }
}

/// The middleware, on every route's own methods: commands and sign-in.
pub async fn limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some(limiters) = state.rate_limits.as_ref() else {
        return next.run(request).await;
    };
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) {
        return next.run(request).await;
    }
    let address = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
    let credential = request
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| Sha256::digest(v.as_bytes()).into());
    match limiters.check(address, credential) {
        Ok(()) => next.run(request).await,
        Err(seconds) => ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("too many requests from this address or credential; retry in {seconds} s"),
        )
        .retry_after(seconds)
        .into_response(),
    }
}
