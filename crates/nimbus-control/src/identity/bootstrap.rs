//! First start of a region: the region and its zones, the `Default` domain, the built-in
//! roles, the `admin` project and user, and the admin's access key. Idempotent: a restart
//! finds everything in place and changes nothing.

use super::role::BUILTIN_ROLES;
use super::{password, DEFAULT_DOMAIN_ID};
use crate::Control;
use nimbus_core::time::now_ms;
use nimbus_core::Error;
use nimbus_store::identity::{self as repo, Assignment, Domain, Project, Role, User};
use nimbus_store::region;

/// What the first start created (returned once, so the binary can write the openrc file).
#[derive(Debug, Clone)]
pub struct BootstrapOutcome {
    /// True when this start created the admin account.
    pub created: bool,
    pub admin_user_id: String,
    pub admin_project_id: String,
    /// The admin's access key pair, only when just created.
    pub access_key: Option<(String, String)>,
}

impl Control {
    /// Creates the region's initial state if missing. `admin_password` is used only when the
    /// admin user is created.
    pub async fn bootstrap(&self, admin_password: &str) -> Result<BootstrapOutcome, Error> {
        let cfg = self.config().clone();
        let hash = password::hash(admin_password).await?;
        let mut tx = self.store().write().await?;
        let now = now_ms();
        if !region::list_regions(&mut tx).await?.iter().any(|r| r.id == cfg.region) {
            region::insert_region(
                &mut tx,
                &region::Region {
                    id: cfg.region.clone(),
                    description: String::new(),
                    parent_region_id: None,
                    created_at: now,
                },
            )
            .await?;
        }
        for az in &cfg.availability_zones {
            region::upsert_zone(
                &mut tx,
                &region::AvailabilityZone { name: az.clone(), region_id: cfg.region.clone(), available: true },
            )
            .await?;
        }
        if repo::get_domain(&mut tx, DEFAULT_DOMAIN_ID).await?.is_none() {
            repo::insert_domain(
                &mut tx,
                &Domain {
                    id: DEFAULT_DOMAIN_ID.into(),
                    name: "Default".into(),
                    description: "The default domain".into(),
                    enabled: true,
                    extra: "{}".into(),
                    created_at: now,
                },
            )
            .await?;
        }
        let mut admin_role_id = String::new();
        for name in BUILTIN_ROLES {
            let role = match repo::get_global_role_by_name(&mut tx, name).await? {
                Some(r) => r,
                None => {
                    let r = Role {
                        id: nimbus_core::id::new_hex_id(),
                        name: name.to_string(),
                        domain_id: String::new(),
                        description: String::new(),
                        extra: "{}".into(),
                    };
                    repo::insert_role(&mut tx, &r).await?;
                    r
                }
            };
            if *name == "admin" {
                admin_role_id = role.id;
            }
        }
        let project = match repo::get_project_by_name(&mut tx, DEFAULT_DOMAIN_ID, "admin").await? {
            Some(p) => p,
            None => {
                let p = Project {
                    id: nimbus_core::id::new_hex_id(),
                    name: "admin".into(),
                    domain_id: DEFAULT_DOMAIN_ID.into(),
                    parent_id: None,
                    description: "Bootstrap project for the region's operators".into(),
                    enabled: true,
                    extra: "{}".into(),
                    created_at: now,
                };
                repo::insert_project(&mut tx, &p).await?;
                p
            }
        };
        let (user, created) = match repo::get_user_by_name(&mut tx, DEFAULT_DOMAIN_ID, "admin").await? {
            Some(u) => (u, false),
            None => {
                let u = User {
                    id: nimbus_core::id::new_hex_id(),
                    name: "admin".into(),
                    domain_id: DEFAULT_DOMAIN_ID.into(),
                    password_hash: Some(hash),
                    enabled: true,
                    email: None,
                    description: "Region administrator".into(),
                    default_project_id: Some(project.id.clone()),
                    extra: "{}".into(),
                    failed_logins: 0,
                    locked_until: None,
                    password_expires_at: None,
                    created_at: now,
                };
                repo::insert_user(&mut tx, &u).await?;
                (u, true)
            }
        };
        for (target_type, target_id) in [("project", project.id.as_str()), ("domain", DEFAULT_DOMAIN_ID)] {
            repo::grant(
                &mut tx,
                &Assignment {
                    actor_type: "user".into(),
                    actor_id: user.id.clone(),
                    target_type: target_type.into(),
                    target_id: target_id.into(),
                    role_id: admin_role_id.clone(),
                    inherited: false,
                },
            )
            .await?;
        }
        self.ensure_builtin_flavors(&mut tx).await?;
        self.ensure_builtin_volume_types(&mut tx).await?;
        let access_key = if created {
            let (cred, secret) = super::credential::new_access_key(&user.id, Some(&project.id), "bootstrap".into());
            repo::insert_credential(&mut tx, &cred).await?;
            Some((cred.access_key.unwrap_or_default(), secret))
        } else {
            None
        };
        tx.commit().await?;
        Ok(BootstrapOutcome { created, admin_user_id: user.id, admin_project_id: project.id, access_key })
    }
}
