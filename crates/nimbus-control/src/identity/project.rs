//! Projects: tenant spaces inside a domain, optionally nested.

use super::domain::conflict_name;
use super::{merge_extra, validate_name};
use crate::audit::AuditEvent;
use crate::authz::{authorize, authorize_visible, Target};
use crate::{Control, Ctx};
use nimbus_core::page::PageRequest;
use nimbus_core::time::now_ms;
use nimbus_core::Error;
use nimbus_store::identity::{self as repo, Project};
use serde_json::{Map, Value};
use sqlx::AnyConnection;

/// Fields of a new project.
#[derive(Debug, Clone, Default)]
pub struct ProjectCreate {
    pub name: String,
    pub domain_id: Option<String>,
    pub parent_id: Option<String>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
    pub is_domain: Option<bool>,
    pub tags: Option<Vec<String>>,
    pub extra: Map<String, Value>,
}

/// Changes to a project.
#[derive(Debug, Clone, Default)]
pub struct ProjectUpdate {
    pub name: Option<String>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
    pub domain_id: Option<String>,
    pub tags: Option<Vec<String>>,
    pub extra: Map<String, Value>,
}

/// Filters of `GET /v3/projects`.
#[derive(Debug, Clone, Default)]
pub struct ProjectListQuery {
    pub name: Option<String>,
    pub domain_id: Option<String>,
    pub parent_id: Option<String>,
    pub enabled: Option<bool>,
    pub is_domain: Option<bool>,
    /// Projects carrying all of these tags.
    pub tags: Vec<String>,
}

/// The tag resource type of projects.
pub const TAG_KIND: &str = "project";

