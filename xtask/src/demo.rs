//! `cargo xtask demo`: builds the package and the demo bundle, then serves `www/`.
//!
//! Until the origin API serves the demo (issue 6), a small static server here maps
//! `/pkg/*` to the built package, `/slotwise/bundle` to the demo bundle compiled from
//! `www/authoring/`, and everything else to `www/`. Loopback only.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};

use crate::build::{self, path_str};
use crate::util::{cmd, exec, root, step};

pub fn run(args: &[String]) -> Result<(), String> {
    let port = match args {
        [] => 8080,
        [flag, n] if flag == "--port" => n.parse().map_err(|_| "--port takes a number")?,
        _ => return Err("usage: cargo xtask demo [--port N]".into()),
    };
    let pkg = build::run()?;
    step("demo: compile www/authoring into a bundle");
    let bundle = root().join("target/demo/bundle.swb");
    std::fs::create_dir_all(bundle.parent().ok_or("no parent")?).map_err(|e| e.to_string())?;
    exec(cmd(
        "cargo",
        &[
            "run",
            "--quiet",
            "--package",
            "slotwise-origin",
            "--",
            "bundle",
            "build",
            "www/authoring",
            "-o",
            path_str(&bundle)?,
        ],
    ))?;
    let listener = TcpListener::bind(("127.0.0.1", port))
        .map_err(|e| format!("cannot listen on 127.0.0.1:{port}: {e}"))?;
    let site = Site {
        www: root().join("www"),
        pkg,
        bundle,
    };
    println!("\nSlotwise demo: http://127.0.0.1:{port}/  (Ctrl-C to stop)");
    for stream in listener.incoming().flatten() {
        let site = site.clone();
        std::thread::spawn(move || {
            let _ = site.answer(stream);
        });
    }
    Ok(())
}

#[derive(Clone)]
struct Site {
    www: PathBuf,
    pkg: PathBuf,
    bundle: PathBuf,
}

impl Site {
    fn answer(&self, mut stream: TcpStream) -> std::io::Result<()> {
        let mut line = String::new();
        BufReader::new(&stream).read_line(&mut line)?;
        let path = line.split_whitespace().nth(1).unwrap_or("/");
        let path = path.split(['?', '#']).next().unwrap_or("/");
        let file = self.resolve(path);
        match file.and_then(|f| std::fs::read(&f).ok().map(|b| (f, b))) {
            Some((f, body)) => {
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: {}\r\ncontent-length: {}\r\ncache-control: no-store\r\nconnection: close\r\n\r\n",
                    content_type(&f),
                    body.len()
                );
                stream.write_all(head.as_bytes())?;
                stream.write_all(&body)
            }
            None => stream.write_all(
                b"HTTP/1.1 404 Not Found\r\ncontent-type: text/plain\r\ncontent-length: 9\r\nconnection: close\r\n\r\nnot found",
            ),
        }
    }

    fn resolve(&self, path: &str) -> Option<PathBuf> {
        if path == "/slotwise/bundle" {
            return Some(self.bundle.clone());
        }
        let (base, rest) = match path.strip_prefix("/pkg/") {
            Some(rest) => (&self.pkg, rest),
            None => (&self.www, path.trim_start_matches('/')),
        };
        // Only plain names: no `..`, no absolute parts.
        if rest
            .split('/')
            .any(|part| part == ".." || part.contains('\\'))
        {
            return None;
        }
        let mut file = base.join(rest);
        if file.is_dir() {
            file = file.join("index.html");
        }
        file.is_file().then_some(file)
    }
}

fn content_type(file: &Path) -> &'static str {
    match file.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript",
        Some("css") => "text/css",
        Some("wasm") => "application/wasm",
        Some("svg") => "image/svg+xml",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}
