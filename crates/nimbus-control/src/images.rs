//! Images (Glance v2 / IMS, seed 6.1.8): the catalogue, uploads and downloads with checksums,
//! visibility (public, private, shared, community), sharing with other projects, and tags.
//!
//! Visibility is the authorisation rule here: a project sees public and community images,
//! its own, and those shared with it; anything else is a 404. Only the owner changes an
//! image, and only the cloud admin makes one public.

use crate::audit::AuditEvent;
use crate::authz::{authorize, Target};
use crate::{Control, Ctx};
use bytes::Bytes;
use futures::Stream;
use nimbus_core::page::PageRequest;
use nimbus_core::time::now_ms;
use nimbus_core::Error;
use nimbus_store::images::{self as repo, Image, ImageFilter, Member};
use serde_json::{Map, Value};
use sqlx::AnyConnection;

/// Disk formats Glance accepts.
pub const DISK_FORMATS: &[&str] = &["ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop"];
/// Container formats Glance accepts.
pub const CONTAINER_FORMATS: &[&str] = &["ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed"];
const VISIBILITIES: &[&str] = &["public", "private", "shared", "community"];
/// Attributes the service owns; they cannot be set as properties.
pub const RESERVED: &[&str] = &[
    "id",
    "name",
    "status",
    "visibility",
    "protected",
    "checksum",
    "os_hash_algo",
    "os_hash_value",
    "owner",
    "size",
    "virtual_size",
    "min_ram",
    "min_disk",
    "disk_format",
    "container_format",
    "created_at",
    "updated_at",
    "tags",
    "self",
    "file",
    "schema",
    "direct_url",
    "locations",
    "os_hidden",
];

/// An image a job is about to fill.
pub(crate) struct QueuedImage {
    pub owner: String,
    pub name: String,
    pub disk_format: String,
    pub min_disk: i64,
    pub min_ram: i64,
    pub properties: serde_json::Map<String, serde_json::Value>,
}

/// The tag resource type of images.
pub const TAG_KIND: &str = "image";

/// Fields of a new image.
#[derive(Debug, Clone, Default)]
pub struct ImageCreate {
    pub id: Option<String>,
    pub name: Option<String>,
    pub visibility: Option<String>,
    pub protected: Option<bool>,
    pub disk_format: Option<String>,
    pub container_format: Option<String>,
    pub min_disk: Option<i64>,
    pub min_ram: Option<i64>,
    pub tags: Vec<String>,
    pub properties: Map<String, Value>,
}

/// One change of a JSON-patch update.
#[derive(Debug, Clone)]
pub enum ImageChange {
    /// `add`/`replace` of an attribute or property.
    Set(String, Value),
    /// `remove` of a property.
    Remove(String),
}

/// An image with its tags.
#[derive(Debug, Clone)]
pub struct ImageView {
    pub image: Image,
    pub tags: Vec<String>,
}

fn check_choice(what: &str, v: &Option<String>, allowed: &[&str]) -> Result<(), Error> {
    match v {
        Some(x) if !allowed.contains(&x.as_str()) => {
            Err(Error::bad_request(format!("Invalid {what} {x:?}: use one of {}.", allowed.join(", "))))
        }
        _ => Ok(()),
    }
}

impl Control {
    fn owner_of_caller(ctx: &Ctx) -> Result<String, Error> {
        ctx.principal
            .project_id()
            .map(str::to_string)
            .ok_or_else(|| Error::Forbidden("Images belong to projects: use a project-scoped token.".into()))
    }

    /// Whether the caller may see this image (owner, public, community, shared with it).
    pub(crate) async fn can_see(&self, c: &mut AnyConnection, ctx: &Ctx, i: &Image) -> Result<bool, Error> {
        if ctx.principal.can_read_all() || i.visibility == "public" || i.visibility == "community" {
            return Ok(true);
        }
        let Some(project) = ctx.principal.project_id() else { return Ok(false) };
        if i.owner == project {
            return Ok(true);
        }
        Ok(i.visibility == "shared" && repo::get_member(c, &i.id, project).await?.is_some())
    }

