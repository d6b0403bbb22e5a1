//! Every registered endpoint, called without credentials and as a member of another tenant
//! (the way omicron's `unauthorized.rs` does it). The endpoint list comes from the running
//! region (`/_nimbus/endpoints`, built by the same registry that routes requests), so a new
//! endpoint that is missing from the table below fails this test.

mod common;

use common::{Region, ADMIN_PASSWORD};
use serde_json::{json, Value};
use std::collections::HashMap;

/// What another tenant's member gets, per endpoint (paths without the `/identity` prefix).
/// 404: the resource belongs to the other tenant, so its existence is not revealed.
/// 403: an action on a shared or collection resource the member may see but not change.
/// 2xx: allowed to anyone authenticated and answering with the caller's own data only.
const OTHER_TENANT: &[(&str, &str, u16)] = &[
    ("GET", "/v3/auth/tokens", 403),
    ("DELETE", "/v3/auth/tokens", 403),
    ("GET", "/v3/auth/catalog", 200),
    ("GET", "/v3/auth/projects", 200),
    ("GET", "/v3/auth/domains", 200),
    ("GET", "/v3/domains", 200),
    ("POST", "/v3/domains", 403),
    ("GET", "/v3/domains/{domain_id}", 404),
    ("PATCH", "/v3/domains/{domain_id}", 404),
    ("DELETE", "/v3/domains/{domain_id}", 404),
    ("GET", "/v3/projects", 403),
    ("POST", "/v3/projects", 403),
    ("GET", "/v3/projects/{project_id}", 404),
    ("PATCH", "/v3/projects/{project_id}", 404),
    ("DELETE", "/v3/projects/{project_id}", 404),
    ("GET", "/v3/projects/{project_id}/tags", 404),
    ("PUT", "/v3/projects/{project_id}/tags", 404),
    ("DELETE", "/v3/projects/{project_id}/tags", 404),
    ("GET", "/v3/projects/{project_id}/tags/{tag}", 404),
    ("PUT", "/v3/projects/{project_id}/tags/{tag}", 404),
    ("DELETE", "/v3/projects/{project_id}/tags/{tag}", 404),
    ("GET", "/v3/users", 403),
    ("POST", "/v3/users", 403),
    ("GET", "/v3/users/{user_id}", 404),
    ("PATCH", "/v3/users/{user_id}", 404),
    ("DELETE", "/v3/users/{user_id}", 404),
    ("POST", "/v3/users/{user_id}/password", 404),
    ("GET", "/v3/users/{user_id}/projects", 404),
    ("GET", "/v3/users/{user_id}/groups", 404),
    ("GET", "/v3/groups", 403),
    ("POST", "/v3/groups", 403),
    ("GET", "/v3/groups/{group_id}", 404),
    ("PATCH", "/v3/groups/{group_id}", 404),
    ("DELETE", "/v3/groups/{group_id}", 404),
    ("GET", "/v3/groups/{group_id}/users", 404),
    ("PUT", "/v3/groups/{group_id}/users/{user_id}", 404),
    ("GET", "/v3/groups/{group_id}/users/{user_id}", 404),
    ("DELETE", "/v3/groups/{group_id}/users/{user_id}", 404),
    ("GET", "/v3/roles", 200),
    ("POST", "/v3/roles", 403),
    ("GET", "/v3/roles/{role_id}", 200),
    ("PATCH", "/v3/roles/{role_id}", 403),
    ("DELETE", "/v3/roles/{role_id}", 403),
    ("GET", "/v3/role_assignments", 403),
    ("GET", "/v3/credentials", 200),
    ("POST", "/v3/credentials", 404),
    ("GET", "/v3/credentials/{credential_id}", 404),
    ("PATCH", "/v3/credentials/{credential_id}", 404),
    ("DELETE", "/v3/credentials/{credential_id}", 404),
    ("GET", "/v3/regions", 200),
    ("GET", "/v3/regions/{region_id}", 200),
    ("GET", "/v3/services", 200),
    ("GET", "/v3/services/{service_id}", 200),
    ("GET", "/v3/endpoints", 200),
    ("GET", "/v3/projects/{target_id}/users/{actor_id}/roles", 404),
    ("PUT", "/v3/projects/{target_id}/users/{actor_id}/roles/{role_id}", 404),
    ("GET", "/v3/projects/{target_id}/users/{actor_id}/roles/{role_id}", 404),
    ("DELETE", "/v3/projects/{target_id}/users/{actor_id}/roles/{role_id}", 404),
    ("GET", "/v3/projects/{target_id}/groups/{actor_id}/roles", 404),
    ("PUT", "/v3/projects/{target_id}/groups/{actor_id}/roles/{role_id}", 404),
    ("GET", "/v3/projects/{target_id}/groups/{actor_id}/roles/{role_id}", 404),
    ("DELETE", "/v3/projects/{target_id}/groups/{actor_id}/roles/{role_id}", 404),
    ("GET", "/v3/domains/{target_id}/users/{actor_id}/roles", 404),
    ("PUT", "/v3/domains/{target_id}/users/{actor_id}/roles/{role_id}", 404),
    ("GET", "/v3/domains/{target_id}/users/{actor_id}/roles/{role_id}", 404),
    ("DELETE", "/v3/domains/{target_id}/users/{actor_id}/roles/{role_id}", 404),
    ("GET", "/v3/domains/{target_id}/groups/{actor_id}/roles", 404),
    ("PUT", "/v3/domains/{target_id}/groups/{actor_id}/roles/{role_id}", 404),
    ("GET", "/v3/domains/{target_id}/groups/{actor_id}/roles/{role_id}", 404),
    ("DELETE", "/v3/domains/{target_id}/groups/{actor_id}/roles/{role_id}", 404),
    ("GET", "/v3/system/users/{actor_id}/roles", 403),
    ("PUT", "/v3/system/users/{actor_id}/roles/{role_id}", 403),
    ("GET", "/v3/system/users/{actor_id}/roles/{role_id}", 403),
    ("DELETE", "/v3/system/users/{actor_id}/roles/{role_id}", 403),
    ("GET", "/v3/system/groups/{actor_id}/roles", 403),
    ("PUT", "/v3/system/groups/{actor_id}/roles/{role_id}", 403),
    ("GET", "/v3/system/groups/{actor_id}/roles/{role_id}", 403),
    ("DELETE", "/v3/system/groups/{actor_id}/roles/{role_id}", 403),
    ("GET", "/v3/OS-INHERIT/domains/{target_id}/users/{actor_id}/roles/inherited_to_projects", 404),
    ("PUT", "/v3/OS-INHERIT/domains/{target_id}/users/{actor_id}/roles/{role_id}/inherited_to_projects", 404),
    ("GET", "/v3/OS-INHERIT/domains/{target_id}/users/{actor_id}/roles/{role_id}/inherited_to_projects", 404),
    ("DELETE", "/v3/OS-INHERIT/domains/{target_id}/users/{actor_id}/roles/{role_id}/inherited_to_projects", 404),
    ("GET", "/v3/OS-INHERIT/domains/{target_id}/groups/{actor_id}/roles/inherited_to_projects", 404),
    ("PUT", "/v3/OS-INHERIT/domains/{target_id}/groups/{actor_id}/roles/{role_id}/inherited_to_projects", 404),
    ("GET", "/v3/OS-INHERIT/domains/{target_id}/groups/{actor_id}/roles/{role_id}/inherited_to_projects", 404),
    ("DELETE", "/v3/OS-INHERIT/domains/{target_id}/groups/{actor_id}/roles/{role_id}/inherited_to_projects", 404),
    ("GET", "/_nimbus/endpoints", 403),
    ("GET", "/v3/{project_id}/traces", 404),
    ("GET", "/v3/{project_id}/trackers", 404),
    ("POST", "/v3/{project_id}/tracker", 404),
    ("PUT", "/v3/{project_id}/tracker", 404),
    ("DELETE", "/v3/{project_id}/trackers", 404),
    ("GET", "/v3/{project_id}/quotas", 404),
    ("GET", "/v3/{project_id}/traces/verification", 404),
    ("POST", "/v3.0/OS-CREDENTIAL/credentials", 404),
    ("GET", "/v3.0/OS-CREDENTIAL/credentials", 200),
    ("GET", "/v3.0/OS-CREDENTIAL/credentials/{access_key}", 404),
    ("PUT", "/v3.0/OS-CREDENTIAL/credentials/{access_key}", 404),
    ("DELETE", "/v3.0/OS-CREDENTIAL/credentials/{access_key}", 404),
    ("GET", "/v1/{project_id}/jobs/{job_id}", 404),
    // TMS answers 200 with the victim's resource in failed_resources (checked below).
    ("POST", "/v1.0/resource-tags/batch-create", 200),
    ("POST", "/v1.0/resource-tags/batch-delete", 200),
    ("GET", "/v2.0/resources/{resource_id}/tags", 404),
    ("GET", "/compute/v2.1/flavors", 200),
    ("GET", "/compute/v2.1/flavors/detail", 200),
    ("POST", "/compute/v2.1/flavors", 403),
    ("GET", "/compute/v2.1/flavors/{flavor_id}", 404),
    // At the default microversion (2.1) a flavor cannot be updated at all.
    ("PUT", "/compute/v2.1/flavors/{flavor_id}", 405),
    ("DELETE", "/compute/v2.1/flavors/{flavor_id}", 403),
    ("GET", "/compute/v2.1/flavors/{flavor_id}/os-extra_specs", 404),
    ("GET", "/compute/v2.1/flavors/{flavor_id}/os-flavor-access", 403),
    ("POST", "/compute/v2.1/flavors/{flavor_id}/action", 403),
    ("GET", "/compute/v2.1/os-keypairs", 200),
    ("POST", "/compute/v2.1/os-keypairs", 200),
    ("GET", "/compute/v2.1/os-keypairs/{keypair_name}", 404),
    ("DELETE", "/compute/v2.1/os-keypairs/{keypair_name}", 404),
    ("GET", "/compute/v2.1/os-availability-zone", 200),
    ("GET", "/compute/v2.1/os-availability-zone/detail", 403),
    ("GET", "/compute/v2.1/os-quota-class-sets/{class}", 403),
    ("PUT", "/compute/v2.1/os-quota-class-sets/{class}", 403),
    ("GET", "/compute/v2.1/os-quota-sets/{project_id}", 404),
    ("GET", "/compute/v2.1/os-quota-sets/{project_id}/detail", 404),
    ("GET", "/compute/v2.1/os-quota-sets/{project_id}/defaults", 404),
    ("PUT", "/compute/v2.1/os-quota-sets/{project_id}", 404),
    ("DELETE", "/compute/v2.1/os-quota-sets/{project_id}", 404),
    ("POST", "/v2.1/{project_id}/cloudvolumes", 404),
    ("GET", "/v2/{project_id}/cloudvolumes/detail", 404),
    ("GET", "/v2/{project_id}/cloudvolumes/{volume_id}", 404),
    ("PUT", "/v2/{project_id}/cloudvolumes/{volume_id}", 404),
    ("DELETE", "/v2/{project_id}/cloudvolumes/{volume_id}", 404),
    ("POST", "/v2.1/{project_id}/cloudvolumes/{volume_id}/action", 404),
    ("GET", "/v2/{project_id}/cloudvolumes/{volume_id}/tags", 404),
    ("POST", "/v2/{project_id}/cloudvolumes/{volume_id}/tags/action", 404),
    ("GET", "/v2/{project_id}/cloudvolumes/tags", 404),
    ("POST", "/v2/{project_id}/cloudvolumes/resource_instances/action", 404),
    ("POST", "/v3/{project_id}/vaults", 404),
    ("GET", "/v3/{project_id}/vaults", 404),
    ("GET", "/v3/{project_id}/vaults/{vault_id}", 404),
    ("PUT", "/v3/{project_id}/vaults/{vault_id}", 404),
    ("DELETE", "/v3/{project_id}/vaults/{vault_id}", 404),
    ("POST", "/v3/{project_id}/vaults/{vault_id}/addresources", 404),
    ("POST", "/v3/{project_id}/vaults/{vault_id}/removeresources", 404),
    ("POST", "/v3/{project_id}/vaults/{vault_id}/associatepolicy", 404),
    ("POST", "/v3/{project_id}/vaults/{vault_id}/dissociatepolicy", 404),
    ("POST", "/v3/{project_id}/policies", 404),
    ("GET", "/v3/{project_id}/policies", 404),
    ("GET", "/v3/{project_id}/policies/{policy_id}", 404),
    ("PUT", "/v3/{project_id}/policies/{policy_id}", 404),
    ("DELETE", "/v3/{project_id}/policies/{policy_id}", 404),
    ("POST", "/v3/{project_id}/checkpoints", 404),
    ("GET", "/v3/{project_id}/checkpoints/{checkpoint_id}", 404),
    ("GET", "/v3/{project_id}/backups", 404),
    ("GET", "/v3/{project_id}/backups/{backup_id}", 404),
    ("PUT", "/v3/{project_id}/backups/{backup_id}", 404),
    ("DELETE", "/v3/{project_id}/backups/{backup_id}", 404),
    ("POST", "/v3/{project_id}/backups/{backup_id}/restore", 404),
    ("POST", "/v2/{project_id}/cloudsnapshots", 404),
    ("GET", "/v2/{project_id}/cloudsnapshots/detail", 404),
    ("GET", "/v2/{project_id}/cloudsnapshots/{snapshot_id}", 404),
    ("PUT", "/v2/{project_id}/cloudsnapshots/{snapshot_id}", 404),
    ("DELETE", "/v2/{project_id}/cloudsnapshots/{snapshot_id}", 404),
    ("POST", "/v2/{project_id}/cloudsnapshots/{snapshot_id}/rollback", 404),
    ("GET", "/v2/{project_id}/types", 404),
    ("GET", "/v2/{project_id}/os-availability-zone", 404),
    ("GET", "/volume/v3/{project_id}/types", 200),
    ("GET", "/volume/v3/{project_id}/types/{type_id}", 200),
    ("GET", "/volume/v3/{project_id}/types/{type_id}/extra_specs", 200),
    ("POST", "/volume/v3/{project_id}/types", 403),
    ("PUT", "/volume/v3/{project_id}/types/{type_id}", 403),
    ("DELETE", "/volume/v3/{project_id}/types/{type_id}", 403),
    ("POST", "/volume/v3/{project_id}/types/{type_id}/extra_specs", 403),
    ("GET", "/volume/v3/{project_id}/types/{type_id}/extra_specs/{key}", 404),
    ("PUT", "/volume/v3/{project_id}/types/{type_id}/extra_specs/{key}", 403),
    ("DELETE", "/volume/v3/{project_id}/types/{type_id}/extra_specs/{key}", 403),
    ("POST", "/volume/v3/{project_id}/volumes", 202),
    ("GET", "/volume/v3/{project_id}/volumes", 200),
    ("GET", "/volume/v3/{project_id}/volumes/detail", 200),
    ("GET", "/volume/v3/{project_id}/volumes/{volume_id}", 404),
    ("PUT", "/volume/v3/{project_id}/volumes/{volume_id}", 404),
    ("DELETE", "/volume/v3/{project_id}/volumes/{volume_id}", 404),
    ("POST", "/volume/v3/{project_id}/volumes/{volume_id}/action", 404),
    ("GET", "/volume/v3/{project_id}/volumes/{volume_id}/metadata", 404),
    ("POST", "/volume/v3/{project_id}/volumes/{volume_id}/metadata", 404),
    ("PUT", "/volume/v3/{project_id}/volumes/{volume_id}/metadata", 404),
    ("GET", "/volume/v3/{project_id}/volumes/{volume_id}/metadata/{key}", 404),
    ("PUT", "/volume/v3/{project_id}/volumes/{volume_id}/metadata/{key}", 404),
    ("DELETE", "/volume/v3/{project_id}/volumes/{volume_id}/metadata/{key}", 404),
    // Before 3.12 "summary" is a volume id like any other (and found nowhere).
    ("GET", "/volume/v3/{project_id}/volumes/summary", 404),
    ("GET", "/volume/v3/{project_id}/os-availability-zone", 200),
    ("GET", "/volume/v3/{project_id}/extensions", 200),
    ("GET", "/volume/v3/{project_id}/limits", 200),
    ("POST", "/image/v2/images/{image_id}/actions/deactivate", 404),
    ("POST", "/image/v2/images/{image_id}/actions/reactivate", 404),
    ("GET", "/volume/v3/{project_id}/messages", 200),
    ("GET", "/volume/v3/{project_id}/messages/{message_id}", 404),
    ("DELETE", "/volume/v3/{project_id}/messages/{message_id}", 404),
    ("GET", "/volume/v3/{project_id}/group_types", 200),
    ("POST", "/volume/v3/{project_id}/group_types", 403),
    ("GET", "/volume/v3/{project_id}/group_types/default", 404),
    ("GET", "/volume/v3/{project_id}/group_types/{group_type_id}", 200),
    ("PUT", "/volume/v3/{project_id}/group_types/{group_type_id}", 403),
    ("DELETE", "/volume/v3/{project_id}/group_types/{group_type_id}", 403),
    ("GET", "/volume/v3/{project_id}/group_types/{group_type_id}/group_specs", 200),
    ("POST", "/volume/v3/{project_id}/group_types/{group_type_id}/group_specs", 403),
    ("GET", "/volume/v3/{project_id}/group_types/{group_type_id}/group_specs/{key}", 200),
    ("PUT", "/volume/v3/{project_id}/group_types/{group_type_id}/group_specs/{key}", 403),
    ("DELETE", "/volume/v3/{project_id}/group_types/{group_type_id}/group_specs/{key}", 403),
    ("GET", "/volume/v3/{project_id}/groups", 200),
    ("POST", "/volume/v3/{project_id}/groups", 202),
    ("GET", "/volume/v3/{project_id}/groups/detail", 200),
    ("POST", "/volume/v3/{project_id}/groups/action", 404),
    ("GET", "/volume/v3/{project_id}/groups/{volume_group_id}", 404),
    ("PUT", "/volume/v3/{project_id}/groups/{volume_group_id}", 404),
    ("POST", "/volume/v3/{project_id}/groups/{volume_group_id}/action", 404),
    ("GET", "/volume/v3/{project_id}/group_snapshots", 200),
    ("POST", "/volume/v3/{project_id}/group_snapshots", 404),
    ("GET", "/volume/v3/{project_id}/group_snapshots/detail", 200),
    ("GET", "/volume/v3/{project_id}/group_snapshots/{group_snapshot_id}", 404),
    ("DELETE", "/volume/v3/{project_id}/group_snapshots/{group_snapshot_id}", 404),
    ("POST", "/volume/v3/{project_id}/group_snapshots/{group_snapshot_id}/action", 404),
    ("GET", "/volume/v3/{project_id}/qos-specs", 403),
    ("POST", "/volume/v3/{project_id}/qos-specs", 403),
    ("GET", "/volume/v3/{project_id}/qos-specs/{qos_id}", 403),
    ("PUT", "/volume/v3/{project_id}/qos-specs/{qos_id}", 403),
    ("DELETE", "/volume/v3/{project_id}/qos-specs/{qos_id}", 403),
    ("PUT", "/volume/v3/{project_id}/qos-specs/{qos_id}/delete_keys", 403),
    ("GET", "/volume/v3/{project_id}/qos-specs/{qos_id}/associations", 403),
    ("GET", "/volume/v3/{project_id}/qos-specs/{qos_id}/associate", 403),
    ("GET", "/volume/v3/{project_id}/qos-specs/{qos_id}/disassociate", 403),
    ("GET", "/volume/v3/{project_id}/qos-specs/{qos_id}/disassociate_all", 403),
    ("GET", "/volume/v3/{project_id}/types/{type_id}/os-volume-type-access", 403),
    ("GET", "/volume/v3/{project_id}/types/{type_id}/encryption", 200),
    ("POST", "/volume/v3/{project_id}/types/{type_id}/encryption", 403),
    ("GET", "/volume/v3/{project_id}/types/{type_id}/encryption/{encryption_id}", 404),
    ("PUT", "/volume/v3/{project_id}/types/{type_id}/encryption/{encryption_id}", 403),
    ("DELETE", "/volume/v3/{project_id}/types/{type_id}/encryption/{encryption_id}", 403),
    ("POST", "/volume/v3/{project_id}/types/{type_id}/action", 403),
    ("GET", "/volume/v3/{project_id}/os-services", 403),
    ("PUT", "/volume/v3/{project_id}/os-services/{action}", 403),
    ("GET", "/volume/v3/{project_id}/os-hosts", 403),
    ("GET", "/volume/v3/{project_id}/os-hosts/{host}", 403),
    ("GET", "/volume/v3/{project_id}/scheduler-stats/get_pools", 403),
    ("GET", "/volume/v3/{project_id}/capabilities/{host}", 403),
    ("POST", "/volume/v3/{project_id}/snapshots/{snapshot_id}/action", 404),
    ("POST", "/volume/v3/{project_id}/backups/{backup_id}/action", 404),
    ("POST", "/volume/v3/{project_id}/os-volume-transfer", 404),
    ("GET", "/volume/v3/{project_id}/os-volume-transfer", 200),
    ("GET", "/volume/v3/{project_id}/os-volume-transfer/detail", 200),
    ("GET", "/volume/v3/{project_id}/os-volume-transfer/{transfer_id}", 404),
    ("DELETE", "/volume/v3/{project_id}/os-volume-transfer/{transfer_id}", 404),
    ("POST", "/volume/v3/{project_id}/volume-transfers", 404),
    ("GET", "/volume/v3/{project_id}/volume-transfers", 404),
    ("GET", "/volume/v3/{project_id}/volume-transfers/detail", 404),
    ("GET", "/volume/v3/{project_id}/volume-transfers/{transfer_id}", 404),
    ("DELETE", "/volume/v3/{project_id}/volume-transfers/{transfer_id}", 404),
    // A wrong key answers as an unknown transfer would: nothing about it shows.
    ("POST", "/volume/v3/{project_id}/os-volume-transfer/{transfer_id}/accept", 400),
    // Before 3.55 the new path names nothing.
    ("POST", "/volume/v3/{project_id}/volume-transfers/{transfer_id}/accept", 404),
    ("POST", "/volume/v3/{project_id}/snapshots", 404),
    ("GET", "/volume/v3/{project_id}/snapshots", 200),
    ("GET", "/volume/v3/{project_id}/snapshots/detail", 200),
    ("GET", "/volume/v3/{project_id}/snapshots/{snapshot_id}", 404),
    ("PUT", "/volume/v3/{project_id}/snapshots/{snapshot_id}", 404),
    ("DELETE", "/volume/v3/{project_id}/snapshots/{snapshot_id}", 404),
    ("GET", "/volume/v3/{project_id}/snapshots/{snapshot_id}/metadata", 404),
    ("POST", "/volume/v3/{project_id}/snapshots/{snapshot_id}/metadata", 404),
    ("PUT", "/volume/v3/{project_id}/snapshots/{snapshot_id}/metadata", 404),
    ("GET", "/volume/v3/{project_id}/snapshots/{snapshot_id}/metadata/{key}", 404),
    ("PUT", "/volume/v3/{project_id}/snapshots/{snapshot_id}/metadata/{key}", 404),
    ("DELETE", "/volume/v3/{project_id}/snapshots/{snapshot_id}/metadata/{key}", 404),
    ("POST", "/volume/v3/{project_id}/backups", 404),
    ("GET", "/volume/v3/{project_id}/backups", 200),
    ("GET", "/volume/v3/{project_id}/backups/detail", 200),
    ("GET", "/volume/v3/{project_id}/backups/{backup_id}", 404),
    ("PUT", "/volume/v3/{project_id}/backups/{backup_id}", 404),
    ("DELETE", "/volume/v3/{project_id}/backups/{backup_id}", 404),
    ("POST", "/volume/v3/{project_id}/backups/{backup_id}/restore", 404),
    ("GET", "/volume/v3/{project_id}/backups/{backup_id}/export_record", 404),
    ("POST", "/volume/v3/{project_id}/backups/import_record", 403),
    ("GET", "/volume/v3/{tenant_id}/os-quota-class-sets/{class}", 403),
    ("PUT", "/volume/v3/{tenant_id}/os-quota-class-sets/{class}", 403),
    ("GET", "/volume/v3/{tenant_id}/os-quota-sets/{project_id}", 404),
    ("GET", "/volume/v3/{tenant_id}/os-quota-sets/{project_id}/defaults", 404),
    ("PUT", "/volume/v3/{tenant_id}/os-quota-sets/{project_id}", 404),
    ("DELETE", "/volume/v3/{tenant_id}/os-quota-sets/{project_id}", 404),
    ("GET", "/v2/cloudimages", 200),
    ("GET", "/image/v2/images", 200),
    ("POST", "/image/v2/images", 201),
    ("GET", "/image/v2/images/{image_id}", 404),
    ("PATCH", "/image/v2/images/{image_id}", 404),
    ("DELETE", "/image/v2/images/{image_id}", 404),
    ("PUT", "/image/v2/images/{image_id}/file", 404),
    ("GET", "/image/v2/images/{image_id}/file", 404),
    ("PUT", "/image/v2/images/{image_id}/tags/{tag}", 404),
    ("DELETE", "/image/v2/images/{image_id}/tags/{tag}", 404),
    ("GET", "/image/v2/images/{image_id}/members", 404),
    ("GET", "/image/v2/images/{image_id}/tasks", 404),
    ("POST", "/image/v2/images/{image_id}/members", 404),
    ("GET", "/image/v2/images/{image_id}/members/{member_id}", 404),
    ("PUT", "/image/v2/images/{image_id}/members/{member_id}", 404),
    ("DELETE", "/image/v2/images/{image_id}/members/{member_id}", 404),
    ("GET", "/compute/v2.1/servers", 200),
    ("POST", "/compute/v2.1/servers", 202),
    ("GET", "/compute/v2.1/servers/detail", 200),
    ("GET", "/compute/v2.1/servers/{server_id}", 404),
    ("PUT", "/compute/v2.1/servers/{server_id}", 404),
    ("DELETE", "/compute/v2.1/servers/{server_id}", 404),
    ("POST", "/compute/v2.1/servers/{server_id}/action", 404),
    ("GET", "/compute/v2.1/servers/{server_id}/metadata", 404),
    ("POST", "/compute/v2.1/servers/{server_id}/metadata", 404),
    ("PUT", "/compute/v2.1/servers/{server_id}/metadata", 404),
    ("GET", "/compute/v2.1/servers/{server_id}/metadata/{key}", 404),
    ("PUT", "/compute/v2.1/servers/{server_id}/metadata/{key}", 404),
    ("DELETE", "/compute/v2.1/servers/{server_id}/metadata/{key}", 404),
    ("GET", "/compute/v2.1/servers/{server_id}/tags", 404),
    ("PUT", "/compute/v2.1/servers/{server_id}/tags", 404),
    ("DELETE", "/compute/v2.1/servers/{server_id}/tags", 404),
    ("GET", "/compute/v2.1/servers/{server_id}/tags/{tag}", 404),
    ("PUT", "/compute/v2.1/servers/{server_id}/tags/{tag}", 404),
    ("DELETE", "/compute/v2.1/servers/{server_id}/tags/{tag}", 404),
    ("GET", "/compute/v2.1/servers/{server_id}/os-instance-actions", 404),
    ("GET", "/compute/v2.1/servers/{server_id}/os-instance-actions/{request_id}", 404),
    ("GET", "/compute/v2.1/servers/{server_id}/os-server-password", 404),
    ("DELETE", "/compute/v2.1/servers/{server_id}/os-server-password", 404),
    ("GET", "/compute/v2.1/servers/{server_id}/ips", 404),
    ("GET", "/compute/v2.1/servers/{server_id}/os-volume_attachments", 404),
    ("POST", "/compute/v2.1/servers/{server_id}/os-volume_attachments", 404),
    ("GET", "/compute/v2.1/servers/{server_id}/os-volume_attachments/{volume_id}", 404),
    ("DELETE", "/compute/v2.1/servers/{server_id}/os-volume_attachments/{volume_id}", 404),
    ("GET", "/compute/v2.1/servers/{server_id}/ips/{network}", 404),
    ("GET", "/compute/v2.1/extensions", 200),
    ("GET", "/compute/v2.1/extensions/{alias}", 200),
    ("POST", "/compute/v2.1/flavors/{flavor_id}/os-extra_specs", 403),
    ("GET", "/compute/v2.1/flavors/{flavor_id}/os-extra_specs/{key}", 404),
    ("PUT", "/compute/v2.1/flavors/{flavor_id}/os-extra_specs/{key}", 403),
    ("DELETE", "/compute/v2.1/flavors/{flavor_id}/os-extra_specs/{key}", 403),
    ("GET", "/compute/v2.1/images", 200),
    ("GET", "/compute/v2.1/images/detail", 200),
    ("GET", "/compute/v2.1/images/{image_id}", 404),
    ("DELETE", "/compute/v2.1/images/{image_id}", 404),
    ("GET", "/compute/v2.1/images/{image_id}/metadata", 404),
    ("PUT", "/compute/v2.1/images/{image_id}/metadata", 404),
    ("POST", "/compute/v2.1/images/{image_id}/metadata", 404),
    ("GET", "/compute/v2.1/images/{image_id}/metadata/{key}", 404),
    ("PUT", "/compute/v2.1/images/{image_id}/metadata/{key}", 404),
    ("DELETE", "/compute/v2.1/images/{image_id}/metadata/{key}", 404),
    ("GET", "/compute/v2.1/os-server-groups", 200),
    ("POST", "/compute/v2.1/os-server-groups", 200),
    ("GET", "/compute/v2.1/os-server-groups/{server_group_id}", 404),
    ("DELETE", "/compute/v2.1/os-server-groups/{server_group_id}", 404),
    ("GET", "/compute/v2.1/os-hypervisors", 403),
    ("GET", "/compute/v2.1/os-hypervisors/detail", 403),
    ("GET", "/compute/v2.1/os-hypervisors/{hypervisor_id}", 403),
    ("GET", "/compute/v2.1/limits", 200),
    ("GET", "/v1/{project_id}/metering/events", 404),
    ("GET", "/v1/{project_id}/metering/obs-requests", 404),
    ("POST", "/v1/{project_id}/cloudservers", 404),
    ("POST", "/v1.1/{project_id}/cloudservers", 404),
    ("POST", "/v1/{project_id}/cloudservers/action", 404),
    ("POST", "/v1/{project_id}/cloudservers/delete", 404),
    ("GET", "/v1/{project_id}/cloudservers/detail", 404),
    ("GET", "/v1/{project_id}/cloudservers/{server_id}", 404),
    ("POST", "/v1/{project_id}/cloudservers/{server_id}/attachvolume", 404),
    ("DELETE", "/v1/{project_id}/cloudservers/{server_id}/detachvolume/{volume_id}", 404),
    ("GET", "/v1/{project_id}/cloudservers/{server_id}/block_device", 404),
    ("GET", "/v1/{project_id}/cloudservers/{server_id}/block_device/{volume_id}", 404),
    ("GET", "/network/v2.0/extensions", 200),
    ("GET", "/network/v2.0/extensions/{extension_alias}", 200),
    ("GET", "/network/v2.0/networks", 200),
    ("POST", "/network/v2.0/networks", 201),
    ("GET", "/network/v2.0/networks/{network_id}", 404),
    ("PUT", "/network/v2.0/networks/{network_id}", 404),
    ("DELETE", "/network/v2.0/networks/{network_id}", 404),
    ("GET", "/network/v2.0/subnets", 200),
    ("POST", "/network/v2.0/subnets", 404),
    ("GET", "/network/v2.0/subnets/{subnet_id}", 404),
    ("PUT", "/network/v2.0/subnets/{subnet_id}", 404),
    ("DELETE", "/network/v2.0/subnets/{subnet_id}", 404),
    ("GET", "/network/v2.0/ports", 200),
    ("POST", "/network/v2.0/ports", 404),
    ("GET", "/network/v2.0/ports/{port_id}", 404),
    ("PUT", "/network/v2.0/ports/{port_id}", 404),
    ("DELETE", "/network/v2.0/ports/{port_id}", 404),
    ("GET", "/network/v2.0/security-groups", 200),
    ("POST", "/network/v2.0/security-groups", 201),
    ("GET", "/network/v2.0/security-groups/{security_group_id}", 404),
    ("PUT", "/network/v2.0/security-groups/{security_group_id}", 404),
    ("DELETE", "/network/v2.0/security-groups/{security_group_id}", 404),
    ("GET", "/network/v2.0/security-group-rules", 200),
    ("POST", "/network/v2.0/security-group-rules", 404),
    ("GET", "/network/v2.0/security-group-rules/{rule_id}", 404),
    ("DELETE", "/network/v2.0/security-group-rules/{rule_id}", 404),
    ("GET", "/network/v2.0/quotas/{project_id}", 404),
    ("GET", "/network/v2.0/quotas/{project_id}/details.json", 404),
    ("PUT", "/network/v2.0/quotas/{project_id}", 404),
    ("GET", "/network/v2.0/routers", 200),
    ("POST", "/network/v2.0/routers", 201),
    ("GET", "/network/v2.0/routers/{router_id}", 404),
    ("PUT", "/network/v2.0/routers/{router_id}", 404),
    ("DELETE", "/network/v2.0/routers/{router_id}", 404),
    ("PUT", "/network/v2.0/routers/{router_id}/add_router_interface", 404),
    ("PUT", "/network/v2.0/routers/{router_id}/remove_router_interface", 404),
    ("GET", "/network/v2.0/floatingips", 200),
    ("POST", "/network/v2.0/floatingips", 201),
    ("GET", "/network/v2.0/floatingips/{floatingip_id}", 404),
    ("PUT", "/network/v2.0/floatingips/{floatingip_id}", 404),
    ("DELETE", "/network/v2.0/floatingips/{floatingip_id}", 404),
    // The native VPC and EIP APIs, in the victim's project.
    ("POST", "/v1/{project_id}/vpcs", 404),
    ("GET", "/v1/{project_id}/vpcs", 404),
    ("GET", "/v1/{project_id}/vpcs/{vpc_id}", 404),
    ("PUT", "/v1/{project_id}/vpcs/{vpc_id}", 404),
    ("DELETE", "/v1/{project_id}/vpcs/{vpc_id}", 404),
    ("POST", "/v1/{project_id}/subnets", 404),
    ("GET", "/v1/{project_id}/subnets", 404),
    ("GET", "/v1/{project_id}/subnets/{subnet_id}", 404),
    ("PUT", "/v1/{project_id}/vpcs/{vpc_id}/subnets/{subnet_id}", 404),
    ("DELETE", "/v1/{project_id}/vpcs/{vpc_id}/subnets/{subnet_id}", 404),
    ("POST", "/v1/{project_id}/security-groups", 404),
    ("GET", "/v1/{project_id}/security-groups", 404),
    ("GET", "/v1/{project_id}/security-groups/{security_group_id}", 404),
    ("DELETE", "/v1/{project_id}/security-groups/{security_group_id}", 404),
    ("POST", "/v1/{project_id}/security-group-rules", 404),
    ("GET", "/v1/{project_id}/security-group-rules", 404),
    ("GET", "/v1/{project_id}/security-group-rules/{rule_id}", 404),
    ("DELETE", "/v1/{project_id}/security-group-rules/{rule_id}", 404),
    ("POST", "/v1/{project_id}/ports", 404),
    ("GET", "/v1/{project_id}/ports", 404),
    ("GET", "/v1/{project_id}/ports/{port_id}", 404),
    ("PUT", "/v1/{project_id}/ports/{port_id}", 404),
    ("DELETE", "/v1/{project_id}/ports/{port_id}", 404),
    ("POST", "/v1/{project_id}/publicips", 404),
    ("GET", "/v1/{project_id}/publicips", 404),
    ("GET", "/v1/{project_id}/publicips/{publicip_id}", 404),
    ("PUT", "/v1/{project_id}/publicips/{publicip_id}", 404),
    ("DELETE", "/v1/{project_id}/publicips/{publicip_id}", 404),
    ("GET", "/v1/{project_id}/bandwidths", 404),
    ("GET", "/v1/{project_id}/bandwidths/{bandwidth_id}", 404),
    ("PUT", "/v1/{project_id}/bandwidths/{bandwidth_id}", 404),
    // Support: the intruder's own account (Default) answers; the victim's contacts and tickets
    // are not found; a victim's user is no user of the intruder's account; only named contacts
    // open tickets.
    ("GET", "/v1/support/plans", 200),
    ("GET", "/v1/support/subscription", 200),
    ("PUT", "/v1/support/subscription", 200),
    ("GET", "/v1/support/contacts", 200),
    ("POST", "/v1/support/contacts", 400),
    ("DELETE", "/v1/support/contacts/{contact_id}", 404),
    ("GET", "/v1/support/tickets", 200),
    ("POST", "/v1/support/tickets", 403),
    ("GET", "/v1/support/tickets/{ticket_id}", 404),
    ("POST", "/v1/support/tickets/{ticket_id}/comments", 404),
    ("POST", "/v1/support/tickets/{ticket_id}/actions", 404),
    ("GET", "/v1/support/invitations", 200),
    ("POST", "/v1/support/invitations", 404),
    ("DELETE", "/v1/support/invitations/{invitation_id}", 404),
    ("GET", "/v1/support/notices", 200),
    ("POST", "/v1/support/notices", 403),
    // Billing: the intruder's own account answers (its invoices, budgets, reservations); the
    // victim's budget and reserved instance are not found; the BSS calls need their cycle.
    ("GET", "/v1/billing/prices", 200),
    ("GET", "/v1/billing/account", 200),
    ("PUT", "/v1/billing/account", 200),
    ("GET", "/v1/billing/invoices", 200),
    ("GET", "/v1/billing/invoices/{month}", 200),
    ("GET", "/v1/billing/budgets", 200),
    ("POST", "/v1/billing/budgets", 201),
    ("DELETE", "/v1/billing/budgets/{budget_id}", 404),
    ("GET", "/v1/billing/budget-alerts", 200),
    ("GET", "/v1/billing/reserved-instances", 200),
    ("POST", "/v1/billing/reserved-instances", 201),
    ("GET", "/v1/billing/reserved-instances/{reservation_id}", 404),
    ("POST", "/v1/billing/reserved-instances/{reservation_id}/modify", 404),
    ("POST", "/v1/billing/reserved-instances/{reservation_id}/cancel", 404),
    ("GET", "/v2/bills/customer-bills/monthly-sum", 400),
    ("GET", "/v2/bills/customer-bills/fee-records", 400),
    ("GET", "/v2/bills/customer-bills/res-fee-records", 400),
    ("POST", "/v2/bills/customer-bills/res-records/query", 400),
    // Object storage for token holders: the intruder's own buckets; the victim's: not found.
    ("GET", "/v1/obs/buckets", 200),
    ("POST", "/v1/obs/buckets", 201),
    ("DELETE", "/v1/obs/buckets/{bucket}", 404),
    ("GET", "/v1/obs/buckets/{bucket}/objects", 404),
    ("PUT", "/v1/obs/buckets/{bucket}/object", 404),
    ("GET", "/v1/obs/buckets/{bucket}/object", 404),
    ("DELETE", "/v1/obs/buckets/{bucket}/object", 404),
    // NAT gateways in the victim's project; DNS (the project is the caller's own).
    ("POST", "/v2/{project_id}/nat_gateways", 404),
    ("GET", "/v2/{project_id}/nat_gateways", 404),
    ("GET", "/v2/{project_id}/nat_gateways/{nat_gateway_id}", 404),
    ("PUT", "/v2/{project_id}/nat_gateways/{nat_gateway_id}", 404),
    ("DELETE", "/v2/{project_id}/nat_gateways/{nat_gateway_id}", 404),
    ("POST", "/v2/{project_id}/snat_rules", 404),
    ("GET", "/v2/{project_id}/snat_rules", 404),
    ("GET", "/v2/{project_id}/snat_rules/{snat_rule_id}", 404),
    ("DELETE", "/v2/{project_id}/nat_gateways/{nat_gateway_id}/snat_rules/{snat_rule_id}", 404),
    ("POST", "/v2/{project_id}/dnat_rules", 404),
    ("GET", "/v2/{project_id}/dnat_rules", 404),
    ("GET", "/v2/{project_id}/dnat_rules/{dnat_rule_id}", 404),
    ("DELETE", "/v2/{project_id}/nat_gateways/{nat_gateway_id}/dnat_rules/{dnat_rule_id}", 404),
    ("POST", "/v2/zones", 202),
    ("GET", "/v2/zones", 200),
    ("GET", "/v2/zones/{zone_id}", 404),
    ("PATCH", "/v2/zones/{zone_id}", 404),
    ("DELETE", "/v2/zones/{zone_id}", 404),
    ("POST", "/v2/zones/{zone_id}/associaterouter", 404),
    ("POST", "/v2/zones/{zone_id}/disassociaterouter", 404),
    ("POST", "/v2/zones/{zone_id}/recordsets", 404),
    ("GET", "/v2/zones/{zone_id}/recordsets", 404),
    ("GET", "/v2/zones/{zone_id}/recordsets/{recordset_id}", 404),
    ("PUT", "/v2/zones/{zone_id}/recordsets/{recordset_id}", 404),
    ("DELETE", "/v2/zones/{zone_id}/recordsets/{recordset_id}", 404),
];

