//! Nimbus core: the vocabulary every other crate shares.
//!
//! Errors (one enum, rendered once per API family by the front ends), typed ids,
//! pagination, the wall clock and locks by key. Nothing here does I/O.

pub mod error;
pub mod id;
pub mod page;
pub mod sync;
pub mod time;

pub use error::{Error, Result};
