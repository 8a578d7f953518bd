//! Admin role assignments as the org keeps them: the role types Okta has, and who holds which
//! role over which targets.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// Which targets a role type takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Targets {
    None,
    Groups,
    Apps,
}

/// A role type Okta lets an admin assign.
pub(crate) struct RoleKind {
    pub(crate) name: &'static str,
    pub(crate) label: &'static str,
    pub(crate) targets: Targets,
    /// The resource set of an IAM-based standard role.
    pub(crate) resource_set: Option<&'static str>,
}

/// Okta's standard role types (spec `StandardRoleAssignmentSchema.type`) with the labels current
/// orgs answer with (recorded 2025: `USER_ADMIN` is "Group Administrator"; it was "User
/// Administrator" in 2020). Resource sets of IAM-based roles from the spec's examples;
/// `WORKFLOWS_IAM_POLICY` is chosen (not in the sources).
pub(crate) const ROLE_KINDS: &[RoleKind] = &[
    RoleKind { name: "SUPER_ADMIN", label: "Super Administrator", targets: Targets::None, resource_set: None },
    RoleKind { name: "ORG_ADMIN", label: "Organization Administrator", targets: Targets::None, resource_set: None },
    RoleKind { name: "APP_ADMIN", label: "Application Administrator", targets: Targets::Apps, resource_set: None },
    RoleKind { name: "USER_ADMIN", label: "Group Administrator", targets: Targets::Groups, resource_set: None },
    RoleKind {
        name: "HELP_DESK_ADMIN",
        label: "Help Desk Administrator",
        targets: Targets::Groups,
        resource_set: None,
    },
    RoleKind {
        name: "GROUP_MEMBERSHIP_ADMIN",
        label: "Group Membership Administrator",
        targets: Targets::Groups,
        resource_set: None,
    },
    RoleKind { name: "READ_ONLY_ADMIN", label: "Read-only Administrator", targets: Targets::None, resource_set: None },
    RoleKind { name: "REPORT_ADMIN", label: "Report Administrator", targets: Targets::None, resource_set: None },
    RoleKind {
        name: "API_ACCESS_MANAGEMENT_ADMIN",
        label: "API Access Management Administrator",
        targets: Targets::None,
        resource_set: None,
    },
    RoleKind {
        name: "WORKFLOWS_ADMIN",
        label: "Workflows Administrator",
        targets: Targets::None,
        resource_set: Some("WORKFLOWS_IAM_POLICY"),
    },
    RoleKind {
        name: "ACCESS_CERTIFICATIONS_ADMIN",
        label: "Access Certifications Administrator",
        targets: Targets::None,
        resource_set: Some("ACCESS_CERTIFICATIONS_IAM_POLICY"),
    },
    RoleKind {
        name: "ACCESS_REQUESTS_ADMIN",
        label: "Access Requests Administrator",
        targets: Targets::None,
        resource_set: Some("ACCESS_CERTIFICATIONS_IAM_POLICY"),
    },
];

pub(crate) fn role_kind(name: &str) -> Option<&'static RoleKind> {
    ROLE_KINDS.iter().find(|kind| kind.name == name)
}

/// RFC 4648 base32 without padding: Okta's id for a role type that takes targets.
pub(crate) fn base32(text: &str) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut encoded = String::new();
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for byte in text.bytes() {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            encoded.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        encoded.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    encoded
}

/// One role held by a user or a group.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RoleAssignment {
    pub id: String,
    pub role_type: String,
    pub created: String,
    pub last_updated: String,
    /// Group targets (roles of [`Targets::Groups`]); empty means every group.
    #[serde(default)]
    pub group_targets: BTreeSet<String>,
    /// OIN app targets by app name, most recent first (roles of [`Targets::Apps`]); empty means
    /// every app.
    #[serde(default)]
    pub app_targets: Vec<String>,
}

impl RoleAssignment {
    pub(crate) fn kind(&self) -> Option<&'static RoleKind> {
        role_kind(&self.role_type)
    }

    pub(crate) fn label(&self) -> &'static str {
        self.kind().map_or("", |kind| kind.label)
    }

    /// The assignment as Okta answers with it; `assignee` is `users/{id}` or `groups/{id}`.
    pub(crate) fn to_json(&self, base: &str, assignee: &Assignee) -> Value {
        let assignee_href = json!({ "href": format!("{base}/api/v1/{}/{}", assignee.collection(), assignee.id()) });
        let mut map = Map::new();
        map.insert("id".into(), json!(self.id));
        let resource_set = self.kind().and_then(|kind| kind.resource_set);
        if resource_set.is_some() {
            map.insert("role".into(), json!(self.role_type));
        }
        map.insert("label".into(), json!(self.label()));
        map.insert("type".into(), json!(self.role_type));
        map.insert("status".into(), json!("ACTIVE"));
        map.insert("created".into(), json!(self.created));
        map.insert("lastUpdated".into(), json!(self.last_updated));
        map.insert("assignmentType".into(), json!(assignee.assignment_type()));
        match resource_set {
            None => {
                map.insert("_links".into(), json!({ "assignee": assignee_href }));
            }
            Some(set) => {
                let role = &self.role_type;
                map.insert("resource-set".into(), json!(set));
                map.insert(
                    "_links".into(),
                    json!({
                        "assignee": assignee_href,
                        "resource-set": { "href": format!("{base}/api/v1/iam/resource-sets/{set}") },
                        "role": { "href": format!("{base}/api/v1/iam/roles/{role}") },
                        "permissions": { "href": format!("{base}/api/v1/iam/roles/{role}/permissions") },
                        "member": {
                            "href": format!("{base}/api/v1/iam/resource-sets/{set}/bindings/{role}/members/{}", self.id),
                        },
                    }),
                );
            }
        }
        Value::Object(map)
    }
}

/// Who a role is assigned to, as a request path names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Assignee {
    User(String),
    Group(String),
}

impl Assignee {
    pub(crate) fn collection(&self) -> &'static str {
        match self {
            Assignee::User(_) => "users",
            Assignee::Group(_) => "groups",
        }
    }

    pub(crate) fn assignment_type(&self) -> &'static str {
        match self {
            Assignee::User(_) => "USER",
            Assignee::Group(_) => "GROUP",
        }
    }

    pub(crate) fn id(&self) -> &str {
        match self {
            Assignee::User(id) | Assignee::Group(id) => id,
        }
    }
}
