//! Shared helpers: a real `slotwise serve` on loopback with a temporary data directory.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use slotwise_origin::server::bench::{Spawned, spawn_server};
use slotwise_origin::server::client::{Client, Response};

pub const TOKEN: &str = "test-admin-token";
pub const SWG1: &str = "application/vnd.slotwise.signals";

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

pub fn temp_dir(name: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let dir =
        std::env::temp_dir().join(format!("slotwise-it-{name}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The test shop authoring set (tests/fixtures/shop) compiled to a bundle file in `dir`.
pub fn demo_bundle(dir: &Path) -> PathBuf {
    let b = slotwise_origin::authoring::build_dir(
        &root().join("tests/fixtures/shop"),
        &slotwise_origin::authoring::BuildOptions {
            created_at: 1_800_000_000,
        },
    )
    .unwrap();
    let path = dir.join("demo.swb");
    std::fs::write(&path, slotwise::bundle::encode(&b)).unwrap();
    path
}

pub struct Server {
    pub spawned: Spawned,
}

impl Server {
    pub fn start(name: &str) -> Server {
        let dir = temp_dir(name);
        let bundle = demo_bundle(&dir);
        let data = dir.join("data");
        let exe = Path::new(env!("CARGO_BIN_EXE_slotwise"));
        let bundle = bundle.to_string_lossy().into_owned();
        let (child, addr) = spawn_server(
            exe,
            &data,
            &[
                "--admin-token",
                TOKEN,
                "--bundle",
                &bundle,
                "--sync",
                "normal",
            ],
        )
        .unwrap();
        Server {
            spawned: Spawned { child, addr, dir },
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.spawned.addr
    }

    pub fn client(&self) -> Client {
        Client::new(self.addr()).unwrap()
    }

    pub fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.spawned.dir.join("data/slotwise.db")).unwrap()
    }

    pub fn count(&self, sql: &str) -> i64 {
        self.db().query_row(sql, [], |r| r.get(0)).unwrap()
    }
}

pub fn post_signals(c: &mut Client, body: &[u8]) -> Response {
    c.request("POST", "/v1/signals", &[("content-type", SWG1)], body)
        .unwrap()
}

pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}
