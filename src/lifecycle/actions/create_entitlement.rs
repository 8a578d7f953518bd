//! CREATE_ENTITLEMENT: create an Okta group, idempotent on its name (ignoring case, as Okta's
//! names are unique ignoring case).

use crate::lifecycle::actions::{Identity, PlanContext};
use crate::lifecycle::plan::Operation;
use crate::lifecycle::policy::ActionKind;

/// Decides whether the group must be created.
pub fn decide(
    context: &mut PlanContext<'_>,
    identity: Option<&Identity<'_>>,
    name: &str,
    description: Option<String>,
) -> Result<(), String> {
    let name = name.trim();
    if name.is_empty() {
        return Err("the group name is empty".into());
    }
    if context.snapshot.group_by_name(name).is_some() || context.planned_groups.contains(&name.to_lowercase()) {
        return Ok(());
    }
    context.planned_groups.insert(name.to_lowercase());
    context.push(
        ActionKind::CreateEntitlement,
        identity,
        Operation::CreateGroup { name: name.to_owned(), description },
    );
    Ok(())
}
