//! MANAGE_RELATIONSHIPS: add, remove or synchronise a user's memberships in Okta groups.
//!
//! Synchronising is exclusive only within a managed scope (a name prefix or a list of groups):
//! groups outside it are never touched. Only OKTA_GROUP memberships are written; APP_GROUP and
//! BUILT_IN groups are refused. Adding a member that is already there is nothing to do.

use std::collections::BTreeSet;

use crate::lifecycle::actions::{Identity, PlanContext};
use crate::lifecycle::plan::{GroupRef, Operation};
use crate::lifecycle::policy::{ActionKind, RelationshipMode};
use crate::okta::GroupType;

/// The managed scope of a synchronisation.
#[derive(Debug, Clone, Default)]
pub struct Scope<'a> {
    /// Groups whose name starts with this (ignoring case).
    pub prefix: Option<&'a str>,
    /// Groups with these names (ignoring case).
    pub names: &'a [String],
}

impl Scope<'_> {
    fn contains(&self, name: &str) -> bool {
        let folded = name.to_lowercase();
        self.prefix.is_some_and(|p| folded.starts_with(&p.to_lowercase()))
            || self.names.iter().any(|n| n.to_lowercase() == folded)
    }
}

/// Decides the membership changes for one identity; `groups` are rendered names or ids.
pub fn decide(
    context: &mut PlanContext<'_>,
    identity: &Identity<'_>,
    mode: RelationshipMode,
    groups: &[String],
    scope: &Scope<'_>,
) -> Result<(), String> {
    let Some(user) = identity.target.clone() else {
        return Err("no Okta user for this identity, so no memberships can be managed".into());
    };
    let mut targets = Vec::new();
    let mut seen = BTreeSet::new();
    for group in groups {
        let resolved = context.resolve_group(group)?;
        if seen.insert(resolved.name.to_lowercase()) {
            targets.push(resolved);
        }
    }
    let is_member = |group: &GroupRef| match (&user.id, &group.id) {
        (Some(user_id), Some(group_id)) => context.snapshot.is_member(user_id, group_id),
        _ => false,
    };
    let mut operations = Vec::new();
    match mode {
        RelationshipMode::Add | RelationshipMode::Sync => {
            for group in &targets {
                if !is_member(group) {
                    operations.push(Operation::AddMember { user: user.clone(), group: group.clone() });
                }
            }
        }
        RelationshipMode::Remove => {
            for group in &targets {
                if is_member(group) {
                    operations.push(Operation::RemoveMember { user: user.clone(), group: group.clone() });
                }
            }
        }
    }
    if mode == RelationshipMode::Sync {
        if let Some(user_id) = &user.id {
            let wanted: BTreeSet<String> = targets.iter().map(|g| g.name.to_lowercase()).collect();
            let current: Vec<_> =
                context.snapshot.memberships(user_id).filter_map(|id| context.snapshot.group(id)).cloned().collect();
            for group in current {
                if group.group_type == GroupType::OktaGroup
                    && scope.contains(&group.name)
                    && !wanted.contains(&group.name.to_lowercase())
                {
                    operations.push(Operation::RemoveMember {
                        user: user.clone(),
                        group: GroupRef { id: Some(group.id.clone()), name: group.name.clone() },
                    });
                }
            }
        }
    }
    for operation in operations {
        context.push(ActionKind::ManageRelationships, Some(identity), operation);
    }
    Ok(())
}