/// Whether a body is an error in one of the API families' formats.
fn is_error_document(text: &str) -> bool {
    let Ok(Value::Object(v)) = serde_json::from_str::<Value>(text) else { return false };
    if v.contains_key("error_code") && v.contains_key("error_msg") {
        return true;
    }
    // Keystone {"error": {...}}, Nova {"unauthorized": {...}}, Neutron {"NeutronError": {...}}.
    v.len() == 1 && v.values().next().and_then(|inner| inner.get("message")).is_some()
}

/// A complete support ticket about a project.
fn support_ticket(project: &str) -> Value {
    json!({"project_id": project, "category": "incident", "perceived_criticality": "major", "subject": "victim's outage",
        "resource_ids": ["i-1"], "report": {"company_name": "Victim Co", "reporter_name": "Vic", "reporter_position": "ops",
        "reporter_email": "vic@example.com", "reporter_phone": "123", "user_name": "Vic", "user_email": "vic@example.com",
        "service": "ecs", "component": "network", "description": "down", "occurred_at": "2026-12-05T10:00:00Z",
        "api_login": "vic", "api_url": "http://x", "source_ip": "192.0.2.1"}})
}

/// The victim tenant's resources, by path parameter name.
struct Victim {
    params: HashMap<&'static str, String>,
    token: String,
}

