//! Nova v2.1 (`/compute/v2.1`): microversions, flavors, key pairs, availability zones.
//! Servers arrive with the hypervisor drivers.

mod availability_zones;
mod flavors;
mod keypairs;
pub mod microversion;

use crate::routes::Routes;

/// The compute routes that depend on a microversion.
pub fn routes(r: Routes) -> Routes {
    let r = flavors::routes(r);
    let r = keypairs::routes(r);
    availability_zones::routes(r)
}
