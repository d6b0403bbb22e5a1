//! EVS disk tags (`/cloudvolumes/{id}/tags`, `/cloudvolumes/tags`,
//! `/cloudvolumes/resource_instances/action`): key/value tags on volumes, kept in the one tag
//! table every service shares (TMS sees them as resource type `disk`). EVS's rules: at most 10
//! tags per disk, keys of 1-36 and values of 0-43 letters, digits, `-`, `_` (values also `.`)
//! or CJK characters.

use crate::audit::AuditEvent;
use crate::{Control, Ctx};
use nimbus_core::Error;
use nimbus_store::tags::{self as tag_repo, Tag};
use nimbus_store::volumes::{self as repo, Volume, VOLUME_TAG_KIND};
use sqlx::AnyConnection;
use std::collections::{BTreeMap, BTreeSet};

/// Tags a disk may carry.
const MAX_TAGS: usize = 10;

fn cjk(c: char) -> bool {
    ('\u{4E00}'..='\u{9FFF}').contains(&c)
}

/// Checks tags against EVS's rules; `total` is how many the disk would carry.
pub(super) fn validate_volume_tags(tags: &BTreeMap<String, String>, total: usize) -> Result<(), Error> {
    if total > MAX_TAGS {
        return Err(Error::bad_request(format!("A disk carries at most {MAX_TAGS} tags, not {total}.")));
    }
    for (k, v) in tags {
        let key_ok = (1..=36).contains(&k.chars().count())
            && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || cjk(c));
        if !key_ok {
            return Err(Error::bad_request(format!(
                "Invalid tag key {k:?}: 1-36 letters, digits, '-', '_' or CJK characters."
            )));
        }
        let value_ok = v.chars().count() <= 43
            && v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' || cjk(c));
        if !value_ok {
            return Err(Error::bad_request(format!(
                "Invalid value {v:?} of tag {k:?}: at most 43 letters, digits, '.', '-', '_' or CJK characters."
            )));
        }
    }
    Ok(())
}

/// How volumes are picked by tags (EVS `resource_instances/action`).
#[derive(Debug, Clone, Default)]
pub struct TagQuery {
    /// Each key with the values any of which it must have (no values: any value).
    pub tags: Vec<(String, Vec<String>)>,
    /// `resource_name` match: the volume's name.
    pub name: Option<String>,
    pub limit: Option<usize>,
    pub offset: usize,
}

impl Control {
    /// Sets tags on a new volume, in the transaction that makes it.
    pub(super) async fn set_volume_tags_in(
        &self,
        tx: &mut AnyConnection,
        v: &Volume,
        tags: &BTreeMap<String, String>,
    ) -> Result<(), Error> {
        for (k, value) in tags {
            let tag = Tag {
                resource_type: VOLUME_TAG_KIND.into(),
                resource_id: v.id.clone(),
                project_id: v.project_id.clone(),
                tag_key: k.clone(),
                tag_value: value.clone(),
            };
            tag_repo::set(&mut *tx, &tag).await?;
        }
        Ok(())
    }

    /// A volume's tags (404 for a volume the caller may not see).
    pub async fn volume_tags(&self, ctx: &Ctx, volume_id: &str) -> Result<BTreeMap<String, String>, Error> {
        let mut c = self.store().read().await?;
        let v = self.load_volume(&mut c, ctx, volume_id, "volume:get").await?;
        Ok(self.resource_tags(&mut c, VOLUME_TAG_KIND, &v.id).await?.into_iter().collect())
    }

    /// The tags of several volumes (a listing's, a search's), by volume id.
    pub async fn tags_of_volumes(
        &self,
        volumes: &[Volume],
    ) -> Result<BTreeMap<String, BTreeMap<String, String>>, Error> {
        let mut c = self.store().read().await?;
        let mut out = BTreeMap::new();
        for v in volumes {
            out.insert(v.id.clone(), self.resource_tags(&mut c, VOLUME_TAG_KIND, &v.id).await?.into_iter().collect());
        }
        Ok(out)
    }

    /// Adds (replacing values of keys it has) or removes tags of a volume.
    pub async fn change_volume_tags(
        &self,
        ctx: &Ctx,
        volume_id: &str,
        add: bool,
        tags: BTreeMap<String, String>,
    ) -> Result<(), Error> {
        if tags.is_empty() {
            return Err(Error::bad_request("Invalid input received: tags is a list of at least one tag."));
        }
        let mut tx = self.store().write().await?;
        let v = self.load_volume(&mut tx, ctx, volume_id, "volume:update").await?;
        crate::authz::authorize(
            "volume:update",
            &ctx.principal,
            &crate::authz::Target { project_id: Some(&v.project_id), ..Default::default() },
        )?;
        let mut now: BTreeMap<String, String> =
            self.resource_tags(&mut tx, VOLUME_TAG_KIND, &v.id).await?.into_iter().collect();
        if add {
            now.extend(tags.clone());
            validate_volume_tags(&tags, now.len())?;
            self.set_volume_tags_in(&mut tx, &v, &tags).await?;
        } else {
            for k in tags.keys() {
                if now.remove(k).is_none() {
                    return Err(Error::not_found("tag", k));
                }
                tag_repo::remove(&mut tx, VOLUME_TAG_KIND, &v.id, k).await?;
            }
        }
        let action = if add { "createVolumeTags" } else { "deleteVolumeTags" };
        self.audit(
            &mut tx,
            ctx,
            AuditEvent::new("EVS", "volume", action, 204)
                .resource(&v.id, v.name.as_deref().unwrap_or(""))
                .in_project(&v.project_id),
        )
        .await?;
        tx.commit().await
    }

    /// Every tag key of the caller's project's volumes with the values it has.
    pub async fn project_volume_tags(&self, ctx: &Ctx) -> Result<BTreeMap<String, BTreeSet<String>>, Error> {
        let project = Self::listing_scope(ctx, false)?.unwrap_or_default();
        let mut c = self.store().read().await?;
        let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for t in tag_repo::project_tags(&mut c, VOLUME_TAG_KIND, &project).await? {
            out.entry(t.tag_key).or_default().insert(t.tag_value);
        }
        Ok(out)
    }

    /// The caller's project's volumes carrying every tag asked for (any of a key's values),
    /// sorted by id; the page asked for and the total.
    pub async fn volumes_by_tags(&self, ctx: &Ctx, q: &TagQuery) -> Result<(Vec<Volume>, usize), Error> {
        let project = Self::listing_scope(ctx, false)?.unwrap_or_default();
        let mut c = self.store().read().await?;
        let mut by_volume: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for t in tag_repo::project_tags(&mut c, VOLUME_TAG_KIND, &project).await? {
            by_volume.entry(t.resource_id).or_default().insert(t.tag_key, t.tag_value);
        }
        let mut hits = Vec::new();
        for v in repo::all(&mut c).await?.into_iter().filter(|v| v.project_id == project) {
            let tags = by_volume.get(&v.id).cloned().unwrap_or_default();
            let tagged = q.tags.iter().all(|(k, values)| {
                tags.get(k).is_some_and(|have| values.is_empty() || values.iter().any(|w| w == have))
            });
            let named = q.name.as_ref().is_none_or(|n| v.name.as_deref() == Some(n.as_str()));
            if tagged && named {
                hits.push(v);
            }
        }
        hits.sort_by(|a, b| a.id.cmp(&b.id));
        let total = hits.len();
        let page = hits.into_iter().skip(q.offset).take(q.limit.unwrap_or(usize::MAX)).collect();
        Ok((page, total))
    }
}
