//! Nimbus drivers: the code that touches the world (files, `qemu-img`, later QEMU, Linux
//! networking). The control plane decides; drivers do, idempotently, so a reconciler can
//! call them again after a crash.

pub mod backup_data;
pub mod config_drive;
pub mod data_file;
pub mod hypervisor;
pub mod image_files;
pub mod luks1;
pub mod netns;
pub mod netns_l3;
pub mod object_crypt;
pub mod object_files;
pub mod qcow2_map;
pub mod volume_crypt;
pub mod volume_files;
