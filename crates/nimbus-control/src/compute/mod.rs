//! Compute (ECS, seed 6.1.1): the flavor catalogue and key pairs. Servers build on these.

mod flavor;
mod keypair;

pub use flavor::{FlavorCreate, BUILTIN_FLAVORS};
pub use keypair::fingerprint;
