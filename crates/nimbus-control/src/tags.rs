//! Tags on any resource (seed 6.9.4), through one service.
//!
//! OpenStack string tags are keys with empty values; Huawei TMS key/value tags use both.
//! The owning service authorises access to the resource, then calls these helpers inside its
//! transaction.

use crate::Control;
use nimbus_core::Error;
use nimbus_store::tags::{self as repo, Tag};
use sqlx::AnyConnection;

/// Keystone's tag rules: at most 80 tags of at most 255 characters, no '/' or ','.
pub fn validate_string_tags(tags: &[String]) -> Result<(), Error> {
    if tags.len() > 80 {
        return Err(Error::bad_request("A resource may carry at most 80 tags."));
    }
    for t in tags {
        if t.is_empty() || t.chars().count() > 255 || t.contains('/') || t.contains(',') {
            return Err(Error::bad_request(format!("Invalid tag {t:?}: 1-255 characters, no '/' or ','.")));
        }
    }
    Ok(())
}

impl Control {
    /// Replaces a resource's string tags with `tags`.
    pub(crate) async fn replace_string_tags(
        &self,
        tx: &mut AnyConnection,
        kind: &str,
        resource_id: &str,
        project_id: &str,
        tags: &[String],
    ) -> Result<(), Error> {
        repo::clear(tx, kind, resource_id).await?;
        for t in tags {
            repo::set(
                tx,
                &Tag {
                    resource_type: kind.into(),
                    resource_id: resource_id.into(),
                    project_id: project_id.into(),
                    tag_key: t.clone(),
                    tag_value: String::new(),
                },
            )
            .await?;
        }
        Ok(())
    }

    /// A resource's tags as key/value pairs, sorted by key.
    pub async fn resource_tags(
        &self,
        c: &mut AnyConnection,
        kind: &str,
        resource_id: &str,
    ) -> Result<Vec<(String, String)>, Error> {
        Ok(repo::list(c, kind, resource_id).await?.into_iter().map(|t| (t.tag_key, t.tag_value)).collect())
    }
}

/// A resource a tag operation could not apply to, with the reason (TMS `failed_resources`).
#[derive(Debug, Clone)]
pub struct TagFailure {
    pub resource_id: String,
    pub resource_type: String,
    pub error: Error,
}

/// A key/value tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    pub value: String,
}

/// Huawei TMS rules: keys 1-128 characters, values up to 255, no `_sys_` prefix.
fn validate_kv(tags: &[KeyValue]) -> Result<(), Error> {
    if tags.is_empty() || tags.len() > 20 {
        return Err(Error::bad_request("Give between 1 and 20 tags."));
    }
    for t in tags {
        if t.key.is_empty() || t.key.chars().count() > 128 || t.key.starts_with("_sys_") {
            return Err(Error::bad_request(format!(
                "Invalid tag key {:?}: 1-128 characters, not starting with _sys_.",
                t.key
            )));
        }
        if t.value.chars().count() > 255 {
            return Err(Error::bad_request(format!("The value of tag {:?} is longer than 255 characters.", t.key)));
        }
    }
    Ok(())
}

impl Control {
    /// The project and domain owning a taggable resource. Each service registers its kinds
    /// here as it arrives; an unknown kind is a 400.
    async fn tag_owner(&self, c: &mut AnyConnection, kind: &str, id: &str) -> Result<(String, String), Error> {
        match kind {
            crate::identity::PROJECT_TAG_KIND => {
                let p =
                    nimbus_store::identity::get_project(c, id).await?.ok_or_else(|| Error::not_found("project", id))?;
                Ok((p.id, p.domain_id))
            }
            nimbus_store::volumes::VOLUME_TAG_KIND => {
                let v = nimbus_store::volumes::get(c, id).await?.ok_or_else(|| Error::not_found("disk", id))?;
                let p = nimbus_store::identity::get_project(c, &v.project_id)
                    .await?
                    .ok_or_else(|| Error::not_found("disk", id))?;
                Ok((p.id, p.domain_id))
            }
            other => Err(Error::bad_request(format!("Resource type {other:?} cannot be tagged in this region."))),
        }
    }

    async fn authorize_tags(
        &self,
        c: &mut AnyConnection,
        ctx: &crate::Ctx,
        kind: &str,
        id: &str,
        write: bool,
    ) -> Result<String, Error> {
        let (project, domain) = self.tag_owner(c, kind, id).await?;
        let t = crate::authz::Target { project_id: Some(&project), domain_id: Some(&domain), ..Default::default() };
        let action = if write { "tags:write" } else { "tags:read" };
        crate::authz::authorize_visible("tags:read", action, &ctx.principal, &t, "resource", id)?;
        Ok(project)
    }

    /// Adds (or overwrites) tags on several resources; returns those that failed.
    pub async fn tag_resources(
        &self,
        ctx: &crate::Ctx,
        resources: &[(String, String)],
        tags: &[KeyValue],
        remove: bool,
    ) -> Result<Vec<TagFailure>, Error> {
        if !remove {
            validate_kv(tags)?;
        }
        let mut failures = Vec::new();
        for (kind, id) in resources {
            let result = async {
                let mut tx = self.store().write().await?;
                let project = self.authorize_tags(&mut tx, ctx, kind, id, true).await?;
                for t in tags {
                    if remove {
                        repo::remove(&mut tx, kind, id, &t.key).await?;
                    } else {
                        let tag = Tag {
                            resource_type: kind.clone(),
                            resource_id: id.clone(),
                            project_id: project.clone(),
                            tag_key: t.key.clone(),
                            tag_value: t.value.clone(),
                        };
                        repo::set(&mut tx, &tag).await?;
                    }
                }
                if repo::list(&mut tx, kind, id).await?.len() > 80 {
                    return Err(Error::bad_request("A resource may carry at most 80 tags."));
                }
                let action = if remove { "deleteTags" } else { "createTags" };
                self.audit(
                    &mut tx,
                    ctx,
                    crate::audit::AuditEvent::new("TMS", kind, action, 204).resource(id, "").in_project(&project),
                )
                .await?;
                tx.commit().await
            }
            .await;
            if let Err(error) = result {
                failures.push(TagFailure { resource_id: id.clone(), resource_type: kind.clone(), error });
            }
        }
        Ok(failures)
    }

    /// The key/value tags of one resource.
    pub async fn show_resource_tags(&self, ctx: &crate::Ctx, kind: &str, id: &str) -> Result<Vec<KeyValue>, Error> {
        let mut c = self.store().read().await?;
        self.authorize_tags(&mut c, ctx, kind, id, false).await?;
        Ok(self
            .resource_tags(&mut c, kind, id)
            .await?
            .into_iter()
            .map(|(key, value)| KeyValue { key, value })
            .collect())
    }
}
