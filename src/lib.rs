//! okta-lifecycle: Okta identity lifecycle management.
//!
//! The crate is layered so that a reader knows from a module's folder what it may touch:
//!
//! * [`http`] — the transport: one HTTP client, authentication (SSWS, OAuth 2.0
//!   `private_key_jwt`, DPoP), the rate-limit [`http::governor`], the pure retry decision and
//!   `Link`-header pagination as a lazy stream.
//! * [`okta`] — typed endpoints and models for users, groups and sessions.
//! * [`scim`] — the SCIM filter language (parse, build with safe escaping, evaluate), shared by
//!   the client, the simulator and policy conditions.
//! * `simulator` (feature `simulator`) — an offline Okta org served over loopback.
//!
//! Secrets (API tokens, private keys, access tokens, reset URLs) are held in
//! [`secret::SecretString`], which never prints its content.
//!
//! The lint policy (`unsafe_code` forbidden, among others) is recorded in `Cargo.toml`'s
//! `[lints]` table.

pub mod config;
pub mod error;
pub mod http;
pub mod input;
// Public only because the integration tests (tests/integration/client_oauth.rs) load a key with
// `okta_lifecycle::jose::SigningKey` to register its public JWK with the simulator.
pub mod jose;
pub mod lifecycle;
pub mod okta;
pub mod paths;
pub mod pg;
#[cfg(feature = "python")]
mod python;
pub mod scim;
pub mod secret;
#[cfg(feature = "simulator")]
pub mod simulator;

pub use config::{BudgetSharing, ClientConfig, Credentials};
pub use error::{Error, ErrorKind, OktaApiError, Result};
pub use http::OktaClient;
pub use okta::{Group, GroupType, User, UserStatus};
pub use secret::SecretString;