fn fill(path: &str, params: &HashMap<&'static str, String>) -> String {
    let mut out = path.to_string();
    for (k, v) in params {
        out = out.replace(&format!("{{{k}}}"), v);
    }
    assert!(!out.contains('{'), "no value for a parameter of {path}");
    out
}

/// A body that would be valid for the endpoint, so that a refusal comes from authorisation,
/// not from validation.
fn body_for(method: &str, path: &str, v: &Victim) -> Option<Value> {
    let p = &v.params;
    let d = &p["domain_id"];
    match (method, path) {
        ("POST", "/v3/domains") => Some(json!({"domain": {"name": "evil"}})),
        ("PATCH", "/v3/domains/{domain_id}") => Some(json!({"domain": {"description": "evil"}})),
        ("POST", "/v3/projects") => Some(json!({"project": {"name": "evil", "domain_id": d}})),
        ("PATCH", "/v3/projects/{project_id}") => Some(json!({"project": {"description": "evil"}})),
        ("PUT", "/v3/projects/{project_id}/tags") => Some(json!({"tags": ["evil"]})),
        ("POST", "/v3/users") => Some(json!({"user": {"name": "evil", "domain_id": d, "password": "x"}})),
        ("PATCH", "/v3/users/{user_id}") => Some(json!({"user": {"password": "evil"}})),
        ("POST", "/v3/users/{user_id}/password") => {
            Some(json!({"user": {"original_password": "victim-pw", "password": "evil"}}))
        }
        ("POST", "/v3/groups") => Some(json!({"group": {"name": "evil", "domain_id": d}})),
        ("PATCH", "/v3/groups/{group_id}") => Some(json!({"group": {"description": "evil"}})),
        ("POST", "/v3/roles") => Some(json!({"role": {"name": "evil"}})),
        ("PATCH", "/v3/roles/{role_id}") => Some(json!({"role": {"description": "evil"}})),
        ("POST", "/v3/credentials") => {
            Some(json!({"credential": {"user_id": p["user_id"], "project_id": p["project_id"],
            "type": "ec2", "blob": "{\"access\":\"EVIL\",\"secret\":\"evil\"}"}}))
        }
        ("PATCH", "/v3/credentials/{credential_id}") => Some(json!({"credential": {"blob": "{}"}})),
        ("POST", "/v3/{project_id}/tracker") => Some(json!({"tracker_type": "system", "tracker_name": "system"})),
        ("PUT", "/v3/{project_id}/tracker") => {
            Some(json!({"tracker_type": "system", "tracker_name": "system", "status": "disabled"}))
        }
        ("POST", "/v3.0/OS-CREDENTIAL/credentials") => Some(json!({"credential": {"user_id": p["user_id"]}})),
        ("PUT", "/v3.0/OS-CREDENTIAL/credentials/{access_key}") => Some(json!({"credential": {"status": "inactive"}})),
        ("PUT", "/compute/v2.1/os-quota-sets/{project_id}") => Some(json!({"quota_set": {"instances": 1000}})),
        ("PUT", "/network/v2.0/quotas/{project_id}") => Some(json!({"quota": {"network": 1000}})),
        // The intruder's own network and group: allowed; the victim's: not found.
        ("POST", "/network/v2.0/networks") => Some(json!({"network": {"name": "intruder-net"}})),
        ("PUT", "/network/v2.0/networks/{network_id}") => Some(json!({"network": {"name": "evil"}})),
        ("POST", "/network/v2.0/subnets") => {
            Some(json!({"subnet": {"network_id": p["network_id"], "cidr": "10.66.0.0/24", "ip_version": 4}}))
        }
        ("PUT", "/network/v2.0/subnets/{subnet_id}") => Some(json!({"subnet": {"name": "evil"}})),
        ("POST", "/network/v2.0/ports") => Some(json!({"port": {"network_id": p["network_id"]}})),
        ("PUT", "/network/v2.0/ports/{port_id}") => Some(json!({"port": {"name": "evil"}})),
        ("POST", "/network/v2.0/security-groups") => Some(json!({"security_group": {"name": "intruder-sg"}})),
        ("PUT", "/network/v2.0/security-groups/{security_group_id}") => {
            Some(json!({"security_group": {"name": "evil"}}))
        }
        ("POST", "/network/v2.0/security-group-rules") => Some(json!({"security_group_rule": {
            "security_group_id": p["security_group_id"], "direction": "ingress"}})),
        // The intruder's own router and floating IP: allowed; the victim's: not found.
        ("POST", "/network/v2.0/routers") => Some(json!({"router": {"name": "intruder-router"}})),
        ("PUT", "/network/v2.0/routers/{router_id}") => Some(json!({"router": {"name": "evil"}})),
        ("PUT", "/network/v2.0/routers/{router_id}/add_router_interface")
        | ("PUT", "/network/v2.0/routers/{router_id}/remove_router_interface") => {
            Some(json!({"subnet_id": p["subnet_id"]}))
        }
        ("POST", "/network/v2.0/floatingips") => {
            Some(json!({"floatingip": {"floating_network_id": p["external_network_id"]}}))
        }
        ("PUT", "/network/v2.0/floatingips/{floatingip_id}") => Some(json!({"floatingip": {"port_id": p["port_id"]}})),
        ("POST", "/v1/{project_id}/vpcs") => Some(json!({"vpc": {"name": "evil", "cidr": "10.0.0.0/16"}})),
        ("PUT", "/v1/{project_id}/vpcs/{vpc_id}") => Some(json!({"vpc": {"name": "evil"}})),
        ("POST", "/v1/{project_id}/subnets") => Some(json!({"subnet": {"name": "evil", "cidr": "10.0.1.0/24",
            "gateway_ip": "10.0.1.1", "vpc_id": p["vpc_id"]}})),
        ("PUT", "/v1/{project_id}/vpcs/{vpc_id}/subnets/{subnet_id}") => Some(json!({"subnet": {"name": "evil"}})),
        ("POST", "/v1/{project_id}/security-groups") => Some(json!({"security_group": {"name": "evil"}})),
        ("POST", "/v1/{project_id}/security-group-rules") => Some(json!({"security_group_rule": {
            "security_group_id": p["security_group_id"], "direction": "ingress"}})),
        ("POST", "/v1/{project_id}/ports") => Some(json!({"port": {"network_id": p["network_id"]}})),
        ("PUT", "/v1/{project_id}/ports/{port_id}") => Some(json!({"port": {"name": "evil"}})),
        ("POST", "/v1/{project_id}/publicips") => Some(json!({"publicip": {"type": "5_bgp"},
            "bandwidth": {"name": "evil", "size": 5, "share_type": "PER"}})),
        ("PUT", "/v1/{project_id}/publicips/{publicip_id}") => Some(json!({"publicip": {"port_id": p["port_id"]}})),
        ("PUT", "/v1/{project_id}/bandwidths/{bandwidth_id}") => Some(json!({"bandwidth": {"size": 1000}})),
        ("POST", "/v2/{project_id}/nat_gateways") => Some(json!({"nat_gateway": {"name": "evil", "spec": "1",
            "router_id": p["router_id"], "internal_network_id": p["network_id"]}})),
        ("PUT", "/v2/{project_id}/nat_gateways/{nat_gateway_id}") => Some(json!({"nat_gateway": {"name": "evil"}})),
        ("POST", "/v2/{project_id}/snat_rules") => Some(json!({"snat_rule": {"nat_gateway_id": p["nat_gateway_id"],
            "cidr": "10.9.0.0/25", "floating_ip_id": p["nat_eip_id"]}})),
        ("POST", "/v2/{project_id}/dnat_rules") => Some(json!({"dnat_rule": {"nat_gateway_id": p["nat_gateway_id"],
            "floating_ip_id": p["nat_eip_id"], "private_ip": "10.9.0.9", "protocol": "tcp",
            "internal_service_port": 22, "external_service_port": 2222}})),
        // The intruder's own public zone: allowed; the victim's zones: not found.
        ("POST", "/v2/zones") => Some(json!({"name": "intruder.example.", "zone_type": "public"})),
        ("PATCH", "/v2/zones/{zone_id}") => Some(json!({"description": "evil"})),
        ("POST", "/v2/zones/{zone_id}/associaterouter") | ("POST", "/v2/zones/{zone_id}/disassociaterouter") => {
            Some(json!({"router": {"router_id": p["router_id"]}}))
        }
        ("POST", "/v2/zones/{zone_id}/recordsets") => {
            Some(json!({"name": "evil.victim.internal.", "type": "A", "records": ["10.9.0.66"]}))
        }
        ("PUT", "/v2/zones/{zone_id}/recordsets/{recordset_id}") => Some(json!({"records": ["10.9.0.66"]})),
        ("PUT", t) if t.starts_with("/network/v2.0/") && t.ends_with("/tags") => Some(json!({"tags": ["evil"]})),
        ("PUT", "/v1/support/subscription") => Some(json!({"plan": "standard"})),
        ("POST", "/v1/support/contacts") => {
            Some(json!({"user_id": p["user_id"], "last_name": "Evil", "first_name": "E",
            "position": "x", "email": "evil@example.com", "phone": "123", "availability": "always"}))
        }
        ("POST", "/v1/support/tickets") => Some(support_ticket(&p["project_id"])),
        ("POST", "/v1/support/tickets/{ticket_id}/comments") => Some(json!({"text": "evil"})),
        ("POST", "/v1/support/tickets/{ticket_id}/actions") => Some(json!({"action": "confirm"})),
        ("POST", "/v1/support/invitations") => {
            Some(json!({"project_id": p["project_id"], "engineer_id": p["engineer_id"], "hours": 2}))
        }
        ("PUT", "/v1/billing/account") => Some(json!({"primary_region": "eu-west-0"})),
        ("POST", "/v1/billing/budgets") => Some(json!({"name": "intruder", "amount": "10"})),
        ("POST", "/v1/obs/buckets") => Some(json!({"name": "intruder-bucket-1"})),
        ("POST", "/v1/billing/reserved-instances") => Some(json!({"flavor": "s3.small.1", "term_years": 1})),
        ("POST", "/v1/billing/reserved-instances/{reservation_id}/modify") => Some(json!({"flavor": "s3.medium.2"})),
        ("POST", "/v2/bills/customer-bills/res-records/query") => Some(json!({"limit": 10})),
        ("POST", "/v1/support/notices") => Some(json!({"kind": "urgent", "title": "evil", "services": ["ecs"],
            "starts_at": "2030-01-01T00:00:00Z", "interruption_minutes": 1})),
        ("POST", "/image/v2/images") => Some(json!({"name": "intruder-img"})),
        ("POST", "/compute/v2.1/flavors") => {
            Some(json!({"flavor": {"name": "evil", "vcpus": 1, "ram": 64, "disk": 0}}))
        }
        ("PUT", "/compute/v2.1/flavors/{flavor_id}") => Some(json!({"flavor": {"description": "evil"}})),
        ("POST", "/compute/v2.1/flavors/{flavor_id}/action") => {
            Some(json!({"addTenantAccess": {"tenant": p["project_id"]}}))
        }
        ("POST", "/compute/v2.1/os-keypairs") => Some(json!({"keypair": {"name": "intruder-key",
            "public_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB0D7Xw2Vn0DbYqSPxqWqm3g9jMsw0Tq7mjvJm7GZk4p x"}})),
        ("PATCH", "/image/v2/images/{image_id}") => Some(json!([{"op": "replace", "path": "/name", "value": "evil"}])),
        ("POST", "/image/v2/images/{image_id}/members") => Some(json!({"member": p["project_id"]})),
        ("PUT", "/image/v2/images/{image_id}/members/{member_id}") => Some(json!({"status": "accepted"})),
        ("POST", "/compute/v2.1/servers") => Some(json!({"server": {"name": "intruder-vm",
            "imageRef": "nimbus-tiny", "flavorRef": "s3.small.1"}})),
        ("PUT", "/compute/v2.1/servers/{server_id}") => Some(json!({"server": {"name": "evil"}})),
        ("POST", "/compute/v2.1/servers/{server_id}/action") => Some(json!({"os-stop": null})),
        ("POST", "/compute/v2.1/servers/{server_id}/metadata")
        | ("PUT", "/compute/v2.1/servers/{server_id}/metadata") => Some(json!({"metadata": {"k": "evil"}})),
        ("PUT", "/compute/v2.1/servers/{server_id}/metadata/{key}") => Some(json!({"meta": {"k": "evil"}})),
        ("PUT", "/compute/v2.1/servers/{server_id}/tags") => Some(json!({"tags": ["evil"]})),
        ("POST", "/v1/{project_id}/cloudservers") | ("POST", "/v1.1/{project_id}/cloudservers") => {
            Some(json!({"server": {"name": "intruder-vm", "imageRef": "nimbus-tiny", "flavorRef": "s3.small.1",
                "vpcid": "default", "nics": [{"subnet_id": "default"}], "root_volume": {"volumetype": "SSD"}}}))
        }
        ("POST", "/v1/{project_id}/cloudservers/action") => {
            Some(json!({"os-stop": {"servers": [{"id": p["server_id"]}], "type": "HARD"}}))
        }
        ("POST", "/v1/{project_id}/cloudservers/delete") => Some(json!({"servers": [{"id": p["server_id"]}]})),
        ("POST", "/compute/v2.1/servers/{server_id}/os-volume_attachments")
        | ("POST", "/v1/{project_id}/cloudservers/{server_id}/attachvolume") => {
            Some(json!({"volumeAttachment": {"volumeId": p["volume_id"]}}))
        }
        ("POST", "/compute/v2.1/flavors/{flavor_id}/os-extra_specs") => Some(json!({"extra_specs": {"k": "evil"}})),
        ("PUT", "/compute/v2.1/flavors/{flavor_id}/os-extra_specs/{key}") => Some(json!({"k": "evil"})),
        ("PUT", "/compute/v2.1/images/{image_id}/metadata") | ("POST", "/compute/v2.1/images/{image_id}/metadata") => {
            Some(json!({"metadata": {"k": "evil"}}))
        }
        ("PUT", "/compute/v2.1/images/{image_id}/metadata/{key}") => Some(json!({"meta": {"k": "evil"}})),
        ("POST", "/compute/v2.1/os-server-groups") => {
            Some(json!({"server_group": {"name": "intruder-group", "policies": ["affinity"]}}))
        }
        ("PUT", "/volume/v3/{tenant_id}/os-quota-sets/{project_id}") => Some(json!({"quota_set": {"volumes": 1000}})),
        ("POST", "/volume/v3/{project_id}/backups/import_record") => Some(
            json!({"backup-record": {"backup_service": "cinder.backup.drivers.nimbus_chunks", "backup_url": "e30="}}),
        ),
        ("PUT", "/volume/v3/{tenant_id}/os-quota-class-sets/{class}") => {
            Some(json!({"quota_class_set": {"volumes": 1000}}))
        }
        ("PUT", "/compute/v2.1/os-quota-class-sets/{class}") => Some(json!({"quota_class_set": {"instances": 1000}})),
        ("POST", "/volume/v3/{project_id}/volumes") => Some(json!({"volume": {"size": 10, "name": "intruder-vol"}})),
        ("POST", "/v3/{project_id}/vaults") => Some(json!({"vault": {"name": "evil", "resources": [],
            "billing": {"object_type": "disk", "size": 100}}})),
        ("PUT", "/v3/{project_id}/vaults/{vault_id}") => Some(json!({"vault": {"name": "evil"}})),
        ("POST", "/v3/{project_id}/vaults/{vault_id}/addresources") => {
            Some(json!({"resources": [{"id": p["volume_id"], "type": "OS::Cinder::Volume"}]}))
        }
        ("POST", "/v3/{project_id}/vaults/{vault_id}/removeresources") => {
            Some(json!({"resource_ids": [p["volume_id"]]}))
        }
        ("POST", "/v3/{project_id}/vaults/{vault_id}/associatepolicy")
        | ("POST", "/v3/{project_id}/vaults/{vault_id}/dissociatepolicy") => Some(json!({"policy_id": p["policy_id"]})),
        ("POST", "/v3/{project_id}/policies") | ("PUT", "/v3/{project_id}/policies/{policy_id}") => {
            Some(json!({"policy": {"name": "evil", "operation_type": "backup", "operation_definition": {},
                "trigger": {"properties": {"pattern": ["FREQ=DAILY;BYHOUR=1;BYMINUTE=00"]}}}}))
        }
        ("POST", "/v3/{project_id}/checkpoints") => Some(json!({"checkpoint": {"vault_id": p["vault_id"]}})),
        ("PUT", "/v3/{project_id}/backups/{backup_id}") => Some(json!({"backup": {"name": "evil"}})),
        ("POST", "/v3/{project_id}/backups/{backup_id}/restore") => {
            Some(json!({"restore": {"volume_id": p["volume_id"]}}))
        }
        ("POST", "/volume/v3/{project_id}/backups") => {
            Some(json!({"backup": {"volume_id": p["volume_id"], "force": true}}))
        }
        ("PUT", "/volume/v3/{project_id}/backups/{backup_id}") => Some(json!({"backup": {"name": "evil"}})),
        ("POST", "/volume/v3/{project_id}/backups/{backup_id}/restore") => {
            Some(json!({"restore": {"volume_id": p["volume_id"]}}))
        }
        ("POST", "/volume/v3/{project_id}/snapshots") | ("POST", "/v2/{project_id}/cloudsnapshots") => {
            Some(json!({"snapshot": {"volume_id": p["volume_id"], "force": true}}))
        }
        ("PUT", "/volume/v3/{project_id}/snapshots/{snapshot_id}")
        | ("PUT", "/v2/{project_id}/cloudsnapshots/{snapshot_id}") => Some(json!({"snapshot": {"name": "evil"}})),
        ("POST" | "PUT", "/volume/v3/{project_id}/snapshots/{snapshot_id}/metadata") => {
            Some(json!({"metadata": {"evil": "1"}}))
        }
        ("PUT", "/volume/v3/{project_id}/snapshots/{snapshot_id}/metadata/{key}")
        | ("PUT", "/volume/v3/{project_id}/volumes/{volume_id}/metadata/{key}") => Some(json!({"meta": {"k": "evil"}})),
        ("POST", "/volume/v3/{project_id}/os-volume-transfer")
        | ("POST", "/volume/v3/{project_id}/volume-transfers") => {
            Some(json!({"transfer": {"volume_id": p["volume_id"]}}))
        }
        ("POST", "/volume/v3/{project_id}/os-volume-transfer/{transfer_id}/accept")
        | ("POST", "/volume/v3/{project_id}/volume-transfers/{transfer_id}/accept") => {
            Some(json!({"accept": {"auth_key": "not-the-key"}}))
        }
        ("POST", "/volume/v3/{project_id}/backups/{backup_id}/action") => {
            Some(json!({"os-reset_status": {"status": "error"}}))
        }
        ("POST", "/volume/v3/{project_id}/snapshots/{snapshot_id}/action") => {
            Some(json!({"os-update_snapshot_status": {"status": "error"}}))
        }
        ("POST", "/v2/{project_id}/cloudsnapshots/{snapshot_id}/rollback") => {
            Some(json!({"rollback": {"volume_id": p["volume_id"]}}))
        }
        ("POST", "/volume/v3/{project_id}/types") => Some(json!({"volume_type": {"name": "evil"}})),
        ("POST", "/volume/v3/{project_id}/types/{type_id}/action") => {
            Some(json!({"addProjectAccess": {"project": p["project_id"]}}))
        }
        ("POST", "/volume/v3/{project_id}/qos-specs") => Some(json!({"qos_specs": {"name": "evil"}})),
        ("POST", "/volume/v3/{project_id}/group_types") => Some(json!({"group_type": {"name": "evil"}})),
        ("PUT", "/volume/v3/{project_id}/group_types/{group_type_id}") => Some(json!({"group_type": {"name": "evil"}})),
        ("POST", "/volume/v3/{project_id}/group_types/{group_type_id}/group_specs") => {
            Some(json!({"group_specs": {"k": "evil"}}))
        }
        ("PUT", "/volume/v3/{project_id}/group_types/{group_type_id}/group_specs/{key}") => Some(json!({"k": "evil"})),
        // A group of the intruder's own, of a public group type: allowed.
        ("POST", "/volume/v3/{project_id}/groups") => Some(json!({"group": {"name": "intruder-group",
            "group_type": p["group_type_id"], "volume_types": [p["type_id"]]}})),
        ("POST", "/volume/v3/{project_id}/groups/action") => {
            Some(json!({"create-from-src": {"source_group_id": p["volume_group_id"]}}))
        }
        ("PUT", "/volume/v3/{project_id}/groups/{volume_group_id}") => Some(json!({"group": {"name": "evil"}})),
        ("POST", "/volume/v3/{project_id}/groups/{volume_group_id}/action") => {
            Some(json!({"delete": {"delete-volumes": true}}))
        }
        ("POST", "/volume/v3/{project_id}/group_snapshots") => {
            Some(json!({"group_snapshot": {"group_id": p["volume_group_id"]}}))
        }
        ("POST", "/volume/v3/{project_id}/group_snapshots/{group_snapshot_id}/action") => {
            Some(json!({"reset_status": {"status": "error"}}))
        }
        ("PUT", "/volume/v3/{project_id}/qos-specs/{qos_id}") => Some(json!({"qos_specs": {"total_iops_sec": "1"}})),
        ("PUT", "/volume/v3/{project_id}/qos-specs/{qos_id}/delete_keys") => Some(json!({"keys": ["total_iops_sec"]})),
        ("PUT", "/volume/v3/{project_id}/types/{type_id}") => Some(json!({"volume_type": {"name": "evil"}})),
        ("POST", "/volume/v3/{project_id}/types/{type_id}/extra_specs") => Some(json!({"extra_specs": {"k": "evil"}})),
        ("POST", "/volume/v3/{project_id}/types/{type_id}/encryption")
        | ("PUT", "/volume/v3/{project_id}/types/{type_id}/encryption/{encryption_id}") => {
            Some(json!({"encryption": {"provider": "luks", "control_location": "front-end"}}))
        }
        ("PUT", "/volume/v3/{project_id}/types/{type_id}/extra_specs/{key}") => Some(json!({"k": "evil"})),
        ("PUT", "/volume/v3/{project_id}/volumes/{volume_id}") => Some(json!({"volume": {"name": "evil"}})),
        ("POST", "/volume/v3/{project_id}/volumes/{volume_id}/action") => Some(json!({"os-extend": {"new_size": 20}})),
        ("POST" | "PUT", "/volume/v3/{project_id}/volumes/{volume_id}/metadata") => {
            Some(json!({"metadata": {"evil": "1"}}))
        }
        ("POST", "/v1.0/resource-tags/batch-create") | ("POST", "/v1.0/resource-tags/batch-delete") => Some(json!({
            "resources": [{"resource_id": p["project_id"], "resource_type": "project"}],
            "tags": [{"key": "t1", "value": "evil"}]})),
        _ => None,
    }
}

