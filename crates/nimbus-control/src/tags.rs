//! Tags on any resource (seed 6.9.4), through one service.
//!
//! OpenStack string tags are keys with empty values; Huawei TMS key/value tags use both.
//! The owning service authorises access to the resource, then calls these helpers inside its
//! transaction.

use crate::Control;
use nimbus_core::Error;
use nimbus_store::tags::{self as repo, Tag};
use sqlx::AnyConnection;

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
