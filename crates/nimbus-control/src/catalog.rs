//! The service catalogue shown in every token: the OpenStack service types under their path
//! prefixes, and the Huawei-style native services at the bare listener URL (their SDKs keep
//! only scheme, host and port of an endpoint).

use crate::Control;
use sha2::{Digest, Sha256};

/// One catalogue entry.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CatalogService {
    pub id: String,
    #[serde(rename = "type")]
    pub service_type: String,
    pub name: String,
    pub endpoints: Vec<CatalogEndpoint>,
}

/// One endpoint of a catalogue entry.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CatalogEndpoint {
    pub id: String,
    pub interface: String,
    pub region: String,
    pub region_id: String,
    pub url: String,
}

/// OpenStack service types: (type, name, path under the listener).
const OPENSTACK: &[(&str, &str, &str)] = &[
    ("identity", "keystone", "/identity"),
    ("compute", "nova", "/compute/v2.1"),
    ("image", "glance", "/image"),
    ("block-storage", "cinder", "/volume/v3/{project_id}"),
    ("volumev3", "cinderv3", "/volume/v3/{project_id}"),
    ("network", "neutron", "/network"),
];

/// Native services, named as the Huawei Cloud SDK modules are.
const NATIVE: &[&str] =
    &["iam", "ecs", "evs", "ims", "vpc", "cts", "tms", "as", "ces", "smn", "kms", "rts", "elb", "cbr"];

fn stable_id(seed: &str) -> String {
    hex::encode(&Sha256::digest(seed.as_bytes())[..16])
}

impl Control {
    /// The catalogue for a token; project-specific URLs need the project.
    pub fn catalog(&self, project_id: Option<&str>) -> Vec<CatalogService> {
        let cfg = self.config();
        let base = cfg.public_url.trim_end_matches('/');
        let mut out = Vec::new();
        let mut push = |service_type: &str, name: &str, url: String| {
            let endpoints = ["public", "internal", "admin"]
                .iter()
                .map(|iface| CatalogEndpoint {
                    id: stable_id(&format!("{service_type}/{iface}")),
                    interface: iface.to_string(),
                    region: cfg.region.clone(),
                    region_id: cfg.region.clone(),
                    url: url.clone(),
                })
                .collect();
            out.push(CatalogService {
                id: stable_id(service_type),
                service_type: service_type.into(),
                name: name.into(),
                endpoints,
            });
        };
        for (t, name, path) in OPENSTACK {
            if path.contains("{project_id}") {
                let Some(pid) = project_id else { continue };
                push(t, name, format!("{base}{}", path.replace("{project_id}", pid)));
            } else {
                push(t, name, format!("{base}{path}"));
            }
        }
        for t in NATIVE {
            push(t, t, base.to_string());
        }
        push("obs", "obs", cfg.s3_url.trim_end_matches('/').to_string());
        out
    }
}