async fn setup_victim(region: &Region, admin: &str) -> Victim {
    let call = |m: &'static str, p: String, b: Option<Value>| async move {
        let (s, v) = region.call(m, &p, Some(admin), b).await;
        assert!(s < 300, "{m} {p}: {s} {v}");
        v
    };
    let d = call("POST", "/v3/domains".into(), Some(json!({"domain": {"name": "victim-co"}}))).await;
    let domain_id = d["domain"]["id"].as_str().unwrap().to_string();
    let p = call(
        "POST",
        "/v3/projects".into(),
        Some(json!({"project": {"name": "victim", "domain_id": domain_id, "tags": ["t1"]}})),
    )
    .await;
    let project_id = p["project"]["id"].as_str().unwrap().to_string();
    let u = call(
        "POST",
        "/v3/users".into(),
        Some(json!({"user": {"name": "vic", "domain_id": domain_id, "password": "victim-pw"}})),
    )
    .await;
    let user_id = u["user"]["id"].as_str().unwrap().to_string();
    let g =
        call("POST", "/v3/groups".into(), Some(json!({"group": {"name": "victims", "domain_id": domain_id}}))).await;
    let group_id = g["group"]["id"].as_str().unwrap().to_string();
    let roles = call("GET", "/v3/roles?name=member".into(), None).await;
    let role_id = roles["roles"][0]["id"].as_str().unwrap().to_string();
    call("PUT", format!("/v3/projects/{project_id}/users/{user_id}/roles/{role_id}"), None).await;
    call("PUT", format!("/v3/groups/{group_id}/users/{user_id}"), None).await;
    let cred = call(
        "POST",
        "/v3/credentials".into(),
        Some(json!({"credential": {"user_id": user_id, "project_id": project_id, "type": "ec2",
            "blob": "{\"access\":\"VICTIMACCESSKEY00001\",\"secret\":\"victim-secret\"}"}})),
    )
    .await;
    let credential_id = cred["credential"]["id"].as_str().unwrap().to_string();
    let services = call("GET", "/v3/services".into(), None).await;
    let service_id = services["services"][0]["id"].as_str().unwrap().to_string();
    // A job of the victim's: deleting one of its sub-projects queues a purge job.
    let sub =
        call("POST", "/v3/projects".into(), Some(json!({"project": {"name": "victim-sub", "domain_id": domain_id}})))
            .await;
    let sub_id = sub["project"]["id"].as_str().unwrap().to_string();
    let r = region
        .http
        .delete(format!("{}/identity/v3/projects/{sub_id}", region.url))
        .header("X-Auth-Token", admin)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let job_id = r.headers()["x-nimbus-job-id"].to_str().unwrap().to_string();

    let token = {
        // The victim's project lives in its own domain: sign in by ids.
        let body = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "id": user_id, "password": "victim-pw"}}}, "scope": {"project": {"id": project_id}}}});
        let r = region.http.post(format!("{}/identity/v3/auth/tokens", region.url)).json(&body).send().await.unwrap();
        assert_eq!(r.status(), 201);
        r.headers()["x-subject-token"].to_str().unwrap().to_string()
    };
    let (s, img) = region
        .call(
            "POST",
            "/image/v2/images",
            Some(&token),
            Some(json!({"name": "victim-img", "tags": ["t1"], "visibility": "private"})),
        )
        .await;
    assert_eq!(s, 201, "{img}");
    let image_id = img["id"].as_str().unwrap().to_string();
    // A private flavor only the victim's project may use, and a key pair of the victim's.
    let (s, f) = region
        .call(
            "POST",
            "/compute/v2.1/flavors",
            Some(admin),
            Some(json!({"flavor": {"name": "victim-flavor", "vcpus": 1,
            "ram": 256, "disk": 0, "os-flavor-access:is_public": false}})),
        )
        .await;
    assert_eq!(s, 200, "{f}");
    let flavor_id = f["flavor"]["id"].as_str().unwrap().to_string();
    let (s, _) = region
        .call(
            "POST",
            &format!("/compute/v2.1/flavors/{flavor_id}/action"),
            Some(admin),
            Some(json!({"addTenantAccess": {"tenant": project_id}})),
        )
        .await;
    assert_eq!(s, 200);
    let (s, k) = region
        .call(
            "POST",
            "/compute/v2.1/os-keypairs",
            Some(&token),
            Some(json!({"keypair": {"name": "victim-key",
            "public_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB0D7Xw2Vn0DbYqSPxqWqm3g9jMsw0Tq7mjvJm7GZk4p victim"}})),
        )
        .await;
    assert_eq!(s, 200, "{k}");
    // A server of the victim's (on the private flavor), with metadata and a tag, in a group.
    let (s, g) = region
        .call(
            "POST",
            "/compute/v2.1/os-server-groups",
            Some(&token),
            Some(json!({"server_group": {"name": "victim-group", "policies": ["anti-affinity"]}})),
        )
        .await;
    assert_eq!(s, 200, "{g}");
    let server_group_id = g["server_group"]["id"].as_str().unwrap().to_string();
    let (s, srv) = region
        .call(
            "POST",
            "/compute/v2.1/servers",
            Some(&token),
            Some(json!({"server": {"name": "victim-vm", "imageRef": "nimbus-tiny", "flavorRef": flavor_id,
                "metadata": {"k": "v"}}, "os:scheduler_hints": {"group": server_group_id}})),
        )
        .await;
    assert_eq!(s, 202, "{srv}");
    let server_id = srv["server"]["id"].as_str().unwrap().to_string();
    let request_id = region
        .http
        .get(format!("{}/compute/v2.1/servers/{server_id}/os-instance-actions", region.url))
        .header("X-Auth-Token", &token)
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["instanceActions"][0]["request_id"]
        .as_str()
        .unwrap()
        .to_string();
    let r = region
        .http
        .put(format!("{}/compute/v2.1/servers/{server_id}/tags/t1", region.url))
        .header("X-Auth-Token", &token)
        .header("OpenStack-API-Version", "compute 2.26")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    // A volume of the victim's, with metadata; the types are public.
    let (s, vol) = region
        .call(
            "POST",
            &format!("/volume/v3/{project_id}/volumes"),
            Some(&token),
            Some(json!({"volume": {"size": 10, "name": "victim-vol", "metadata": {"k": "v"}}})),
        )
        .await;
    assert_eq!(s, 202, "{vol}");
    let volume_id = vol["volume"]["id"].as_str().unwrap().to_string();
    // A snapshot of it, once it is made.
    let vol_url = format!("/volume/v3/{project_id}/volumes/{volume_id}");
    region
        .wait_for(60, "the victim's volume", || async {
            let (_, v) = region.call("GET", &vol_url, Some(&token), None).await;
            (v["volume"]["status"] == "available").then_some(())
        })
        .await;
    let (s, snap) = region
        .call(
            "POST",
            &format!("/volume/v3/{project_id}/snapshots"),
            Some(&token),
            Some(json!({"snapshot": {"volume_id": volume_id, "name": "victim-snap", "metadata": {"k": "v"}}})),
        )
        .await;
    assert_eq!(s, 202, "{snap}");
    let snapshot_id = snap["snapshot"]["id"].as_str().unwrap().to_string();
    // And a backup of it, once the snapshot is taken.
    region
        .wait_for(60, "the victim's snapshot", || async {
            let url = format!("/volume/v3/{project_id}/snapshots/{snapshot_id}");
            let (_, v) = region.call("GET", &url, Some(&token), None).await;
            (v["snapshot"]["status"] == "available").then_some(())
        })
        .await;
    let (s, bak) = region
        .call(
            "POST",
            &format!("/volume/v3/{project_id}/backups"),
            Some(&token),
            Some(json!({"backup": {"volume_id": volume_id, "name": "victim-backup"}})),
        )
        .await;
    assert_eq!(s, 202, "{bak}");
    let backup_id = bak["backup"]["id"].as_str().unwrap().to_string();
    // A CBR vault holding the volume, a policy bound to it, and a checkpoint of it.
    let (s, vault) = region
        .call(
            "POST",
            &format!("/v3/{project_id}/vaults"),
            Some(&token),
            Some(
                json!({"vault": {"name": "victim-vault", "resources": [{"id": volume_id, "type": "OS::Cinder::Volume"}],
                "billing": {"object_type": "disk", "protect_type": "backup", "consistent_level": "crash_consistent",
                            "size": 100}}}),
            ),
        )
        .await;
    assert_eq!(s, 200, "{vault}");
    let vault_id = vault["vault"]["id"].as_str().unwrap().to_string();
    let (s, policy) = region
        .call(
            "POST",
            &format!("/v3/{project_id}/policies"),
            Some(&token),
            Some(json!({"policy": {"name": "victim-policy", "operation_type": "backup", "operation_definition": {},
                "trigger": {"properties": {"pattern": ["FREQ=WEEKLY;BYDAY=MO;BYHOUR=1;BYMINUTE=00"]}}}})),
        )
        .await;
    assert_eq!(s, 200, "{policy}");
    let policy_id = policy["policy"]["id"].as_str().unwrap().to_string();
    let (s, cp) = region
        .call(
            "POST",
            &format!("/v3/{project_id}/checkpoints"),
            Some(&token),
            Some(json!({"checkpoint": {"vault_id": vault_id}})),
        )
        .await;
    assert_eq!(s, 200, "{cp}");
    let checkpoint_id = cp["checkpoint"]["id"].as_str().unwrap().to_string();
    // A second volume offered for transfer (the first stays usable for the other checks).
    let (s, vol2) = region
        .call(
            "POST",
            &format!("/volume/v3/{project_id}/volumes"),
            Some(&token),
            Some(json!({"volume": {"size": 10, "name": "victim-offered"}})),
        )
        .await;
    assert_eq!(s, 202, "{vol2}");
    let offered = vol2["volume"]["id"].as_str().unwrap().to_string();
    region
        .wait_for(60, "the offered volume", || async {
            let url = format!("/volume/v3/{project_id}/volumes/{offered}");
            let (_, v) = region.call("GET", &url, Some(&token), None).await;
            (v["volume"]["status"] == "available").then_some(())
        })
        .await;
    let (s, tr) = region
        .call(
            "POST",
            &format!("/volume/v3/{project_id}/os-volume-transfer"),
            Some(&token),
            Some(json!({"transfer": {"volume_id": offered, "name": "victim-transfer"}})),
        )
        .await;
    assert_eq!(s, 202, "{tr}");
    let transfer_id = tr["transfer"]["id"].as_str().unwrap().to_string();
    let (_, types) = region.call("GET", &format!("/volume/v3/{project_id}/types"), Some(&token), None).await;
    let type_id = types["volume_types"][0]["id"].as_str().unwrap().to_string();
    // A volume no back end can hold leaves the victim a user message.
    let (s, _) = region
        .call(
            "POST",
            &format!("/volume/v3/{project_id}/types"),
            Some(admin),
            Some(json!({"volume_type": {"name": "nowhere-type", "extra_specs": {"storage_protocol": "iSCSI"}}})),
        )
        .await;
    assert_eq!(s, 200);
    let (s, _) = region
        .call(
            "POST",
            &format!("/volume/v3/{project_id}/volumes"),
            Some(&token),
            Some(json!({"volume": {"size": 10, "name": "victim-nowhere", "volume_type": "nowhere-type"}})),
        )
        .await;
    assert_eq!(s, 202);
    let message_id = region
        .wait_for(60, "the victim's message", || async {
            let r = region
                .http
                .get(format!("{}/volume/v3/{project_id}/messages", region.url))
                .header("X-Auth-Token", &token)
                .header("OpenStack-API-Version", "volume 3.3")
                .send()
                .await
                .unwrap();
            let v: Value = r.json().await.unwrap_or(Value::Null);
            v["messages"][0]["id"].as_str().map(str::to_string)
        })
        .await;
    // A public group type (the operator's), the victim's group of it and a group snapshot.
    let with_groups = |method: &str, url: String, token: &str, body: Option<Value>| {
        let mut r = region
            .http
            .request(method.parse().unwrap(), format!("{}{url}", region.url))
            .header("X-Auth-Token", token)
            .header("OpenStack-API-Version", "volume 3.20");
        if let Some(b) = body {
            r = r.json(&b);
        }
        async move {
            let r = r.send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let (s, gt) = with_groups(
        "POST",
        format!("/volume/v3/{project_id}/group_types"),
        admin,
        Some(json!({"group_type": {"name": "shared-group-type", "group_specs": {"k": "v"}}})),
    )
    .await;
    assert_eq!(s, 202, "{gt}");
    let group_type_id = gt["group_type"]["id"].as_str().unwrap().to_string();
    let (s, g) = with_groups(
        "POST",
        format!("/volume/v3/{project_id}/groups"),
        &token,
        Some(json!({"group": {"name": "victim-group", "group_type": group_type_id, "volume_types": [type_id]}})),
    )
    .await;
    assert_eq!(s, 202, "{g}");
    let volume_group_id = g["group"]["id"].as_str().unwrap().to_string();
    let (s, gs) = with_groups(
        "POST",
        format!("/volume/v3/{project_id}/group_snapshots"),
        &token,
        Some(json!({"group_snapshot": {"group_id": volume_group_id, "name": "victim-group-snapshot"}})),
    )
    .await;
    assert_eq!(s, 202, "{gs}");
    let group_snapshot_id = gs["group_snapshot"]["id"].as_str().unwrap().to_string();
    // The victim's network, subnet, port, security group and rule.
    let (s, net) = region
        .call("POST", "/network/v2.0/networks", Some(&token), Some(json!({"network": {"name": "victim-net"}})))
        .await;
    assert_eq!(s, 201, "{net}");
    let network_id = net["network"]["id"].as_str().unwrap().to_string();
    let (s, sub) = region
        .call(
            "POST",
            "/network/v2.0/subnets",
            Some(&token),
            Some(json!({"subnet": {"network_id": network_id, "cidr": "10.9.0.0/24", "ip_version": 4, "name": "victim-sub"}})),
        )
        .await;
    assert_eq!(s, 201, "{sub}");
    let subnet_id = sub["subnet"]["id"].as_str().unwrap().to_string();
    let (s, port) = region
        .call(
            "POST",
            "/network/v2.0/ports",
            Some(&token),
            Some(json!({"port": {"network_id": network_id, "name": "victim-port"}})),
        )
        .await;
    assert_eq!(s, 201, "{port}");
    let port_id = port["port"]["id"].as_str().unwrap().to_string();
    let (s, sg) = region
        .call(
            "POST",
            "/network/v2.0/security-groups",
            Some(&token),
            Some(json!({"security_group": {"name": "victim-sg"}})),
        )
        .await;
    assert_eq!(s, 201, "{sg}");
    let security_group_id = sg["security_group"]["id"].as_str().unwrap().to_string();
    let rule_id = sg["security_group"]["security_group_rules"][0]["id"].as_str().unwrap().to_string();
    // The victim's router (joining its subnet to the external network) and floating IP.
    let (_, ext) = region.call("GET", "/network/v2.0/networks?router:external=true", Some(&token), None).await;
    let external_network_id = ext["networks"][0]["id"].as_str().unwrap().to_string();
    let (s, router) = region
        .call(
            "POST",
            "/network/v2.0/routers",
            Some(&token),
            Some(json!({"router": {"name": "victim-router", "external_gateway_info": {"network_id": external_network_id}}})),
        )
        .await;
    assert_eq!(s, 201, "{router}");
    let router_id = router["router"]["id"].as_str().unwrap().to_string();
    let (s, i) = region
        .call(
            "PUT",
            &format!("/network/v2.0/routers/{router_id}/add_router_interface"),
            Some(&token),
            Some(json!({"subnet_id": subnet_id})),
        )
        .await;
    assert_eq!(s, 200, "{i}");
    let (s, fip) = region
        .call(
            "POST",
            "/network/v2.0/floatingips",
            Some(&token),
            Some(json!({"floatingip": {"floating_network_id": external_network_id, "port_id": port_id}})),
        )
        .await;
    assert_eq!(s, 201, "{fip}");
    let floatingip_id = fip["floatingip"]["id"].as_str().unwrap().to_string();
    let (s, eip) = region.call("GET", &format!("/v1/{project_id}/publicips/{floatingip_id}"), Some(&token), None).await;
    assert_eq!(s, 200, "{eip}");
    let bandwidth_id = eip["publicip"]["bandwidth_id"].as_str().unwrap().to_string();
    // The victim's NAT gateway with a SNAT and a DNAT rule on a second EIP, and a private zone
    // with a record.
    let victim_call = |method: &'static str, path: String, body: Value| {
        let token = token.clone();
        async move {
            let (s, v) = region.call(method, &path, Some(&token), Some(body)).await;
            assert!(s < 300, "{method} {path}: {s} {v}");
            v
        }
    };
    let nat_eip = victim_call(
        "POST",
        format!("/v1/{project_id}/publicips"),
        json!({"publicip": {"type": "5_bgp"}, "bandwidth": {"name": "victim-bw", "size": 5, "share_type": "PER"}}),
    )
    .await;
    let nat_eip_id = nat_eip["publicip"]["id"].as_str().unwrap().to_string();
    let gw = victim_call(
        "POST",
        format!("/v2/{project_id}/nat_gateways"),
        json!({"nat_gateway": {"name": "victim-nat", "spec": "1", "router_id": router_id, "internal_network_id": network_id}}),
    )
    .await;
    let nat_gateway_id = gw["nat_gateway"]["id"].as_str().unwrap().to_string();
    let snat = victim_call(
        "POST",
        format!("/v2/{project_id}/snat_rules"),
        json!({"snat_rule": {"nat_gateway_id": nat_gateway_id, "network_id": network_id, "floating_ip_id": nat_eip_id}}),
    )
    .await;
    let snat_rule_id = snat["snat_rule"]["id"].as_str().unwrap().to_string();
    let dnat = victim_call(
        "POST",
        format!("/v2/{project_id}/dnat_rules"),
        json!({"dnat_rule": {"nat_gateway_id": nat_gateway_id, "floating_ip_id": nat_eip_id, "private_ip": "10.9.0.8",
            "protocol": "tcp", "internal_service_port": 80, "external_service_port": 80}}),
    )
    .await;
    let dnat_rule_id = dnat["dnat_rule"]["id"].as_str().unwrap().to_string();
    let zone = victim_call(
        "POST",
        "/v2/zones".into(),
        json!({"name": "victim.internal.", "zone_type": "private", "router": {"router_id": router_id}}),
    )
    .await;
    let zone_id = zone["id"].as_str().unwrap().to_string();
    let rs = victim_call(
        "POST",
        format!("/v2/zones/{zone_id}/recordsets"),
        json!({"name": "db.victim.internal.", "type": "A", "records": ["10.9.0.7"]}),
    )
    .await;
    let recordset_id = rs["id"].as_str().unwrap().to_string();
    // The victim's support: a plan, a named contact (its user), a ticket.
    victim_call("PUT", "/v1/support/subscription".into(), json!({"plan": "business"})).await;
    let c = victim_call(
        "POST",
        "/v1/support/contacts".into(),
        json!({"user_id": user_id, "last_name": "Victim", "first_name": "Vic", "position": "ops",
            "email": "vic@example.com", "phone": "123", "availability": "always"}),
    )
    .await;
    let contact_id = c["contact"]["id"].as_str().unwrap().to_string();
    let t = victim_call("POST", "/v1/support/tickets".into(), support_ticket(&project_id)).await;
    let ticket_id = t["ticket"]["id"].as_str().unwrap().to_string();
    // The victim invites the provider's engineer (the region's admin) into its project.
    let (_, admins) = region.call("GET", "/identity/v3/users?name=admin", Some(admin), None).await;
    let engineer_id = admins["users"][0]["id"].as_str().unwrap().to_string();
    let inv = victim_call(
        "POST",
        "/v1/support/invitations".into(),
        json!({"project_id": project_id, "engineer_id": engineer_id, "hours": 2}),
    )
    .await;
    let invitation_id = inv["invitation"]["id"].as_str().unwrap().to_string();
    // The victim's budget and (flexible) reserved instance.
    let b = victim_call("POST", "/v1/billing/budgets".into(), json!({"name": "victim", "amount": "100"})).await;
    let budget_id = b["budget"]["id"].as_str().unwrap().to_string();
    let ri = victim_call(
        "POST",
        "/v1/billing/reserved-instances".into(),
        json!({"flavor": "s3.small.1", "term_years": 1, "flexible": true}),
    )
    .await;
    let reservation_id = ri["reserved_instance"]["id"].as_str().unwrap().to_string();
    // The victim's bucket (object storage for token holders), holding one object.
    let bucket = format!("victim-{}", &project_id[..8]);
    victim_call("POST", "/v1/obs/buckets".into(), json!({"name": bucket})).await;
    let r = reqwest::Client::new()
        .put(format!("{}/v1/obs/buckets/{bucket}/object?key=secret.txt", region.url))
        .header("X-Auth-Token", &token)
        .body("victim's secret")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let (_, current) = region.call("GET", "/v1/billing/invoices/current", Some(&token), None).await;
    let month = current["invoice"]["month"].as_str().unwrap().to_string();
    let (_, qos) = region.call("GET", &format!("/volume/v3/{project_id}/qos-specs"), Some(admin), None).await;
    let qos_id = qos["qos_specs"][0]["id"].as_str().unwrap().to_string();
    let params = HashMap::from([
        ("bucket", bucket),
        ("qos_id", qos_id),
        ("group_type_id", group_type_id),
        ("volume_group_id", volume_group_id),
        ("group_snapshot_id", group_snapshot_id),
        ("message_id", message_id),
        ("volume_id", volume_id),
        ("snapshot_id", snapshot_id),
        ("backup_id", backup_id),
        ("transfer_id", transfer_id),
        ("vault_id", vault_id),
        ("policy_id", policy_id),
        ("checkpoint_id", checkpoint_id),
        ("type_id", type_id),
        ("server_id", server_id),
        ("server_group_id", server_group_id),
        ("key", "k".to_string()),
        // The victim's type has no encryption: its fields are not found, changes forbidden.
        ("encryption_id", "cipher".to_string()),
        ("class", "default".to_string()),
        ("extension_alias", "security-group".to_string()),
        ("network_id", network_id),
        ("subnet_id", subnet_id),
        ("port_id", port_id),
        ("security_group_id", security_group_id),
        ("rule_id", rule_id),
        ("vpc_id", router_id.clone()),
        ("contact_id", contact_id),
        ("ticket_id", ticket_id),
        ("invitation_id", invitation_id),
        ("budget_id", budget_id),
        ("reservation_id", reservation_id),
        ("month", month),
        ("engineer_id", engineer_id),
        ("nat_gateway_id", nat_gateway_id),
        ("snat_rule_id", snat_rule_id),
        ("dnat_rule_id", dnat_rule_id),
        ("nat_eip_id", nat_eip_id),
        ("zone_id", zone_id),
        ("recordset_id", recordset_id),
        ("publicip_id", floatingip_id.clone()),
        ("bandwidth_id", bandwidth_id),
        ("router_id", router_id),
        ("floatingip_id", floatingip_id),
        ("external_network_id", external_network_id),
        ("action", "disable".to_string()),
        ("host", "nimbus@local".to_string()),
        ("request_id", request_id),
        ("network", "default".to_string()),
        ("alias", "os-keypairs".to_string()),
        ("hypervisor_id", "1".to_string()),
        ("domain_id", domain_id.clone()),
        ("project_id", project_id.clone()),
        ("user_id", user_id.clone()),
        ("group_id", group_id.clone()),
        ("role_id", role_id),
        ("credential_id", credential_id),
        ("tag", "t1".to_string()),
        ("region_id", "eu-west-0".to_string()),
        ("service_id", service_id),
        ("access_key", "VICTIMACCESSKEY00001".to_string()),
        ("job_id", job_id),
        ("resource_id", project_id.clone()),
        ("tenant_id", project_id.clone()),
        ("image_id", image_id),
        ("flavor_id", flavor_id),
        ("keypair_name", "victim-key".to_string()),
        ("member_id", project_id.clone()),
        ("target_id", String::new()),
        ("actor_id", String::new()),
    ]);
    Victim { params, token }
}

