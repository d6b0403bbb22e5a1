//! Encrypted volumes (EVS encryption, Cinder's `luks` encryption types): LUKS inside the
//! volume's container, and the keys that open it.
//!
//! An encrypted volume is the volume's usual container (a QCOW2 file, or a raw file for a
//! shareable volume) whose content is a LUKS image: QEMU stacks its `luks` driver on the
//! container, so the guest sees plaintext and the file holds only the LUKS header and
//! ciphertext. The layering is chosen over QCOW2's own LUKS mode on purpose: QEMU's `luks`
//! driver derives each sector's IV from the sector's place in the LUKS image, not from where
//! the container keeps it, so the container's stored bytes can be copied as they are (clones,
//! snapshots made into volumes, backups read cluster by cluster and restored elsewhere) and
//! still open with the same key. Internal snapshots stay the container's.
//!
//! Each volume has its own random passphrase, kept wrapped by the region's volume key
//! (`DATA/keys/evs.key`) in the store; a copy of a volume's data (a clone, a backup) gets its
//! own copy of the passphrase, and deleting a volume or a backup destroys its copy, after
//! which its bytes (the file's, a backup's chunks) are ciphertext nobody can open.
//!
//! Headers are written by [`crate::luks1`], not by `qemu-img create`.
//!
//! Passphrases reach QEMU through an inherited memory file (`memfd`), never on a command
//! line or on disk.

use nimbus_core::Error;
use std::ffi::{OsStr, OsString};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// The descriptor a `qemu-img` run reads a passphrase from.
const SECRET_FD: i32 = 3;
/// The QEMU object id of the passphrase in a `qemu-img` run.
const SECRET_ID: &str = "volkey";

/// A volume's LUKS passphrase (base64 text of 32 random bytes) and the cipher its header is
/// made with.
#[derive(Clone, PartialEq, Eq)]
pub struct VolumeKey {
    passphrase: String,
    /// AES key bits (XTS mode takes two keys of this size): 128 or 256.
    pub aes_bits: u16,
}

impl std::fmt::Debug for VolumeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "VolumeKey(aes-{}-xts, passphrase withheld)", self.aes_bits)
    }
}

impl VolumeKey {
    /// The key of 32 secret bytes, for AES-`aes_bits` XTS.
    pub fn new(secret: &[u8; 32], aes_bits: u16) -> Self {
        use base64::Engine;
        VolumeKey { passphrase: base64::engine::general_purpose::STANDARD.encode(secret), aes_bits }
    }

    /// The passphrase as QEMU's `secret` object takes it.
    pub fn passphrase(&self) -> &str {
        &self.passphrase
    }
}

/// A memory file holding `data`, closed on exec unless handed over.
pub fn secret_fd(data: &[u8]) -> Result<OwnedFd, Error> {
    use std::io::Write;
    let name = c"nimbus-secret";
    // SAFETY: memfd_create takes a NUL-terminated name; the descriptor is owned from here.
    let fd = unsafe { libc::memfd_create(name.as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(Error::Internal(format!("memfd_create: {}", std::io::Error::last_os_error())));
    }
    // SAFETY: `fd` was just created and is owned by nothing else.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut file = std::fs::File::from(owned);
    file.write_all(data).map_err(|e| Error::Internal(format!("writing a secret: {e}")))?;
    Ok(OwnedFd::from(file))
}

/// Makes `fd` the child's descriptor `to`, kept across exec. Runs between fork and exec:
/// only async-signal-safe calls (dup2, fcntl).
pub fn hand_over(fd: i32, to: i32) -> std::io::Result<()> {
    // SAFETY: plain descriptor calls on descriptors this process owns.
    unsafe {
        if fd == to {
            // dup2 onto itself would keep the close-on-exec flag.
            if libc::fcntl(fd, libc::F_SETFD, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
        } else if libc::dup2(fd, to) < 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Escapes a value for QEMU's `key=value,...` option syntax (a comma is doubled).
pub fn qemu_opt(value: &OsStr) -> String {
    value.to_string_lossy().replace(',', ",,")
}

/// The `--image-opts` of the plaintext view of an encrypted volume's container.
pub fn luks_view(container: &std::path::Path, container_format: &str) -> String {
    format!(
        "driver=luks,key-secret={SECRET_ID},file.driver={container_format},file.file.filename={}",
        qemu_opt(container.as_os_str())
    )
}

/// A `qemu-img` run, given one volume's passphrase when it needs it.
pub struct QemuImg {
    args: Vec<OsString>,
    key: Option<VolumeKey>,
}

impl QemuImg {
    /// `qemu-img SUBCOMMAND`, with the passphrase of `key` defined as a secret object.
    pub fn new(subcommand: &str, key: Option<&VolumeKey>) -> Self {
        let mut args = vec![OsString::from(subcommand)];
        if key.is_some() {
            args.push("--object".into());
            args.push(format!("secret,id={SECRET_ID},file=/dev/fd/{SECRET_FD}").into());
        }
        QemuImg { args, key: key.cloned() }
    }

    pub fn arg(mut self, a: impl AsRef<OsStr>) -> Self {
        self.args.push(a.as_ref().to_owned());
        self
    }

    pub fn args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(mut self, items: I) -> Self {
        self.args.extend(items.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Runs it; its standard output on success.
    pub async fn output(self) -> Result<Vec<u8>, Error> {
        let mut cmd = tokio::process::Command::new("qemu-img");
        cmd.args(&self.args);
        let secret = match &self.key {
            Some(k) => Some(secret_fd(k.passphrase.as_bytes())?),
            None => None,
        };
        if let Some(fd) = &secret {
            let raw = fd.as_raw_fd();
            // SAFETY: between fork and exec only dup2(2), which is async-signal-safe; the
            // memory file stays open in this process until the command has run.
            unsafe {
                cmd.pre_exec(move || hand_over(raw, SECRET_FD));
            }
        }
        let out = cmd.output().await.map_err(|e| Error::Internal(format!("running qemu-img: {e}")))?;
        drop(secret);
        if out.status.success() {
            Ok(out.stdout)
        } else {
            Err(Error::Internal(format!("qemu-img failed: {}", String::from_utf8_lossy(&out.stderr).trim())))
        }
    }

    pub async fn run(self) -> Result<(), Error> {
        self.output().await.map(drop)
    }
}
