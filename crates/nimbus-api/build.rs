//! Builds the web console (`console/`, a Vite project) with npm and embeds its files: the
//! generated `console_assets.rs` lists each file of the build with `include_bytes!`, so the
//! binary serves the console with nothing downloaded at run time.

use std::path::{Path, PathBuf};
use std::process::Command;

fn run(cmd: &mut Command, what: &str) {
    let status = cmd.status().unwrap_or_else(|e| {
        panic!("{what}: cannot run npm ({e}). The console is built with Node.js and npm: install them (scripts/up.sh and scripts/test.sh do).")
    });
    assert!(status.success(), "{what} failed ({status})");
}

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("console build output") {
        let p = e.expect("console build entry").path();
        if p.is_dir() {
            files(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let console = manifest.join("../../console").canonicalize().expect("the console/ folder beside crates/");
    for f in ["src", "index.html", "package.json", "package-lock.json", "vite.config.ts"] {
        println!("cargo:rerun-if-changed={}", console.join(f).display());
    }
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("console");
    // npm ci only when the installed packages are not those of the lock file.
    let lock = console.join("package-lock.json");
    let installed = console.join("node_modules/.package-lock.json");
    let stale = match (
        std::fs::metadata(&lock).and_then(|m| m.modified()),
        std::fs::metadata(&installed).and_then(|m| m.modified()),
    ) {
        (Ok(l), Ok(i)) => i < l,
        _ => true,
    };
    if stale {
        run(Command::new("npm").args(["ci", "--no-audit", "--no-fund"]).current_dir(&console), "npm ci (console)");
    }
    run(
        Command::new("npm").args(["run", "build", "--silent"]).env("NIMBUS_CONSOLE_OUT", &out).current_dir(&console),
        "npm run build (console)",
    );
    let mut list = Vec::new();
    files(&out, &mut list);
    list.sort();
    let mut code = String::from(
        "/// The console's files: path under /console/, bytes.\npub static ASSETS: &[(&str, &[u8])] = &[\n",
    );
    for p in &list {
        let rel = p.strip_prefix(&out).unwrap().to_string_lossy().replace('\\', "/");
        code.push_str(&format!("    ({rel:?}, include_bytes!({:?})),\n", p.display().to_string()));
    }
    code.push_str("];\n");
    std::fs::write(PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("console_assets.rs"), code).unwrap();
}