/// Grant routes address a project or a domain, and a user or a group.
fn params_for(path: &str, v: &Victim) -> HashMap<&'static str, String> {
    let mut p = v.params.clone();
    let target =
        if path.starts_with("/v3/projects/{target_id}") { &v.params["project_id"] } else { &v.params["domain_id"] };
    let actor = if path.contains("/groups/{actor_id}") { &v.params["group_id"] } else { &v.params["user_id"] };
    p.insert("target_id", target.clone());
    p.insert("actor_id", actor.clone());
    // Neutron tag routes: the victim's resource of the path's collection.
    for (collection, param) in TAGGED {
        if path.starts_with(&format!("/network/v2.0/{collection}/{{resource_id}}/tags")) {
            p.insert("resource_id", v.params[param].clone());
            p.insert("tag", "victim-tag".to_string());
        }
    }
    p
}

/// The Neutron collections whose resources carry tags, with the victim's resource's parameter.
const TAGGED: &[(&str, &str)] = &[
    ("networks", "network_id"),
    ("subnets", "subnet_id"),
    ("ports", "port_id"),
    ("routers", "router_id"),
    ("floatingips", "floatingip_id"),
    ("security-groups", "security_group_id"),
];

/// The expected answers: the table above and, for each tagged collection, its six tag routes
/// (all the victim's: not found).
fn expected_answers() -> HashMap<(String, String), u16> {
    let mut table: HashMap<(String, String), u16> =
        OTHER_TENANT.iter().map(|(m, p, s)| ((m.to_string(), p.to_string()), *s)).collect();
    for (collection, _) in TAGGED {
        for suffix in ["tags", "tags/{tag}"] {
            for method in ["GET", "PUT", "DELETE"] {
                table.insert((method.into(), format!("/network/v2.0/{collection}/{{resource_id}}/{suffix}")), 404);
            }
        }
    }
    table
}