    pub(crate) async fn load_image(&self, c: &mut AnyConnection, ctx: &Ctx, id: &str) -> Result<Image, Error> {
        let i =
            repo::get(c, id).await?.filter(|i| i.status != "deleted").ok_or_else(|| Error::not_found("image", id))?;
        if !self.can_see(c, ctx, &i).await? {
            return Err(Error::not_found("image", id));
        }
        Ok(i)
    }

    /// Loads an image the caller may change (its owner's members, or an admin).
    async fn load_owned(&self, c: &mut AnyConnection, ctx: &Ctx, id: &str) -> Result<Image, Error> {
        let i = self.load_image(c, ctx, id).await?;
        authorize("image:modify", &ctx.principal, &Target { project_id: Some(&i.owner), ..Default::default() })?;
        Ok(i)
    }

    async fn view(&self, c: &mut AnyConnection, image: Image) -> Result<ImageView, Error> {
        let tags = self.resource_tags(c, TAG_KIND, &image.id).await?.into_iter().map(|(k, _)| k).collect();
        Ok(ImageView { image, tags })
    }

    /// `POST /v2/images`: a new, empty (`queued`) image.
    pub async fn create_image(&self, ctx: &Ctx, req: ImageCreate) -> Result<ImageView, Error> {
        let owner = Self::owner_of_caller(ctx)?;
        authorize("image:create", &ctx.principal, &Target { project_id: Some(&owner), ..Default::default() })?;
        check_choice("disk_format", &req.disk_format, DISK_FORMATS)?;
        check_choice("container_format", &req.container_format, CONTAINER_FORMATS)?;
        check_choice("visibility", &req.visibility, VISIBILITIES)?;
        let visibility = req.visibility.clone().unwrap_or_else(|| "shared".into());
        if visibility == "public" {
            authorize("image:publicize", &ctx.principal, &Target::default())?;
        }
        if let Some(id) = &req.id {
            if uuid_like(id).is_none() {
                return Err(Error::bad_request("An image id must be a UUID."));
            }
        }
        for k in req.properties.keys() {
            if RESERVED.contains(&k.as_str()) {
                return Err(Error::Forbidden(format!("Attribute '{k}' is reserved.")));
            }
        }
        if req.min_disk.unwrap_or(0) < 0 || req.min_ram.unwrap_or(0) < 0 {
            return Err(Error::bad_request("min_disk and min_ram must not be negative."));
        }
        crate::tags::validate_string_tags(&req.tags)?;
        let now = now_ms();
        let image = Image {
            id: req.id.clone().unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            name: req.name.unwrap_or_default(),
            owner: owner.clone(),
            status: "queued".into(),
            visibility,
            protected: req.protected.unwrap_or(false),
            disk_format: req.disk_format,
            container_format: req.container_format,
            min_disk: req.min_disk.unwrap_or(0),
            min_ram: req.min_ram.unwrap_or(0),
            size: None,
            virtual_size: None,
            checksum: None,
            os_hash_algo: None,
            os_hash_value: None,
            properties: Value::Object(req.properties).to_string(),
            created_at: now,
            updated_at: now,
        };
        let mut tx = self.store().write().await?;
        self.charge_quota(&mut tx, &owner, "images", 1).await?;
        repo::insert(&mut tx, &image).await?;
        self.replace_string_tags(&mut tx, TAG_KIND, &image.id, &owner, &req.tags).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("IMS", "image", "createImage", 201).resource(&image.id, &image.name).in_project(&owner),
        )
        .await?;
        let v = self.view(&mut tx, image).await?;
        tx.commit().await?;
        Ok(v)
    }

    /// `GET /v2/images/{id}`.
    pub async fn get_image(&self, ctx: &Ctx, id: &str) -> Result<ImageView, Error> {
        let mut c = self.store().read().await?;
        let i = self.load_image(&mut c, ctx, id).await?;
        self.view(&mut c, i).await
    }

    /// `GET /v2/images`: what the caller may see, filtered.
    pub async fn list_images(
        &self,
        ctx: &Ctx,
        mut f: ImageFilter,
        page: &PageRequest,
    ) -> Result<Vec<ImageView>, Error> {
        f.viewer = if ctx.principal.can_read_all() { None } else { Some(Self::owner_of_caller(ctx)?) };
        let mut c = self.store().read().await?;
        let mut out = Vec::new();
        for i in repo::list(&mut c, &f, page).await? {
            out.push(self.view(&mut c, i).await?);
        }
        Ok(out)
    }

    /// `PATCH /v2/images/{id}`: JSON-patch changes to attributes and properties.
    pub async fn update_image(&self, ctx: &Ctx, id: &str, changes: Vec<ImageChange>) -> Result<ImageView, Error> {
        let mut tx = self.store().write().await?;
        let mut i = self.load_owned(&mut tx, ctx, id).await?;
        let mut props: Map<String, Value> = serde_json::from_str(&i.properties).unwrap_or_default();
        for change in changes {
            match change {
                ImageChange::Set(k, v) if k == "tags" => {
                    let tags: Vec<String> = serde_json::from_value(v)
                        .map_err(|_| Error::bad_request("'tags' must be a list of strings."))?;
                    crate::tags::validate_string_tags(&tags)?;
                    self.replace_string_tags(&mut tx, TAG_KIND, &i.id, &i.owner, &tags).await?;
                }
                ImageChange::Set(k, v) => apply_set(&mut i, &mut props, ctx, &k, v)?,
                ImageChange::Remove(k) => {
                    if RESERVED.contains(&k.as_str()) {
                        return Err(Error::Forbidden(format!("Attribute '{k}' cannot be removed.")));
                    }
                    if props.remove(&k).is_none() {
                        return Err(Error::Conflict(format!("Property {k} does not exist.")));
                    }
                }
            }
        }
        i.properties = Value::Object(props).to_string();
        i.updated_at = now_ms();
        repo::update(&mut tx, &i).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("IMS", "image", "updateImage", 200).resource(&i.id, &i.name).in_project(&i.owner),
        )
        .await?;
        let v = self.view(&mut tx, i).await?;
        tx.commit().await?;
        Ok(v)
    }

    /// `DELETE /v2/images/{id}`: the row, its members, tags and data; protected images refuse.
    pub async fn delete_image(&self, ctx: &Ctx, id: &str) -> Result<(), Error> {
        let mut tx = self.store().write().await?;
        let i = self.load_owned(&mut tx, ctx, id).await?;
        if i.protected {
            return Err(Error::Forbidden(format!("Image {id} is protected and cannot be deleted.")));
        }
        repo::delete(&mut tx, id).await?;
        self.release_quota(&mut tx, &i.owner, "images", 1).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("IMS", "image", "deleteImage", 204).resource(&i.id, &i.name).in_project(&i.owner),
        )
        .await?;
        tx.commit().await?;
        // After the commit: a crash here leaves an orphan file, never a row without data.
        self.drivers().images.delete(id).await
    }

    /// `PUT /v2/images/{id}/file`: streams the data in, checks it, and activates the image.
    pub async fn upload_image<S, E>(&self, ctx: &Ctx, id: &str, data: S) -> Result<(), Error>
    where
        S: Stream<Item = Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        let mut tx = self.store().write().await?;
        let i = self.load_owned(&mut tx, ctx, id).await?;
        if i.status != "queued" {
            return Err(Error::Conflict(format!("Image {id} is {}: data can only be uploaded once.", i.status)));
        }
        if i.disk_format.is_none() || i.container_format.is_none() {
            return Err(Error::bad_request("Set disk_format and container_format before uploading data."));
        }
        repo::transition(&mut tx, id, "queued", "saving", now_ms()).await?;
        tx.commit().await?;

        let files = &self.drivers().images;
        let outcome = async {
            let written = files.write(id, data, self.config().max_image_size).await?;
            let inspected = files.inspect(id).await?;
            check_format(&i, &inspected)?;
            Ok::<_, Error>((written, inspected))
        }
        .await;
        let mut tx = self.store().write().await?;
        let Some(mut i) = repo::get(&mut tx, id).await? else {
            // Deleted during the upload.
            files.delete(id).await?;
            return Err(Error::not_found("image", id));
        };
        match outcome {
            Ok((w, inspected)) => {
                i.status = "active".into();
                i.size = Some(w.size);
                i.virtual_size = Some(inspected.virtual_size);
                i.checksum = Some(w.md5);
                i.os_hash_algo = Some("sha512".into());
                i.os_hash_value = Some(w.sha512);
                i.updated_at = now_ms();
                repo::update(&mut tx, &i).await?;
                self.audit(
                    &mut tx,
                    ctx,
                    AuditEvent::new("IMS", "image", "uploadImage", 204).resource(&i.id, &i.name).in_project(&i.owner),
                )
                .await?;
                tx.commit().await
            }
            Err(e) => {
                repo::transition(&mut tx, id, "saving", "queued", now_ms()).await?;
                tx.commit().await?;
                files.delete(id).await?;
                Err(e)
            }
        }
    }

    /// `GET /v2/images/{id}/file`: where the data is, with its size and checksum; `None` when
    /// the image has no data yet.
    pub async fn image_data(&self, ctx: &Ctx, id: &str) -> Result<Option<(std::path::PathBuf, Image)>, Error> {
        let mut c = self.store().read().await?;
        let i = self.load_image(&mut c, ctx, id).await?;
        // A deactivated image keeps its data for operators only (Glance's rule: an image
        // found faulty is withdrawn without being deleted).
        if i.status == "deactivated" && !ctx.principal.is_admin() {
            return Err(Error::Forbidden(
                "The requested image has been deactivated. Image data download is forbidden.".into(),
            ));
        }
        if !matches!(i.status.as_str(), "active" | "deactivated") {
            return Ok(None);
        }
        Ok(Some((self.drivers().images.path(id), i)))
    }

    /// `POST /v2/images/{id}/actions/deactivate` (`deactivate`) and `.../reactivate`: an
    /// active image is withdrawn (no download but by operators, no new server or volume from
    /// it) and given back; doing it twice changes nothing; other states refuse (403).
    pub async fn set_image_deactivated(&self, ctx: &Ctx, id: &str, deactivate: bool) -> Result<(), Error> {
        let mut tx = self.store().write().await?;
        let mut i = self.load_owned(&mut tx, ctx, id).await?;
        let (from, to, verb) =
            if deactivate { ("active", "deactivated", "deactivate") } else { ("deactivated", "active", "reactivate") };
        if i.status == to {
            return Ok(());
        }
        if i.status != from {
            return Err(Error::Forbidden(format!("Not allowed to {verb} image in status '{}'.", i.status)));
        }
        i.status = to.into();
        i.updated_at = now_ms();
        repo::update(&mut tx, &i).await?;
        let action = if deactivate { "deactivateImage" } else { "reactivateImage" };
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("IMS", "image", action, 204).resource(&i.id, &i.name).in_project(&i.owner),
        )
        .await?;
        tx.commit().await
    }

    /// Adds or removes one tag.
    pub async fn tag_image(&self, ctx: &Ctx, id: &str, tag: &str, add: bool) -> Result<(), Error> {
        let mut tx = self.store().write().await?;
        let i = self.load_owned(&mut tx, ctx, id).await?;
        let mut tags: Vec<String> =
            self.resource_tags(&mut tx, TAG_KIND, id).await?.into_iter().map(|(k, _)| k).collect();
        if add {
            crate::tags::validate_string_tags(&[tag.to_string()])?;
            if !tags.iter().any(|t| t == tag) {
                tags.push(tag.to_string());
            }
        } else if tags.iter().any(|t| t == tag) {
            tags.retain(|t| t != tag);
        } else {
            return Err(Error::not_found("tag", tag));
        }
        self.replace_string_tags(&mut tx, TAG_KIND, id, &i.owner, &tags).await?;
        let action = if add { "addImageTag" } else { "deleteImageTag" };
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("IMS", "image", action, 204).resource(&i.id, &i.name).in_project(&i.owner),
        )
        .await?;
        tx.commit().await
    }

    /// Shares an image with another project (the image must have `shared` visibility).
    pub async fn add_image_member(&self, ctx: &Ctx, id: &str, member: &str) -> Result<Member, Error> {
        let mut tx = self.store().write().await?;
        let i = self.load_owned(&mut tx, ctx, id).await?;
        authorize("image:share", &ctx.principal, &Target { project_id: Some(&i.owner), ..Default::default() })?;
        if i.visibility != "shared" {
            return Err(Error::Forbidden(format!("Image {id} is {}; only shared images have members.", i.visibility)));
        }
        if nimbus_store::identity::get_project(&mut tx, member).await?.is_none() {
            return Err(Error::bad_request(format!("Project {member} does not exist.")));
        }
        if repo::get_member(&mut tx, id, member).await?.is_some() {
            return Err(Error::Conflict(format!("Project {member} is already a member of image {id}.")));
        }
        let now = now_ms();
        let m = Member {
            image_id: id.into(),
            member_id: member.into(),
            status: "pending".into(),
            created_at: now,
            updated_at: now,
        };
        repo::insert_member(&mut tx, &m).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("IMS", "image", "addImageMember", 200).resource(&i.id, &i.name).in_project(&i.owner),
        )
        .await?;
        tx.commit().await?;
        Ok(m)
    }

    /// The members of an image: all of them for its owner, only itself for a member.
    pub async fn list_image_members(&self, ctx: &Ctx, id: &str) -> Result<Vec<Member>, Error> {
        let mut c = self.store().read().await?;
        let i = self.load_image(&mut c, ctx, id).await?;
        let members = repo::list_members(&mut c, id).await?;
        let project = ctx.principal.project_id().unwrap_or_default();
        if ctx.principal.can_read_all() || i.owner == project {
            return Ok(members);
        }
        Ok(members.into_iter().filter(|m| m.member_id == project).collect())
    }

    /// One membership, visible to the owner and to that member.
    pub async fn get_image_member(&self, ctx: &Ctx, id: &str, member: &str) -> Result<Member, Error> {
        self.list_image_members(ctx, id)
            .await?
            .into_iter()
            .find(|m| m.member_id == member)
            .ok_or_else(|| Error::not_found("image member", member))
    }

    /// A member accepts or rejects an image shared with it.
    pub async fn set_image_member_status(
        &self,
        ctx: &Ctx,
        id: &str,
        member: &str,
        status: &str,
    ) -> Result<Member, Error> {
        if !["pending", "accepted", "rejected"].contains(&status) {
            return Err(Error::bad_request("status must be pending, accepted or rejected."));
        }
        let mut tx = self.store().write().await?;
        let i = self.load_image(&mut tx, ctx, id).await?;
        let existing =
            repo::get_member(&mut tx, id, member).await?.ok_or_else(|| Error::not_found("image member", member))?;
        if ctx.principal.project_id() != Some(member) {
            return Err(Error::Forbidden("Only the member project can accept or reject a shared image.".into()));
        }
        repo::set_member_status(&mut tx, id, member, status, now_ms()).await?;
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("IMS", "image", "updateImageMember", 200).resource(&i.id, &i.name).in_project(member),
        )
        .await?;
        tx.commit().await?;
        Ok(Member { status: status.into(), updated_at: now_ms(), ..existing })
    }

    /// Stops sharing an image with a project.
    pub async fn remove_image_member(&self, ctx: &Ctx, id: &str, member: &str) -> Result<(), Error> {
        let mut tx = self.store().write().await?;
        let i = self.load_owned(&mut tx, ctx, id).await?;
        if !repo::delete_member(&mut tx, id, member).await? {
            return Err(Error::not_found("image member", member));
        }
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("IMS", "image", "removeImageMember", 204).resource(&i.id, &i.name).in_project(&i.owner),
        )
        .await?;
        tx.commit().await
    }
}