impl Control {
    pub async fn create_project(&self, ctx: &Ctx, req: ProjectCreate) -> Result<Project, Error> {
        let domain_id = super::creation_domain(ctx, req.domain_id.as_deref(), "project", &req.name)?;
        if req.is_domain == Some(true) {
            return Err(Error::bad_request("Projects acting as domains are not supported; create a domain instead."));
        }
        if let Some(tags) = &req.tags {
            crate::tags::validate_string_tags(tags)?;
        }
        let mut tx = self.store().write().await?;
        if repo::get_domain(&mut tx, &domain_id).await?.is_none() {
            return Err(Error::not_found("domain", domain_id));
        }
        let parent_id = match req.parent_id.as_deref() {
            None => None,
            Some(pid) if pid == domain_id => None,
            Some(pid) => {
                let parent = repo::get_project(&mut tx, pid).await?;
                match parent {
                    Some(p) if p.domain_id == domain_id => Some(p.id),
                    Some(_) => return Err(Error::bad_request("The parent project belongs to another domain.")),
                    None => return Err(Error::bad_request(format!("Parent project {pid} does not exist."))),
                }
            }
        };
        let p = Project {
            id: nimbus_core::id::new_hex_id(),
            name: req.name,
            domain_id,
            parent_id,
            description: req.description.unwrap_or_default(),
            enabled: req.enabled.unwrap_or(true),
            extra: merge_extra("{}", &req.extra),
            created_at: now_ms(),
        };
        repo::insert_project(&mut tx, &p).await.map_err(|e| conflict_name(e, &p.name))?;
        if let Some(tags) = &req.tags {
            self.replace_string_tags(&mut tx, TAG_KIND, &p.id, &p.id, tags).await?;
        }
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("IAM", "project", "createProject", 201).resource(&p.id, &p.name).in_project(&p.id),
        )
        .await?;
        tx.commit().await?;
        Ok(p)
    }

    pub(crate) async fn load_project(&self, c: &mut AnyConnection, ctx: &Ctx, id: &str) -> Result<Project, Error> {
        let p = repo::get_project(c, id).await?.ok_or_else(|| Error::not_found("project", id))?;
        let t = Target { project_id: Some(&p.id), domain_id: Some(&p.domain_id), ..Default::default() };
        authorize_visible("identity:get_project", "identity:get_project", &ctx.principal, &t, "project", id)?;
        Ok(p)
    }

    pub async fn get_project(&self, ctx: &Ctx, id: &str) -> Result<Project, Error> {
        let mut c = self.store().read().await?;
        self.load_project(&mut c, ctx, id).await
    }

    /// Lists projects with their tags, fetched in one query rather than one per project.
    pub async fn list_projects_with_tags(
        &self,
        ctx: &Ctx,
        q: &ProjectListQuery,
        page: &PageRequest,
    ) -> Result<Vec<(Project, Vec<String>)>, Error> {
        let projects = self.list_projects(ctx, q, page).await?;
        let mut c = self.store().read().await?;
        let mut tags = nimbus_store::tags::keys_by_resource(&mut c, TAG_KIND).await?;
        Ok(projects
            .into_iter()
            .map(|p| {
                let t = tags.remove(&p.id).unwrap_or_default();
                (p, t)
            })
            .collect())
    }

    pub async fn list_projects(
        &self,
        ctx: &Ctx,
        q: &ProjectListQuery,
        page: &PageRequest,
    ) -> Result<Vec<Project>, Error> {
        let mut filter = repo::ProjectFilter {
            name: q.name.clone(),
            domain_id: q.domain_id.clone(),
            parent_id: q.parent_id.clone(),
            enabled: q.enabled,
            ids: None,
        };
        if q.is_domain == Some(true) {
            return Ok(Vec::new());
        }
        if !ctx.principal.can_read_all() {
            let own = ctx.principal.scope_domain_id().map(str::to_string);
            let wanted = filter.domain_id.clone().or(own.clone());
            authorize(
                "identity:list_projects",
                &ctx.principal,
                &Target { domain_id: wanted.as_deref(), ..Default::default() },
            )?;
            filter.domain_id = wanted;
        }
        let mut c = self.store().read().await?;
        if !q.tags.is_empty() {
            let mut ids: Option<Vec<String>> = None;
            for tag in &q.tags {
                let with = nimbus_store::tags::resources_with_tag(&mut c, TAG_KIND, tag).await?;
                ids = Some(match ids {
                    None => with,
                    Some(prev) => prev.into_iter().filter(|i| with.contains(i)).collect(),
                });
            }
            filter.ids = ids;
        }
        repo::list_projects(&mut c, &filter, page).await
    }

    /// Projects the caller (or, for admins and managers, the given user) has a role on.
    pub async fn list_user_projects(&self, ctx: &Ctx, user_id: &str) -> Result<Vec<Project>, Error> {
        let mut c = self.store().read().await?;
        let u = repo::get_user(&mut c, user_id).await?.ok_or_else(|| Error::not_found("user", user_id))?;
        let t = Target { domain_id: Some(&u.domain_id), owner_user_id: Some(&u.id), ..Default::default() };
        authorize_visible(
            "identity:list_user_projects",
            "identity:list_user_projects",
            &ctx.principal,
            &t,
            "user",
            user_id,
        )?;
        let ids = repo::projects_of_user(&mut c, user_id).await?;
        let filter = repo::ProjectFilter { ids: Some(ids), enabled: Some(true), ..Default::default() };
        repo::list_projects(&mut c, &filter, &PageRequest::default()).await
    }

    pub async fn update_project(&self, ctx: &Ctx, id: &str, req: ProjectUpdate) -> Result<Project, Error> {
        let mut tx = self.store().write().await?;
        let mut p = self.load_project(&mut tx, ctx, id).await?;
        authorize(
            "identity:update_project",
            &ctx.principal,
            &Target { domain_id: Some(&p.domain_id), ..Default::default() },
        )?;
        if let Some(d) = &req.domain_id {
            if *d != p.domain_id {
                return Err(Error::bad_request("A project cannot move to another domain."));
            }
        }
        if let Some(name) = req.name {
            validate_name("project", &name)?;
            p.name = name;
        }
        if let Some(desc) = req.description {
            p.description = desc;
        }
        if let Some(enabled) = req.enabled {
            if !enabled && p.enabled {
                repo::revoke_scope_tokens(&mut tx, id).await?;
            }
            p.enabled = enabled;
        }
        if let Some(tags) = &req.tags {
            crate::tags::validate_string_tags(tags)?;
            self.replace_string_tags(&mut tx, TAG_KIND, &p.id, &p.id, tags).await?;
        }
        p.extra = merge_extra(&p.extra, &req.extra);
        repo::update_project(&mut tx, &p).await.map_err(|e| conflict_name(e, &p.name))?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("IAM", "project", "updateProject", 200).resource(&p.id, &p.name).in_project(&p.id),
        )
        .await?;
        tx.commit().await?;
        Ok(p)
    }

    /// Deletes a project without children. Its identity rows go at once; whatever it owns
    /// elsewhere is removed by a durable `project.purge` job.
    pub async fn delete_project(&self, ctx: &Ctx, id: &str) -> Result<String, Error> {
        let mut tx = self.store().write().await?;
        let p = self.load_project(&mut tx, ctx, id).await?;
        authorize(
            "identity:delete_project",
            &ctx.principal,
            &Target { domain_id: Some(&p.domain_id), ..Default::default() },
        )?;
        if p.id == self.admin_project_id(&mut tx).await?.unwrap_or_default() {
            return Err(Error::Forbidden("The region's admin project cannot be deleted.".into()));
        }
        if repo::count_children(&mut tx, id).await? > 0 {
            return Err(Error::Forbidden("Cannot delete a project that has child projects.".into()));
        }
        let job_id = self.remove_project_rows(&mut tx, ctx, &p).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("IAM", "project", "deleteProject", 204).resource(&p.id, &p.name).in_project(&p.id),
        )
        .await?;
        tx.commit().await?;
        self.wake_jobs();
        Ok(job_id)
    }

    /// Removes a project's identity rows and queues the purge of what it owns.
    pub(crate) async fn remove_project_rows(
        &self,
        tx: &mut AnyConnection,
        ctx: &Ctx,
        p: &Project,
    ) -> Result<String, Error> {
        repo::delete_assignments_on_target(tx, &p.id).await?;
        repo::revoke_scope_tokens(tx, &p.id).await?;
        repo::delete_project(tx, &p.id).await?;
        let job = self
            .new_job(
                tx,
                &p.id,
                super::purge::JOB_TYPE,
                serde_json::json!({"project_id": p.id, "requested_by": ctx.principal.user_id}),
            )
            .await?;
        Ok(job)
    }

    /// The id of the region's `admin` project in the default domain.
    pub(crate) async fn admin_project_id(&self, c: &mut AnyConnection) -> Result<Option<String>, Error> {
        Ok(repo::get_project_by_name(c, super::DEFAULT_DOMAIN_ID, "admin").await?.map(|p| p.id))
    }

    /// The string tags of a project.
    pub async fn project_tags(&self, ctx: &Ctx, id: &str) -> Result<Vec<String>, Error> {
        let mut c = self.store().read().await?;
        let p = self.load_project(&mut c, ctx, id).await?;
        let tags = nimbus_store::tags::list(&mut c, TAG_KIND, &p.id).await?;
        Ok(tags.into_iter().map(|t| t.tag_key).collect())
    }

    /// Adds, removes or replaces a project's string tags (Keystone `/projects/{id}/tags`).
    pub async fn edit_project_tags(&self, ctx: &Ctx, id: &str, edit: TagEdit) -> Result<Vec<String>, Error> {
        let mut tx = self.store().write().await?;
        let p = self.load_project(&mut tx, ctx, id).await?;
        authorize(
            "identity:update_project",
            &ctx.principal,
            &Target { domain_id: Some(&p.domain_id), ..Default::default() },
        )?;
        let mut tags: Vec<String> =
            nimbus_store::tags::list(&mut tx, TAG_KIND, &p.id).await?.into_iter().map(|t| t.tag_key).collect();
        match edit {
            TagEdit::Add(tag) => {
                crate::tags::validate_string_tags(std::slice::from_ref(&tag))?;
                if !tags.contains(&tag) {
                    tags.push(tag);
                }
            }
            TagEdit::Remove(tag) => {
                if !tags.contains(&tag) {
                    return Err(Error::not_found("tag", tag));
                }
                tags.retain(|t| *t != tag);
            }
            TagEdit::Replace(new) => {
                crate::tags::validate_string_tags(&new)?;
                tags = new;
            }
        }
        self.replace_string_tags(&mut tx, TAG_KIND, &p.id, &p.id, &tags).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("IAM", "project", "updateProjectTags", 200).resource(&p.id, &p.name).in_project(&p.id),
        )
        .await?;
        tx.commit().await?;
        tags.sort();
        Ok(tags)
    }

    /// Whether a project carries a tag (404 when it does not).
    pub async fn check_project_tag(&self, ctx: &Ctx, id: &str, tag: &str) -> Result<(), Error> {
        if self.project_tags(ctx, id).await?.iter().any(|t| t == tag) {
            Ok(())
        } else {
            Err(Error::not_found("tag", tag))
        }
    }
}

/// A change to a project's tags.
#[derive(Debug, Clone)]
pub enum TagEdit {
    Add(String),
    Remove(String),
    Replace(Vec<String>),
}
