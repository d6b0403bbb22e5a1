//! OpenStack config drives: an ISO9660 image labelled `config-2` holding
//! `openstack/latest/{meta_data.json, network_data.json, user_data}`, built with genisoimage.

use nimbus_core::Error;
use std::path::Path;

/// Writes the config drive `iso` from the guest's metadata.
pub async fn build(
    iso: &Path,
    meta_data: &serde_json::Value,
    network_data: &serde_json::Value,
    user_data: Option<&[u8]>,
) -> Result<(), Error> {
    let staging = iso.with_extension("d");
    let latest = staging.join("openstack").join("latest");
    let io = |e: std::io::Error| Error::Internal(format!("building the config drive: {e}"));
    let _ = tokio::fs::remove_dir_all(&staging).await;
    tokio::fs::create_dir_all(&latest).await.map_err(io)?;
    // One key per line keeps the JSON trivially readable by the guest's shell tools.
    tokio::fs::write(latest.join("meta_data.json"), serde_json::to_string_pretty(meta_data)?).await.map_err(io)?;
    tokio::fs::write(latest.join("network_data.json"), serde_json::to_string_pretty(network_data)?)
        .await
        .map_err(io)?;
    if let Some(data) = user_data {
        tokio::fs::write(latest.join("user_data"), data).await.map_err(io)?;
    }
    let tmp = iso.with_extension("iso.partial");
    let out = tokio::process::Command::new("genisoimage")
        .args(["-quiet", "-o"])
        .arg(&tmp)
        .args(["-V", "config-2", "-J", "-R", "-l"])
        .arg(&staging)
        .output()
        .await
        .map_err(|e| Error::Internal(format!("running genisoimage: {e}")))?;
    let _ = tokio::fs::remove_dir_all(&staging).await;
    if !out.status.success() {
        return Err(Error::Internal(format!("genisoimage failed: {}", String::from_utf8_lossy(&out.stderr).trim())));
    }
    tokio::fs::rename(&tmp, iso).await.map_err(io)?;
    Ok(())
}
