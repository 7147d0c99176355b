//! A throwaway PostgreSQL for the origin's tests: Debian's `postgresql` server
//! binaries, `initdb` in a temporary directory, listening on 127.0.0.1 only (and a
//! Unix socket inside that directory), stopped and deleted when [`TestPostgres`] drops.
//!
//! PostgreSQL refuses to run as root, and CI runs as root: then the cluster belongs to
//! the `postgres` system user the Debian package creates (else `nobody`), and every
//! server command runs through `runuser`. Tests reach it through the URL in
//! `SLOTWISE_TEST_POSTGRES` (see `origin/tests/common`). When that variable is already
//! set (the machine has a PostgreSQL for tests), nothing is started.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::util::output;

/// The variable the origin's tests read.
pub const URL_VAR: &str = "SLOTWISE_TEST_POSTGRES";

/// The Debian package that provides `initdb` and `pg_ctl`.
pub const PACKAGE: &str = "postgresql";

/// A running test cluster.
pub struct TestPostgres {
    /// `postgres://slotwise@127.0.0.1:<port>/postgres`.
    pub url: String,
    dir: PathBuf,
    bin: PathBuf,
    user: Option<String>,
}

/// The directory holding `initdb` and `pg_ctl`: the newest
/// `/usr/lib/postgresql/<major>/bin`, else the one `initdb` on `PATH` is in.
pub fn bin_dir() -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let major = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((major, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, b)| b).or_else(|| {
        let which = output("sh", &["-c", "command -v initdb"])?;
        Some(Path::new(which.trim()).parent()?.to_path_buf())
    })
}

fn is_root() -> bool {
    output("id", &["-u"]).is_some_and(|u| u.trim() == "0")
}

/// The unprivileged user to run the cluster as when we are root.
fn service_user() -> String {
    let known = |u: &str| {
        Command::new("id")
            .arg(u)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if known("postgres") {
        "postgres".into()
    } else {
        "nobody".into()
    }
}

impl TestPostgres {
    /// Starts a cluster; the error says why it could not.
    pub fn start() -> Result<TestPostgres, String> {
        let bin = bin_dir().ok_or(
            "no PostgreSQL server binaries (initdb): install Debian's `postgresql` package",
        )?;
        let user = is_root().then(service_user);
        // The service user must reach the directory: under root, /tmp rather than a
        // $TMPDIR that may sit in root's home.
        let tmp = if user.is_some() {
            PathBuf::from("/tmp")
        } else {
            std::env::temp_dir()
        };
        let dir = tmp.join(format!("slotwise-postgres-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        let mut pg = TestPostgres {
            url: String::new(),
            dir,
            bin,
            user,
        };
        if let Some(user) = &pg.user {
            let status = Command::new("chown")
                .args(["-R", &format!("{user}:"), &pg.dir.to_string_lossy()])
                .status()
                .map_err(|e| format!("chown: {e}"))?;
            if !status.success() {
                return Err(format!("cannot chown {} to {user}", pg.dir.display()));
            }
        }
        let data = pg.dir.join("data");
        let data_s = data.to_string_lossy().into_owned();
        pg.run(
            "initdb",
            &[
                "-D",
                &data_s,
                "-U",
                "slotwise",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ],
        )?;
        // A free port now; the tiny race with another process is retried below.
        let mut last = String::new();
        for _ in 0..3 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map_err(|e| e.to_string())?
                .port();
            let options = format!(
                "-c listen_addresses=127.0.0.1 -p {port} -k {} -c max_connections=200 \
                 -c shared_buffers=64MB",
                pg.dir.to_string_lossy()
            );
            let log = pg.dir.join("server.log");
            match pg.run(
                "pg_ctl",
                &[
                    "-D",
                    &data_s,
                    "-l",
                    &log.to_string_lossy(),
                    "-o",
                    &options,
                    "-w",
                    "-t",
                    "60",
                    "start",
                ],
            ) {
                Ok(()) => {
                    pg.url = format!("postgres://slotwise@127.0.0.1:{port}/postgres");
                    return Ok(pg);
                }
                Err(e) => {
                    last = format!("{e}\n{}", std::fs::read_to_string(&log).unwrap_or_default())
                }
            }
        }
        Err(last)
    }

    /// Runs a server binary (as the service user when we are root), quietly.
    fn run(&self, program: &str, args: &[&str]) -> Result<(), String> {
        let exe = self.bin.join(program);
        let mut c = match &self.user {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&exe);
                c
            }
            None => Command::new(&exe),
        };
        c.args(args).current_dir(&self.dir);
        let out = c
            .output()
            .map_err(|e| format!("cannot run {}: {e}", exe.display()))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!(
                "{program} failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }
}

impl Drop for TestPostgres {
    fn drop(&mut self) {
        if !self.url.is_empty() {
            let data = self.dir.join("data");
            let _ = self.run(
                "pg_ctl",
                &["-D", &data.to_string_lossy(), "-m", "fast", "-w", "stop"],
            );
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Points `tests` at a PostgreSQL: the one `SLOTWISE_TEST_POSTGRES` already names, else
/// a fresh [`TestPostgres`] (returned: keep it alive while the tests run). When none
/// can start, says why; the PostgreSQL runs of the suite then skip with a message.
pub fn for_tests(tests: &mut Command) -> Option<TestPostgres> {
    if std::env::var(URL_VAR).is_ok_and(|u| !u.is_empty()) {
        println!("PostgreSQL for tests: {URL_VAR} is set, using it");
        return None;
    }
    let started = std::time::Instant::now();
    match TestPostgres::start() {
        Ok(pg) => {
            println!(
                "PostgreSQL for tests: started at {} in {:.1} s (as {})",
                pg.url,
                started.elapsed().as_secs_f64(),
                pg.user.as_deref().unwrap_or("this user")
            );
            tests.env(URL_VAR, &pg.url);
            Some(pg)
        }
        Err(e) => {
            println!(
                "WARNING: no PostgreSQL for tests, the origin's PostgreSQL runs will skip: {e}"
            );
            None
        }
    }
}
