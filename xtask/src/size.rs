//! The size report: raw, gzip -9 and brotli bytes of what the package ships.

use std::io::Write;
use std::path::Path;

/// Sizes of one file.
pub struct Sizes {
    pub raw: usize,
    pub gzip: usize,
    pub brotli: usize,
}

pub fn measure(path: &Path) -> Result<Sizes, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&bytes).map_err(|e| e.to_string())?;
    let gzip = gz.finish().map_err(|e| e.to_string())?.len();
    let mut br = Vec::new();
    {
        let mut w = brotli::CompressorWriter::new(&mut br, 4096, 11, 22);
        w.write_all(&bytes).map_err(|e| e.to_string())?;
    }
    Ok(Sizes {
        raw: bytes.len(),
        gzip,
        brotli: br.len(),
    })
}

/// Prints a table of `files` (relative to `dir`) and returns the gzip total.
pub fn report(dir: &Path, title: &str, files: &[&str]) -> Result<usize, String> {
    println!("{title}");
    println!(
        "  {:<26} {:>9} {:>9} {:>9}",
        "file", "raw", "gzip -9", "brotli"
    );
    let (mut raw, mut gzip, mut brotli) = (0, 0, 0);
    for f in files {
        let s = measure(&dir.join(f))?;
        println!("  {:<26} {:>9} {:>9} {:>9}", f, s.raw, s.gzip, s.brotli);
        raw += s.raw;
        gzip += s.gzip;
        brotli += s.brotli;
    }
    println!("  {:<26} {:>9} {:>9} {:>9}", "total", raw, gzip, brotli);
    Ok(gzip)
}

/// The peers' browser SDKs, gzip bytes as they publish them (issue 8): the line the
/// browser entry is read against.
const PEERS: &[(&str, f64)] = &[("GrowthBook", 14.5), ("Uniform Context", 10.5)];

/// Prints the browser entry's gzip size beside the peers', with ratios.
pub fn versus_peers(gzip: usize) {
    let kb = gzip as f64 / 1000.0;
    let mut line = format!("  vs peers (gzip): Slotwise {kb:.1} KB");
    for (name, peer) in PEERS {
        line.push_str(&format!(" · {name} {peer:.1} KB ({:.1}×)", kb / peer));
    }
    println!("{line}");
}
