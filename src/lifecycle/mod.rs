//! The lifecycle engine: the six Okta actions, policies, plans (dry runs), safe apply and the
//! audit journal.
//!
//! The flow: a [`policy::Policy`] and identity [`record::IdentityRecord`]s are planned against
//! the org ([`planner::plan`]) into a [`plan::Plan`] that lists exactly the API changes to make;
//! [`apply::apply`] makes them in dependency order and records each one in the
//! [`journal::Journal`], so that an interrupted run resumes without repeating work.

pub mod actions;
pub mod apply;
pub mod direct;
pub mod drift;
pub mod effects;
pub mod incremental;
pub mod journal;
pub mod plan;
pub mod planner;
pub mod policy;
pub mod record;
pub mod state;
pub mod transform;

pub use apply::{apply, ApplyOptions, Report};
pub use journal::Journal;
pub use plan::Plan;
pub use planner::plan;
pub use policy::Policy;

/// The engine's futures must be `Send` so that the Python bindings can run them on the shared
/// runtime; this fails to compile if one stops being so.
#[allow(dead_code)]
fn engine_futures_are_send(client: crate::http::OktaClient, policy: Policy, journal: Journal, plan: Plan) {
    fn assert_send<T: Send>(_: T) {}
    assert_send(async move {
        let records: Vec<record::IdentityRecord> = Vec::new();
        let _ = planner::plan(&client, &policy, &records, &journal).await;
        let _ = apply::apply(&client, &plan, &journal, &ApplyOptions::default()).await;
    });
}