fn uuid_like(s: &str) -> Option<uuid::Uuid> {
    uuid::Uuid::parse_str(s).ok()
}

fn apply_set(i: &mut Image, props: &mut Map<String, Value>, ctx: &Ctx, k: &str, v: Value) -> Result<(), Error> {
    let text = |v: &Value| {
        v.as_str().map(str::to_string).ok_or_else(|| Error::bad_request(format!("'{k}' must be a string.")))
    };
    let int = |v: &Value| {
        v.as_i64()
            .filter(|n| *n >= 0)
            .ok_or_else(|| Error::bad_request(format!("'{k}' must be a non-negative integer.")))
    };
    match k {
        "name" => i.name = text(&v)?,
        "visibility" => {
            let vis = text(&v)?;
            check_choice("visibility", &Some(vis.clone()), VISIBILITIES)?;
            if vis == "public" {
                authorize("image:publicize", &ctx.principal, &Target::default())?;
            }
            i.visibility = vis;
        }
        "protected" => i.protected = v.as_bool().ok_or_else(|| Error::bad_request("'protected' must be a boolean."))?,
        "min_disk" => i.min_disk = int(&v)?,
        "min_ram" => i.min_ram = int(&v)?,
        "disk_format" | "container_format" => {
            if i.status != "queued" {
                return Err(Error::Forbidden(format!("'{k}' cannot change once the image has data.")));
            }
            let f = text(&v)?;
            let allowed = if k == "disk_format" { DISK_FORMATS } else { CONTAINER_FORMATS };
            check_choice(k, &Some(f.clone()), allowed)?;
            if k == "disk_format" {
                i.disk_format = Some(f);
            } else {
                i.container_format = Some(f);
            }
        }
        reserved if RESERVED.contains(&reserved) => {
            return Err(Error::Forbidden(format!("Attribute '{k}' is read-only.")))
        }
        _ => {
            if !v.is_string() {
                return Err(Error::bad_request(format!("Property '{k}' must be a string.")));
            }
            props.insert(k.to_string(), v);
        }
    }
    Ok(())
}

