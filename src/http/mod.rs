//! The transport: one HTTP client with authentication, the rate-limit governor, the retry
//! decision and `Link`-header pagination.

pub mod auth;
pub mod buckets;
mod client;
pub mod governor;
pub mod pages;
pub mod retry;

pub use client::{parse_next_link, ApiRequest, ApiResponse, OktaClient, MAX_BODY_BYTES};
pub use pages::ItemStream;
