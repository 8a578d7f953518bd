//! The transport: one HTTP client with authentication, the rate-limit governor, the retry
//! decision and `Link`-header pagination.

pub(crate) mod auth;
pub(crate) mod buckets;
mod budget;
mod client;
// Public because `OktaClient::governor_stats` returns `governor::GovernorStats` and the
// `headers` fuzz target drives `governor::plan_send` and `BucketState` directly.
pub mod governor;
pub mod pages;
mod response;
pub mod retry;
// Public for `SharedBudget`, which a Rust caller opens to share one org's budget. Unix (the
// package's platform): the store locks files with `flock` and reads `/proc` for live pids.
pub mod shared;

pub use client::{parse_next_link, record_writes, ApiRequest, ApiResponse, OktaClient, SentWrite};
pub use pages::ItemStream;
pub use response::MAX_BODY_BYTES;
