//! Who is calling and about which request: the context every service method takes.

use serde::Serialize;
use std::sync::{Arc, Mutex};

/// What a token (or a signed request) is scoped to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Scope {
    Project {
        id: String,
        name: String,
        domain_id: String,
        domain_name: String,
    },
    Domain {
        id: String,
        name: String,
    },
    /// The whole cloud: operators' scope.
    System,
    Unscoped,
}

/// A role held in the current scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoleRef {
    pub id: String,
    pub name: String,
}

/// An authenticated caller.
#[derive(Debug, Clone, Serialize)]
pub struct Principal {
    pub user_id: String,
    pub user_name: String,
    pub user_domain_id: String,
    pub user_domain_name: String,
    pub scope: Scope,
    pub roles: Vec<RoleRef>,
    pub methods: Vec<String>,
    pub audit_id: String,
    pub issued_at: i64,
    pub expires_at: i64,
    /// Set when the caller signed with an access key instead of presenting a token.
    pub access_key: Option<String>,
}

impl Principal {
    /// An unsigned caller (object storage serves them what bucket policies and ACLs make
    /// public): no user, no scope, no role.
    pub fn anonymous() -> Self {
        Principal {
            user_id: String::new(),
            user_name: "anonymous".into(),
            user_domain_id: String::new(),
            user_domain_name: String::new(),
            scope: Scope::Unscoped,
            roles: Vec::new(),
            methods: Vec::new(),
            audit_id: String::new(),
            issued_at: 0,
            expires_at: i64::MAX,
            access_key: None,
        }
    }

    /// Whether this is [`Principal::anonymous`].
    pub fn is_anonymous(&self) -> bool {
        self.user_id.is_empty()
    }

    /// Whether the caller holds a role of this name in its scope.
    pub fn has_role(&self, name: &str) -> bool {
        self.roles.iter().any(|r| r.name == name)
    }

    /// A cloud operator: the `admin` role, in any scope (Keystone's classic meaning, which
    /// Tempest relies on). Customers are given `manager`, `member` and `reader`.
    pub fn is_admin(&self) -> bool {
        self.has_role("admin")
    }

    /// A system-scoped caller with any role: may read everything in the region.
    pub fn is_system_reader(&self) -> bool {
        self.scope == Scope::System && !self.roles.is_empty()
    }

    /// Whether list calls should show the whole region instead of the caller's scope.
    pub fn can_read_all(&self) -> bool {
        self.is_admin() || self.is_system_reader()
    }

    /// The project the caller is scoped to.
    pub fn project_id(&self) -> Option<&str> {
        match &self.scope {
            Scope::Project { id, .. } => Some(id),
            _ => None,
        }
    }

    /// The domain the caller is scoped to (a project's domain for project scope).
    pub fn scope_domain_id(&self) -> Option<&str> {
        match &self.scope {
            Scope::Project { domain_id, .. } => Some(domain_id),
            Scope::Domain { id, .. } => Some(id),
            Scope::System | Scope::Unscoped => None,
        }
    }
}

/// Facts about the HTTP request, filled by the front end.
#[derive(Debug, Default)]
pub struct RequestMeta {
    pub request_id: String,
    pub source_ip: Option<String>,
    /// The HTTP method and path, for audit records of failed calls.
    pub method: String,
    pub path: String,
    /// Set once the caller is authenticated, so failures can be traced to them.
    pub principal: Mutex<Option<Principal>>,
    /// Set when the service layer wrote the audit trace of this request itself.
    pub audited: std::sync::atomic::AtomicBool,
}

impl RequestMeta {
    /// A fresh request context.
    pub fn new(request_id: String, source_ip: Option<String>, method: &str, path: &str) -> Arc<Self> {
        Arc::new(RequestMeta {
            request_id,
            source_ip,
            method: method.to_string(),
            path: path.to_string(),
            ..Default::default()
        })
    }

    /// Records the authenticated caller.
    pub fn set_principal(&self, p: &Principal) {
        *self.principal.lock().unwrap_or_else(|e| e.into_inner()) = Some(p.clone());
    }

    /// The authenticated caller, if any.
    pub fn principal(&self) -> Option<Principal> {
        self.principal.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Whether the service layer already traced this request.
    pub fn was_audited(&self) -> bool {
        self.audited.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// A service call's context: the caller and the request.
#[derive(Debug, Clone)]
pub struct Ctx {
    pub principal: Principal,
    pub meta: Arc<RequestMeta>,
}

impl Ctx {
    /// The region itself acting (a scheduler, a reconciler) with the operator's rights,
    /// audited under `name`; `method` stands for the HTTP method in its traces.
    pub fn region_actor(name: &str, method: &str) -> Ctx {
        let mut p = Principal::anonymous();
        p.user_id = name.into();
        p.user_name = name.into();
        p.scope = Scope::System;
        p.roles = vec![RoleRef { id: "admin".into(), name: "admin".into() }];
        let meta = RequestMeta::new(format!("req-{}", nimbus_core::id::new_hex_id()), None, method, "/");
        meta.set_principal(&p);
        Ctx { principal: p, meta }
    }
}