#[tokio::test(flavor = "multi_thread")]
async fn no_endpoint_leaks_to_anonymous_callers_or_other_tenants() {
    // The simulated hypervisor: servers exist without booting guests.
    let tiny = tempfile::tempdir().unwrap();
    let qcow2 = tiny.path().join("nimbus-tiny.qcow2");
    let st =
        std::process::Command::new("qemu-img").args(["create", "-q", "-f", "qcow2"]).arg(&qcow2).arg("64M").status();
    assert!(st.unwrap().success());
    let region = Region::start_with(
        &common::Db::Sqlite,
        &[("NIMBUS_DEFAULT_IMAGE_DIR", tiny.path().to_str().unwrap())],
        Some("hypervisor = \"simulated\"\n"),
    );
    let admin = region.admin_token().await;
    let victim = setup_victim(&region, &admin).await;
    let (_, _) = region.tenant(&admin, "intruder", "mallory", "mallory-pw", "member").await;
    let (intruder, _) = region.token("mallory", "mallory-pw", "intruder").await;

    let (s, listing) = region.call("GET", "/_nimbus/endpoints", Some(&admin), None).await;
    assert_eq!(s, 200);
    let endpoints = listing["endpoints"].as_array().unwrap();
    assert!(endpoints.len() > 100, "{}", endpoints.len());
    let table = expected_answers();

    let mut problems = Vec::new();
    let mut checked = 0;
    for e in endpoints {
        let method = e["method"].as_str().unwrap();
        let path = e["path"].as_str().unwrap();
        let public = e["access"] == "public";
        // Keystone and Glance are mounted under their prefix and at the root.
        let bare = path.strip_prefix("/identity").unwrap_or(path);
        let bare: String = if bare.starts_with("/v2/images") || bare.starts_with("/v2/schemas") {
            format!("/image{bare}")
        } else {
            bare.into()
        };
        let bare = bare.as_str();
        if public {
            continue;
        }
        let Some(expected) = table.get(&(method.to_string(), bare.to_string())).copied() else {
            problems.push(format!("{method} {path}: missing from the OTHER_TENANT table"));
            continue;
        };
        let params = params_for(bare, &victim);
        let mut url = fill(path, &params);
        if bare.starts_with("/v2.0/resources/") {
            url.push_str("?resource_type=project");
        }
        let body = body_for(method, bare, &victim);

        // 1. No credentials at all: 401 in the family's format.
        let mut req = region.http.request(method.parse().unwrap(), format!("{}{url}", region.url));
        if let Some(b) = &body {
            req = req.json(b);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        if status != 401 {
            problems.push(format!("{method} {path} without a token: {status} {text}"));
        }
        if !is_error_document(&text) {
            problems.push(format!("{method} {path} without a token: body not in an error format: {text}"));
        }

        // 2. A member of another tenant.
        let mut req = region
            .http
            .request(method.parse().unwrap(), format!("{}{url}", region.url))
            .header("X-Auth-Token", &intruder);
        if bare == "/v3/auth/tokens" {
            req = req.header("X-Subject-Token", &victim.token);
        }
        if bare.contains("/messages") || bare.contains("/group") {
            // Messages exist from microversion 3.3, groups from 3.11-3.20.
            req = req.header("OpenStack-API-Version", "volume 3.20");
        }
        if let Some(b) = &body {
            req = req.json(b);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        if status != expected {
            problems.push(format!("{method} {path} as another tenant: expected {expected}, got {status} {text}"));
        }
        if bare.starts_with("/v1.0/resource-tags/") {
            // A batch answers 200 and lists each resource it could not touch, with the same
            // not-found a direct call gets; the id in it is the caller's own input.
            let v: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            if v["failed_resources"][0]["error_code"] != "Nimbus.0404" {
                problems
                    .push(format!("{method} {path} as another tenant: the victim's resource was not refused: {text}"));
            }
        } else if status < 300 {
            for secret in ["victim", "VICTIMACCESSKEY", &victim.params["user_id"], &victim.params["project_id"]] {
                if text.contains(secret) {
                    problems.push(format!("{method} {path} as another tenant leaks {secret:?}: {text}"));
                }
            }
        }
        checked += 1;
    }
    for (m, p, _) in OTHER_TENANT {
        if !endpoints.iter().any(|e| e["method"] == *m && e["path"] == *p) {
            problems.push(format!("{m} {p}: in the table but not registered"));
        }
    }
    assert!(problems.is_empty(), "{} problems:\n{}", problems.len(), problems.join("\n"));
    assert!(checked > 100);

    // The victim's state is untouched: its user still signs in, its project is unchanged.
    let (s, p) =
        region.call("GET", &format!("/identity/v3/projects/{}", victim.params["project_id"]), Some(&admin), None).await;
    assert_eq!(s, 200);
    assert_eq!(p["project"]["description"], "");
    assert_eq!(p["project"]["tags"], json!(["t1"]));
    let (victim_token, _) = (victim.token.clone(), ADMIN_PASSWORD);
    let (s, _) = region.call("GET", "/identity/v3/auth/catalog", Some(&victim_token), None).await;
    assert_eq!(s, 200, "the victim's token must still be valid");
}
