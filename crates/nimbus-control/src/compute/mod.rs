//! Compute (ECS, seed 6.1.1): the flavor catalogue, key pairs, servers with their jobs, the
//! scheduler, and the reconciler that keeps servers' power state true.

mod flavor;
mod keypair;
pub mod power_sync;
pub mod scheduler;
pub mod server;
pub mod server_jobs;

pub use flavor::{FlavorCreate, BUILTIN_FLAVORS};
pub use keypair::fingerprint;
pub use server::{
    instance_action_name, volume_backed, AccessUpdate, ActionOutcome, BootSource, Naming, NewDataVolume, ServerAction,
    ServerAddress, ServerCreate, ServerQuery, ServerView, ServersCreated,
};
