//! MANAGE_RELATIONSHIPS: add, remove or synchronise a user's memberships in Okta groups and the
//! admin roles it holds itself.
//!
//! Synchronising is exclusive only within a managed scope (a name prefix or a list of groups;
//! a list of role types): groups and roles outside it are never touched. Only OKTA_GROUP
//! memberships are written; APP_GROUP and BUILT_IN groups are refused. Adding a member or a role
//! that is already there is nothing to do; a role held only through a group is not the user's
//! own, so it is neither counted as held nor removed.

use std::collections::BTreeSet;

use crate::lifecycle::actions::{Identity, PlanContext};
use crate::lifecycle::plan::{GroupRef, Operation, RoleRef, UserRef};
use crate::lifecycle::policy::{ActionKind, RelationshipMode};
use crate::lifecycle::state::{GroupState, RoleState};
use crate::okta::GroupType;

/// The managed scope of a synchronisation.
#[derive(Debug, Clone, Default)]
pub struct Scope<'a> {
    /// Groups whose name starts with this (ignoring case).
    pub prefix: Option<&'a str>,
    /// Groups with these names (ignoring case) or ids.
    pub names: &'a [String],
    /// Admin role types.
    pub roles: &'a [String],
}

impl Scope<'_> {
    fn contains(&self, group: &GroupState) -> bool {
        let folded = group.name.to_lowercase();
        self.prefix.is_some_and(|p| folded.starts_with(&p.to_lowercase()))
            || self.names.iter().any(|n| n.to_lowercase() == folded || *n == group.id)
    }
}

/// Decides the membership changes for one identity; `groups` are rendered names or ids.
pub fn decide(
    context: &mut PlanContext<'_>,
    identity: &Identity<'_>,
    mode: RelationshipMode,
    groups: &[String],
    roles: &[String],
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
        let wanted: BTreeSet<String> = targets.iter().map(|g| g.name.to_lowercase()).collect();
        // Groups of the scope this identity must not be in: a membership restored for it by a
        // reactivation in the same plan is not planned there.
        let excluded: Vec<String> = context
            .snapshot
            .groups()
            .iter()
            .filter(|group| scope.contains(group) && !wanted.contains(&group.name.to_lowercase()))
            .map(|group| group.id.clone())
            .collect();
        context.excluded_groups.entry(identity.key.clone()).or_default().extend(excluded);
        if let Some(user_id) = &user.id {
            let current: Vec<_> =
                context.snapshot.memberships(user_id).filter_map(|id| context.snapshot.group(id)).cloned().collect();
            for group in current {
                if group.group_type == GroupType::OktaGroup
                    && scope.contains(&group)
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
    if !roles.is_empty() || (mode == RelationshipMode::Sync && !scope.roles.is_empty()) {
        operations.extend(role_operations(context, &user, mode, roles, scope)?);
    }
    for operation in operations {
        context.push(ActionKind::ManageRelationships, Some(identity), operation);
    }
    Ok(())
}

/// The role assignments and removals for one user.
fn role_operations(
    context: &PlanContext<'_>,
    user: &UserRef,
    mode: RelationshipMode,
    roles: &[String],
    scope: &Scope<'_>,
) -> Result<Vec<Operation>, String> {
    let own: Vec<&RoleState> = match &user.id {
        Some(id) if !context.snapshot.has_roles(id) => {
            return Err(format!("the admin roles of {} were not read, so they cannot be managed", user.login))
        }
        Some(id) => context.snapshot.roles(id).iter().filter(|role| role.assignment_type == "USER").collect(),
        // Created by this plan: it holds no role yet.
        None => Vec::new(),
    };
    let holds = |role_type: &str| own.iter().any(|role| role.role_type == role_type);
    let removal = |role: &RoleState| Operation::UnassignRole {
        user: user.clone(),
        role: RoleRef { id: role.id.clone(), role_type: role.role_type.clone(), label: role.label.clone() },
    };
    let mut operations = Vec::new();
    match mode {
        RelationshipMode::Add | RelationshipMode::Sync => {
            for role_type in roles.iter().collect::<BTreeSet<_>>() {
                if !holds(role_type) {
                    operations.push(Operation::AssignRole { user: user.clone(), role_type: role_type.clone() });
                }
            }
        }
        RelationshipMode::Remove => {
            operations.extend(own.iter().filter(|role| roles.contains(&role.role_type)).map(|role| removal(role)));
        }
    }
    if mode == RelationshipMode::Sync {
        operations.extend(
            own.iter()
                .filter(|role| scope.roles.contains(&role.role_type) && !roles.contains(&role.role_type))
                .map(|role| removal(role)),
        );
    }
    Ok(operations)
}