/// The uploaded data must be what the image says it is, and must not point at other files.
fn check_format(i: &Image, found: &nimbus_drivers::image_files::Inspection) -> Result<(), Error> {
    if let Some(backing) = &found.backing_file {
        return Err(Error::bad_request(format!("Images with a backing file are refused (found {backing:?}).")));
    }
    let declared = i.disk_format.as_deref().unwrap_or("raw");
    let matches = match declared {
        // qemu-img reports these formats by name; anything else is opaque data.
        "qcow2" | "vmdk" | "vhdx" | "vdi" => found.format == declared,
        "vhd" => found.format == "vpc",
        _ => found.format == "raw",
    };
    if !matches {
        return Err(Error::bad_request(format!(
            "The data is in {} format but the image declares disk_format {declared}.",
            found.format
        )));
    }
    Ok(())
}

/// The name of the region's default public image.
pub const DEFAULT_IMAGE: &str = "nimbus-tiny";

impl Control {
    /// Registers the default public image from `qcow2` (built by
    /// `scripts/build-default-image.sh`) unless an active public image of that name exists.
    /// Returns the image id when one was created.
    pub async fn ensure_default_image(&self, qcow2: &std::path::Path) -> Result<Option<String>, Error> {
        let mut c = self.store().read().await?;
        let filter = ImageFilter {
            name: Some(DEFAULT_IMAGE.into()),
            visibility: Some("public".into()),
            status: Some("active".into()),
            ..Default::default()
        };
        if !repo::list(&mut c, &filter, &PageRequest::default()).await?.is_empty() {
            return Ok(None);
        }
        let owner = self.admin_project_id(&mut c).await?.ok_or_else(|| Error::Internal("no admin project".into()))?;
        drop(c);
        let now = now_ms();
        let mut image = Image {
            id: uuid::Uuid::new_v4().to_string(),
            name: DEFAULT_IMAGE.into(),
            owner,
            status: "saving".into(),
            visibility: "public".into(),
            protected: true,
            disk_format: Some("qcow2".into()),
            container_format: Some("bare".into()),
            min_disk: 1,
            min_ram: 128,
            size: None,
            virtual_size: None,
            checksum: None,
            os_hash_algo: None,
            os_hash_value: None,
            properties: serde_json::json!({
                "os_distro": "nimbus-tiny", "os_type": "linux", "hw_firmware_type": "bios",
                "description": "Debian cloud kernel with a busybox root; reads the OpenStack config drive",
            })
            .to_string(),
            created_at: now,
            updated_at: now,
        };
        let mut tx = self.store().write().await?;
        repo::insert(&mut tx, &image).await?;
        tx.commit().await?;
        let file = tokio::fs::File::open(qcow2)
            .await
            .map_err(|e| Error::Internal(format!("opening {}: {e}", qcow2.display())))?;
        let files = &self.drivers().images;
        let written =
            files.write(&image.id, tokio_util::io::ReaderStream::with_capacity(file, 1 << 20), i64::MAX).await?;
        let inspected = files.inspect(&image.id).await?;
        check_format(&image, &inspected)?;
        image.status = "active".into();
        image.size = Some(written.size);
        image.virtual_size = Some(inspected.virtual_size);
        image.checksum = Some(written.md5);
        image.os_hash_algo = Some("sha512".into());
        image.os_hash_value = Some(written.sha512);
        image.updated_at = now_ms();
        let mut tx = self.store().write().await?;
        repo::update(&mut tx, &image).await?;
        tx.commit().await?;
        Ok(Some(image.id))
    }
}

