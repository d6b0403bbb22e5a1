//! LUKS1 headers written by Nimbus itself, for the encrypted volumes QEMU then opens.
//!
//! `qemu-img create -f luks` measures how fast PBKDF2 runs before it writes a header, by the
//! thread CPU time `getrusage` reports; on hosts whose kernels account that time only at
//! scheduler ticks (virtual machines such as this project's CI machines), the measurement
//! often reads 0 ms and QEMU refuses with "Unable to get accurate CPU usage" (a third of the
//! runs here), and when it works it spends about 2 s of CPU on every new volume. A volume's
//! passphrase is 256 random bits, which no guessing reaches, so the stretching is fixed at
//! LUKS's minimum instead and the header is written here, byte for byte as the LUKS1
//! on-disk format (version 1.2.3) lays it out and as QEMU writes its own: AES-XTS with
//! `plain64` IVs and SHA-256, one active key slot, all eight slots' key material areas
//! placed as QEMU places them, the payload after them.

use nimbus_core::Error;
use ring::rand::SecureRandom;

/// Bytes in a LUKS sector.
const SECTOR: usize = 512;
/// The anti-forensic splitter's stripes per key slot (LUKS1's fixed value).
const STRIPES: usize = 4000;
/// Key slots in a LUKS1 header.
const SLOTS: usize = 8;
/// PBKDF2 iterations of the master key digest and of the key slot: LUKS's minimum, enough
/// for a passphrase of 256 random bits, and paid again by every open of the volume.
const ITERATIONS: u32 = 1000;
/// Key material areas start on 4 KiB boundaries, as QEMU and cryptsetup place them.
const ALIGN_SECTORS: usize = 4096 / SECTOR;
const SLOT_ACTIVE: u32 = 0x00AC_71F3;
const SLOT_INACTIVE: u32 = 0x0000_DEAD;
const SHA256_LEN: usize = 32;

/// A new LUKS1 header (the header and every key slot's area, the payload starting right
/// after it) for AES-`aes_bits`-XTS (128 or 256) with a random master key, whose slot 0
/// opens with `passphrase`.
pub fn new_header(passphrase: &[u8], aes_bits: u16) -> Result<Vec<u8>, Error> {
    let key_bytes = match aes_bits {
        128 => 32,
        256 => 64,
        other => return Err(Error::Internal(format!("LUKS: AES-{other}-XTS is not supported"))),
    };
    let rng = ring::rand::SystemRandom::new();
    let random = |buf: &mut [u8]| rng.fill(buf).map_err(|_| Error::Internal("LUKS: no randomness".into()));

    let mut master_key = vec![0u8; key_bytes];
    random(&mut master_key)?;
    let mut digest_salt = [0u8; 32];
    random(&mut digest_salt)?;
    let mut slot_salt = [0u8; 32];
    random(&mut slot_salt)?;
    let mut uuid = [0u8; 16];
    random(&mut uuid)?;

    let material_sectors = (key_bytes * STRIPES).div_ceil(SECTOR).next_multiple_of(ALIGN_SECTORS);
    let first_material = ALIGN_SECTORS; // the 592-byte header's own 4 KiB
    let payload_sectors = first_material + SLOTS * material_sectors;
    let mut image = vec![0u8; payload_sectors * SECTOR];

    // Header fields, big-endian, at their LUKS1 offsets.
    let put = |image: &mut [u8], at: usize, bytes: &[u8]| image[at..at + bytes.len()].copy_from_slice(bytes);
    put(&mut image, 0, b"LUKS\xba\xbe");
    put(&mut image, 6, &1u16.to_be_bytes());
    put(&mut image, 8, b"aes");
    put(&mut image, 40, b"xts-plain64");
    put(&mut image, 72, b"sha256");
    put(&mut image, 104, &(payload_sectors as u32).to_be_bytes());
    put(&mut image, 108, &(key_bytes as u32).to_be_bytes());
    put(&mut image, 112, &pbkdf2(&master_key, &digest_salt, 20));
    put(&mut image, 132, &digest_salt);
    put(&mut image, 164, &ITERATIONS.to_be_bytes());
    put(&mut image, 168, uuid_text(uuid).as_bytes());
    for slot in 0..SLOTS {
        let at = 208 + slot * 48;
        let offset = first_material + slot * material_sectors;
        let (state, iterations, salt) =
            if slot == 0 { (SLOT_ACTIVE, ITERATIONS, slot_salt) } else { (SLOT_INACTIVE, 0, [0u8; 32]) };
        put(&mut image, at, &state.to_be_bytes());
        put(&mut image, at + 4, &iterations.to_be_bytes());
        put(&mut image, at + 8, &salt);
        put(&mut image, at + 40, &(offset as u32).to_be_bytes());
        put(&mut image, at + 44, &(STRIPES as u32).to_be_bytes());
    }

    // Slot 0: the master key split over 4000 stripes, encrypted with the passphrase's key
    // in the volume's own cipher, sectors counted from the area's start.
    let mut material = af_split(&master_key, &random)?;
    material.resize(material.len().next_multiple_of(SECTOR), 0);
    xts_encrypt(&pbkdf2(passphrase, &slot_salt, key_bytes), &mut material);
    put(&mut image, first_material * SECTOR, &material);
    Ok(image)
}

/// PBKDF2-HMAC-SHA256 of `secret` with LUKS's iteration count, `len` bytes.
fn pbkdf2(secret: &[u8], salt: &[u8], len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len];
    let iterations = std::num::NonZeroU32::new(ITERATIONS).expect("non-zero");
    ring::pbkdf2::derive(ring::pbkdf2::PBKDF2_HMAC_SHA256, iterations, salt, secret, &mut out);
    out
}

