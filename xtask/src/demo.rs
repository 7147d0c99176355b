//! `cargo xtask demo`: builds everything and serves the demo shop through the origin.
//!
//! 1. the npm package (`cargo xtask build`);
//! 2. the demo bundle: `slotwise bundle build www/authoring`, then `slotwise train` on
//!    the generated sessions in `www/training/` (the catalogue, pictures and sessions
//!    come from `node www/tools/catalogue.mjs`);
//! 3. the site in `target/demo/site/`: `www/` (without its sources of the bundle) plus
//!    the package under `/pkg/`;
//! 4. `slotwise serve --www target/demo/site --bundle ...` with a fresh data directory:
//!    the shop, `/v1/bundle`, `/v1/signals`, `/v1/snippet`, the lift report, on loopback.
//!
//! The end-to-end tests (`tests/e2e/`) start the same server on the same site.

use std::path::{Path, PathBuf};

use crate::build::{self, path_str};
use crate::util::{cmd, exec, root, step};

/// What [`prepare`] built.
pub struct Demo {
    /// The directory `slotwise serve --www` serves.
    pub site: PathBuf,
    /// The trained demo bundle.
    pub bundle: PathBuf,
    /// The `slotwise` binary (debug build).
    pub slotwise: PathBuf,
}

pub fn run(args: &[String]) -> Result<(), String> {
    let port: u16 = match args {
        [] => 8080,
        [flag, n] if flag == "--port" => n.parse().map_err(|_| "--port takes a number")?,
        _ => return Err("usage: cargo xtask demo [--port N]".into()),
    };
    let pkg = build::run()?;
    let demo = prepare(&pkg)?;
    let data = root().join("target/demo/data");
    // A fresh store each run, so the demo bundle just built is the one published.
    let _ = std::fs::remove_dir_all(&data);
    println!(
        "\nSlotwise demo shop: http://127.0.0.1:{port}/   lift report: http://127.0.0.1:{port}/lift.html   (Ctrl-C to stop)"
    );
    let addr = format!("127.0.0.1:{port}");
    exec(cmd(
        path_str(&demo.slotwise)?,
        &[
            "serve",
            "--addr",
            &addr,
            "--data-dir",
            path_str(&data)?,
            "--www",
            path_str(&demo.site)?,
            "--bundle",
            path_str(&demo.bundle)?,
            "--sync",
            "normal",
        ],
    ))
}

/// Builds the trained demo bundle, the origin binary and the site around `pkg`.
pub fn prepare(pkg: &Path) -> Result<Demo, String> {
    let out = root().join("target/demo");
    std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;

    step("demo: the origin binary (slotwise)");
    exec(cmd(
        "cargo",
        &["build", "--quiet", "--package", "slotwise-origin"],
    ))?;
    let slotwise = root().join("target/debug/slotwise");

    step("demo: catalogue check, then www/authoring → bundle → trained on www/training");
    exec(cmd("node", &["www/tools/catalogue.mjs", "--check"]))?;
    let base = out.join("base.swb");
    let bundle = out.join("bundle.swb");
    exec(cmd(
        path_str(&slotwise)?,
        &["bundle", "build", "www/authoring", "-o", path_str(&base)?],
    ))?;
    exec(cmd(
        path_str(&slotwise)?,
        &[
            "train",
            "www/training/sessions.tsv",
            "--bundle",
            path_str(&base)?,
            "-o",
            path_str(&bundle)?,
        ],
    ))?;

    step("demo: the site (www + pkg) in target/demo/site");
    let site = out.join("site");
    let _ = std::fs::remove_dir_all(&site);
    std::fs::create_dir_all(&site).map_err(|e| e.to_string())?;
    let www = root().join("www");
    for entry in std::fs::read_dir(&www).map_err(|e| e.to_string())? {
        let path = entry.map_err(|e| e.to_string())?.path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if !matches!(name, "authoring" | "training" | "tools") {
            copy_tree(&path, &site.join(name))?;
        }
    }
    copy_tree(pkg, &site.join("pkg"))?;
    Ok(Demo {
        site,
        bundle,
        slotwise,
    })
}

fn copy_tree(from: &Path, to: &Path) -> Result<(), String> {
    if from.is_dir() {
        std::fs::create_dir_all(to).map_err(|e| e.to_string())?;
        for entry in std::fs::read_dir(from).map_err(|e| e.to_string())? {
            let path = entry.map_err(|e| e.to_string())?.path();
            copy_tree(&path, &to.join(path.file_name().ok_or("no file name")?))?;
        }
        Ok(())
    } else {
        std::fs::copy(from, to)
            .map(|_| ())
            .map_err(|e| format!("cannot copy {}: {e}", from.display()))
    }
}