impl Control {
    /// Fills a snapshot's image from the disk export its job wrote beside the image data
    /// (`<id>.export`), then activates it. Idempotent: an image already active is left alone.
    /// Records an image whose data a job is about to write (a server's or a volume's
    /// export), charging the owner's `images` quota; returns its id.
    pub(crate) async fn queue_image(&self, tx: &mut AnyConnection, ctx: &Ctx, q: QueuedImage) -> Result<String, Error> {
        self.charge_quota(tx, &q.owner, "images", 1).await?;
        let now = now_ms();
        let image = Image {
            id: uuid::Uuid::new_v4().to_string(),
            name: q.name,
            owner: q.owner.clone(),
            status: "queued".into(),
            visibility: "private".into(),
            protected: false,
            disk_format: Some(q.disk_format),
            container_format: Some("bare".into()),
            min_disk: q.min_disk,
            min_ram: q.min_ram,
            size: None,
            virtual_size: None,
            checksum: None,
            os_hash_algo: None,
            os_hash_value: None,
            properties: serde_json::Value::Object(q.properties).to_string(),
            created_at: now,
            updated_at: now,
        };
        repo::insert(tx, &image).await?;
        self.audit(
            tx,
            ctx,
            AuditEvent::new("IMS", "image", "createImage", 202).resource(&image.id, &image.name).in_project(&q.owner),
        )
        .await?;
        Ok(image.id)
    }

