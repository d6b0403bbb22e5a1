//! Typed identifiers.
//!
//! Keystone and Nova use 32-hex-character ids (a UUID without dashes); Nimbus mints the same
//! so real clients accept them. Each resource kind gets its own newtype so an id of one kind
//! cannot be passed where another is expected.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A new random id in Keystone's format (32 lowercase hex characters).
pub fn new_hex_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Defines a string-backed id newtype with a `new()` that mints a fresh id.
#[macro_export]
macro_rules! typed_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            /// Mints a fresh random id.
            pub fn new() -> Self {
                Self($crate::id::new_hex_id())
            }
            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                Self(s)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(s.to_string())
            }
        }
    };
}

typed_id!(
    /// A customer account (Keystone domain).
    DomainId
);
typed_id!(
    /// A tenant space inside a domain.
    ProjectId
);
typed_id!(
    /// A person or service account.
    UserId
);
typed_id!(
    /// A group of users.
    GroupId
);
typed_id!(
    /// A role (`admin`, `member`, `reader`, ...).
    RoleId
);
typed_id!(
    /// A durable job.
    JobId
);

/// A request id as returned in `X-Request-Id` / `X-Openstack-Request-Id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestId(pub String);

impl RequestId {
    /// Mints a request id in OpenStack's `req-<uuid>` format.
    pub fn new() -> Self {
        RequestId(format!("req-{}", uuid::Uuid::new_v4()))
    }
}

impl Default for RequestId {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether a string looks like an id Nimbus minted (used by name-or-id selectors).
pub fn looks_like_id(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_keystone_shaped() {
        let id = ProjectId::new();
        assert!(looks_like_id(id.as_str()));
        assert_ne!(id, ProjectId::new());
        assert!(!looks_like_id("demo"));
    }
}