/// LUKS's anti-forensic split: stripes-1 random blocks, each folded into a running block
/// that is diffused by the hash, and a last stripe that is the key XOR that block.
fn af_split(key: &[u8], random: &dyn Fn(&mut [u8]) -> Result<(), Error>) -> Result<Vec<u8>, Error> {
    let size = key.len();
    let mut out = vec![0u8; size * STRIPES];
    let mut block = vec![0u8; size];
    for stripe in out.chunks_mut(size).take(STRIPES - 1) {
        random(stripe)?;
        block.iter_mut().zip(stripe.iter()).for_each(|(b, s)| *b ^= s);
        diffuse(&mut block);
    }
    let last = &mut out[(STRIPES - 1) * size..];
    last.iter_mut().zip(block.iter().zip(key)).for_each(|(o, (b, k))| *o = b ^ k);
    Ok(out)
}

/// LUKS's diffusion: each hash-sized piece replaced by the hash of its index and itself (a
/// last short piece by the hash's first bytes).
fn diffuse(block: &mut [u8]) {
    for (index, piece) in block.chunks_mut(SHA256_LEN).enumerate() {
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        ctx.update(&(index as u32).to_be_bytes());
        ctx.update(piece);
        let digest = ctx.finish();
        let n = piece.len();
        piece.copy_from_slice(&digest.as_ref()[..n]);
    }
}

/// AES-XTS with `plain64` IVs (the sector number, little-endian), sectors of 512 bytes
/// counted from 0 at the start of `data`. `key` holds the data key then the tweak key.
fn xts_encrypt(key: &[u8], data: &mut [u8]) {
    use aes::cipher::KeyInit;
    let (data_key, tweak_key) = key.split_at(key.len() / 2);
    if data_key.len() == 16 {
        let xts = xts_mode::Xts128::new(
            aes::Aes128::new_from_slice(data_key).expect("16-byte key"),
            aes::Aes128::new_from_slice(tweak_key).expect("16-byte key"),
        );
        xts.encrypt_area(data, SECTOR, 0, xts_mode::get_tweak_default);
    } else {
        let xts = xts_mode::Xts128::new(
            aes::Aes256::new_from_slice(data_key).expect("32-byte key"),
            aes::Aes256::new_from_slice(tweak_key).expect("32-byte key"),
        );
        xts.encrypt_area(data, SECTOR, 0, xts_mode::get_tweak_default);
    }
}

/// 16 random bytes as an RFC 4122 version 4 UUID's text.
fn uuid_text(mut bytes: [u8; 16]) -> String {
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = hex::encode(bytes);
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The header QEMU reads back: its fields, and data written through one passphrase read
    /// back through it while another passphrase is refused.
    #[test]
    fn qemu_opens_the_headers_written_here() {
        let dir = tempfile::tempdir().unwrap();
        for (bits, cipher) in [(256u16, "aes-256"), (128, "aes-128")] {
            let path = dir.path().join(format!("v{bits}.luks"));
            let header = new_header(b"right passphrase", bits).unwrap();
            std::fs::write(&path, &header).unwrap();
            std::fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .unwrap()
                .set_len(header.len() as u64 + (1 << 20))
                .unwrap();
            let qemu = |program: &str, passphrase: &str, args: &[&str]| {
                std::process::Command::new(program)
                    .args(args)
                    .arg("--object")
                    .arg(format!("secret,id=k,data={passphrase}"))
                    .arg("--image-opts")
                    .arg(format!("driver=luks,key-secret=k,file.filename={}", path.display()))
                    .output()
                    .unwrap()
            };
            let info = qemu("qemu-img", "right passphrase", &["info", "--output=json"]);
            assert!(info.status.success(), "{}", String::from_utf8_lossy(&info.stderr));
            let info: serde_json::Value = serde_json::from_slice(&info.stdout).unwrap();
            assert_eq!(info["virtual-size"], 1 << 20);
            let luks = &info["format-specific"]["data"];
            assert_eq!(luks["cipher-alg"], cipher);
            assert_eq!(luks["cipher-mode"], "xts");
            assert_eq!(luks["ivgen-alg"], "plain64");
            assert_eq!(luks["hash-alg"], "sha256");
            assert_eq!(luks["slots"][0]["active"], true);
            assert_eq!(luks["slots"][1]["active"], false);

            let wrote = qemu("qemu-io", "right passphrase", &["-c", "write -P 0x5a 4096 8192"]);
            assert!(wrote.status.success(), "{}", String::from_utf8_lossy(&wrote.stderr));
            let read = qemu("qemu-io", "right passphrase", &["-c", "read -P 0x5a 4096 8192"]);
            assert!(String::from_utf8_lossy(&read.stdout).contains("read 8192/8192"), "{read:?}");
            let stored = std::fs::read(&path).unwrap();
            assert!(!stored[header.len()..].windows(64).any(|w| w.iter().all(|b| *b == 0x5a)));

            let wrong = qemu("qemu-io", "wrong passphrase", &["-c", "read 0 512"]);
            assert!(!wrong.status.success());
            assert!(String::from_utf8_lossy(&wrong.stderr).contains("Invalid password"), "{wrong:?}");
        }
    }

    /// Two headers never share a master key, salts or UUID.
    #[test]
    fn every_header_is_new() {
        let a = new_header(b"same", 256).unwrap();
        let b = new_header(b"same", 256).unwrap();
        assert_eq!(a.len(), 4040 * SECTOR);
        assert_ne!(a[112..208], b[112..208]);
        assert_ne!(a[4096..8192], b[4096..8192]);
        assert!(new_header(b"x", 192).is_err());
    }
}
