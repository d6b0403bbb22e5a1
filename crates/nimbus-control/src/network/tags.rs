//! Tags on networking resources (Neutron's `standard-attr-tag`): string tags on networks,
//! subnets, ports, routers, floating IPs and security groups, kept by the one tag service
//! (`crate::tags`) under the resource's collection name. Reading them needs the right to see
//! the resource, changing them the right to change it.

use super::may_read;
use crate::audit::AuditEvent;
use crate::authz::{authorize, Target};
use crate::{Control, Ctx};
use nimbus_core::Error;
use nimbus_store::tags as repo;
use sqlx::AnyConnection;
use std::collections::HashMap;

/// The collections whose resources carry tags (their Neutron names, also the tag kinds).
pub const TAGGED_COLLECTIONS: &[&str] = &["networks", "subnets", "ports", "routers", "floatingips", "security-groups"];

/// How a tag set changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagChange {
    /// Replace them all.
    Replace(Vec<String>),
    Add(String),
    Remove(String),
    Clear,
}

impl Control {
    /// The project of a taggable resource the caller may see (404 otherwise), checked for
    /// `network:update` when `write`.
    async fn tagged_owner(
        &self,
        c: &mut AnyConnection,
        ctx: &Ctx,
        collection: &str,
        id: &str,
        write: bool,
    ) -> Result<String, Error> {
        let action = if write { "network:update" } else { "network:get" };
        let project = match collection {
            "networks" => self.load_network(c, ctx, id, action).await?.project_id,
            "subnets" => {
                let s =
                    nimbus_store::network::get_subnet(c, id).await?.ok_or_else(|| Error::not_found("subnet", id))?;
                self.load_network(c, ctx, &s.network_id, action).await.map_err(|e| match e {
                    Error::NotFound { .. } => Error::not_found("subnet", id),
                    other => other,
                })?;
                s.project_id
            }
            "ports" => self.load_port(c, ctx, id, action).await?.project_id,
            "routers" => self.load_router(c, ctx, id, action).await?.project_id,
            "floatingips" => {
                let f = nimbus_store::l3::get_floating_ip(c, id)
                    .await?
                    .filter(|f| may_read(ctx, &f.project_id))
                    .ok_or_else(|| Error::not_found("floatingip", id))?;
                f.project_id
            }
            "security-groups" => {
                let g = nimbus_store::network::get_security_group(c, id)
                    .await?
                    .filter(|g| may_read(ctx, &g.project_id))
                    .ok_or_else(|| Error::not_found("security group", id))?;
                g.project_id
            }
            other => return Err(Error::bad_request(format!("{other} carry no tags."))),
        };
        if write {
            authorize(action, &ctx.principal, &Target { project_id: Some(&project), ..Default::default() })?;
        }
        Ok(project)
    }

    /// A resource's tags, sorted.
    pub async fn network_tags(&self, ctx: &Ctx, collection: &str, id: &str) -> Result<Vec<String>, Error> {
        let mut c = self.store().read().await?;
        self.tagged_owner(&mut c, ctx, collection, id, false).await?;
        Ok(repo::list(&mut c, collection, id).await?.into_iter().map(|t| t.tag_key).collect())
    }

    /// Changes a resource's tags; returns them as they are after.
    pub async fn change_network_tags(
        &self,
        ctx: &Ctx,
        collection: &str,
        id: &str,
        change: TagChange,
    ) -> Result<Vec<String>, Error> {
        let mut tx = self.store().write().await?;
        let project = self.tagged_owner(&mut tx, ctx, collection, id, true).await?;
        let mut tags: Vec<String> = repo::list(&mut tx, collection, id).await?.into_iter().map(|t| t.tag_key).collect();
        match change {
            TagChange::Replace(all) => tags = all,
            TagChange::Add(t) => {
                if !tags.contains(&t) {
                    tags.push(t);
                }
            }
            TagChange::Remove(t) => {
                let before = tags.len();
                tags.retain(|x| x != &t);
                if tags.len() == before {
                    return Err(Error::not_found("tag", t));
                }
            }
            TagChange::Clear => tags.clear(),
        }
        tags.sort();
        tags.dedup();
        crate::tags::validate_string_tags(&tags)?;
        self.replace_string_tags(&mut tx, collection, id, &project, &tags).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("VPC", collection.trim_end_matches('s'), "updateTags", 200)
                .resource(id, "")
                .in_project(&project),
        )
        .await?;
        tx.commit().await?;
        Ok(tags)
    }

    /// The tags of every resource of a collection, by id (for list views of resources the
    /// caller was already shown).
    pub async fn network_tag_map(&self, collection: &str) -> Result<HashMap<String, Vec<String>>, Error> {
        let mut c = self.store().read().await?;
        repo::keys_by_resource(&mut c, collection).await
    }
}
