//! The integration tests, in one test binary (one link instead of one per file): the client
//! against the simulator over loopback, the simulator against Okta's recorded traffic and its
//! OpenAPI description, the lifecycle engine end to end, and hostile servers and inputs.

mod common;

mod client_endpoints;
mod client_oauth;
mod client_partitioned;
mod client_resilience;
mod client_shared_budget;
mod client_shared_budget_pg;
mod client_wire;
mod hostile_server;
mod import_layers;
mod journal_postgres;
mod lifecycle_actions;
mod lifecycle_change_feed;
mod lifecycle_drift;
mod lifecycle_explorer;
mod lifecycle_incremental;
mod lifecycle_log_settle;
mod lifecycle_policy;
mod lifecycle_review;
mod lifecycle_scenario;
mod lifecycle_schema_roles;
mod lifecycle_soak;
mod lifecycle_source;
mod lifecycle_trust;
mod recordings;
mod simulator_groups;
mod simulator_limits;
mod simulator_logs;
mod simulator_replay;
mod simulator_schema_roles;
mod simulator_users;
mod store_postgres;
