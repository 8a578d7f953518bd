//! Typed Okta endpoints and models: users, groups, sessions, the profile schema, user types,
//! admin roles and the System Log.

mod groups;
pub mod logs;
mod models;
pub mod partitioned;
mod request;
pub mod roles;
pub mod schema;
mod users;

pub use groups::{GroupsApi, ListGroups};
pub use logs::{LogEvent, LogFeed, LogQuery, LogTarget, LogsApi};
pub use models::{Group, GroupType, User, UserStatus};
pub use partitioned::{Dated, PartitionReport, PartitionedListing, PartitionedUsers};
pub use roles::{Assignee, RoleAssignment, RolesApi};
pub use schema::{SchemaApi, SchemaProperty, UserSchema, UserType};
pub use users::{ActivationToken, CreateUser, ListUsers, NextLogin, UsersApi, MAX_GROUP_IDS_AT_CREATE};
