use std::io::Read;
use std::time::Instant;
fn main() {
    let n = 512usize << 20;
    let mut data = vec![0u8; n];
    std::fs::File::open("/dev/urandom").unwrap().read_exact(&mut data).unwrap();
    let t = Instant::now();
    let mut cuts = 0;
    for w in data.chunks(8 << 20) {
        cuts += fastcdc::v2020::FastCDC::new(w, 16 << 10, 64 << 10, 256 << 10).count();
    }
    let r = |name: &str, t: Instant| println!("{name}: {:.0} MB/s", n as f64 / 1048576.0 / t.elapsed().as_secs_f64());
    r(&format!("fastcdc ({cuts} chunks)"), t);
    let t = Instant::now();
    for w in data.chunks(64 << 10) {
        std::hint::black_box(blake3::hash(w));
    }
    r("blake3 64k", t);
    let t = Instant::now();
    let mut z = 0;
    for w in data.chunks(64 << 10) {
        if w.iter().all(|b| *b == 0) {
            z += 1
        }
    }
    r(&format!("zero check {z}"), t);
    let t = Instant::now();
    let mut tot = 0;
    for w in data.chunks(64 << 10) {
        tot += nimbus_drivers::backup_data::seal_chunk(w).len()
    }
    r(&format!("seal_chunk {tot}"), t);
    let t = Instant::now();
    let chunks = nimbus_drivers::backup_data::cut(0, &data[..8 << 20]);
    let mut tot = 0;
    for w in data.chunks(8 << 20) {
        tot += nimbus_drivers::backup_data::cut(0, w).len()
    }
    r(&format!("cut (all) {tot} {}", chunks.len()), t);
    let dir = std::path::Path::new("/work/bprof");
    std::fs::create_dir_all(dir).unwrap();
    let (rk, _) = nimbus_drivers::object_crypt::RegionKey::load_or_create(&dir.join("rk")).unwrap();
    let (k, _) = rk.new_data_key();
    let t = Instant::now();
    let (mut s, _h) = nimbus_drivers::object_crypt::Sealer::new(&k);
    let mut out = Vec::with_capacity(2 << 20);
    for p in data.chunks(1 << 20) {
        out.clear();
        s.push(p, &mut out);
    }
    r("aes-gcm", t);
    let t = Instant::now();
    let mut f = nimbus_drivers::data_file::DataFile::create(&dir.join("f")).unwrap();
    for p in data.chunks(1 << 20) {
        f.write(p).unwrap();
    }
    f.finish().unwrap();
    r("DataFile write+sync", t);
    let t = Instant::now();
    let mut v: Vec<u8> = Vec::with_capacity(n);
    for p in data.chunks(64 << 10) {
        v.extend_from_slice(p);
    }
    r("memcpy", t);
    std::fs::remove_dir_all(dir).unwrap();
}
