//! Nova v2.1 (`/compute/v2.1`): microversions, flavors, key pairs, availability zones,
//! servers with their actions and volume attachments, server groups, hypervisors and limits.

mod availability_zones;
mod flavors;
mod hypervisors;
mod images;
mod keypairs;
pub mod microversion;
mod server_groups;
pub mod servers;
mod volume_attachments;

use crate::routes::Routes;

/// The compute routes that depend on a microversion.
pub fn routes(r: Routes) -> Routes {
    let r = flavors::routes(r);
    let r = keypairs::routes(r);
    let r = servers::routes(r);
    let r = server_groups::routes(r);
    let r = hypervisors::routes(r);
    let r = images::routes(r);
    let r = volume_attachments::routes(r);
    availability_zones::routes(r)
}