    /// Makes a queued image active with the data its job exported next to it.
    pub(crate) async fn finish_snapshot_image(&self, id: &str) -> Result<(), Error> {
        let files = &self.drivers().images;
        let export = files.path(id).with_extension("export");
        let mut c = self.store().read().await?;
        let Some(mut image) = repo::get(&mut c, id).await? else {
            // Deleted meanwhile: drop the export.
            let _ = tokio::fs::remove_file(&export).await;
            return Ok(());
        };
        drop(c);
        if image.status == "active" {
            return Ok(());
        }
        // A resumed job may find the export already in place.
        let from = if tokio::fs::metadata(&export).await.is_ok() { export } else { files.path(id) };
        let written = files.adopt(id, &from).await?;
        let inspected = files.inspect(id).await?;
        let mut tx = self.store().write().await?;
        if repo::get(&mut tx, id).await?.is_none() {
            files.delete(id).await?;
            return Ok(());
        }
        image.status = "active".into();
        image.size = Some(written.size);
        image.virtual_size = Some(inspected.virtual_size);
        image.checksum = Some(written.md5);
        image.os_hash_algo = Some("sha512".into());
        image.os_hash_value = Some(written.sha512);
        image.updated_at = now_ms();
        repo::update(&mut tx, &image).await?;
        tx.commit().await
    }

    /// Removes the image of a snapshot that failed, with its partial data, and gives its
    /// quota back.
    pub(crate) async fn abandon_snapshot_image(&self, id: &str) -> Result<(), Error> {
        let files = &self.drivers().images;
        let _ = tokio::fs::remove_file(files.path(id).with_extension("export")).await;
        let mut tx = self.store().write().await?;
        if let Some(i) = repo::get(&mut tx, id).await? {
            repo::delete(&mut tx, id).await?;
            self.release_quota(&mut tx, &i.owner, "images", 1).await?;
        }
        tx.commit().await?;
        files.delete(id).await
    }
}
