//! `slotwise bench-origin --compare-stores`: the same ingest and snippet load on
//! single-node SQLite, on one PostgreSQL replica and on two PostgreSQL replicas over
//! one database, side by side, with ratios to SQLite.
//!
//! Each configuration gets fresh servers (and, on PostgreSQL, a fresh database made
//! through `--postgres`, dropped at the end); the client (this process) spreads its
//! keep-alive connections over the replicas round-robin, as a load balancer would.
//! Everything shares the machine: the servers, PostgreSQL and the client compete for
//! the same cores, so the figures are what one box gives, not a scaling curve — the
//! report prints the core count and the load average beside them.

use std::net::SocketAddr;

use super::bench::{
    BenchArgs, Phase, Spawned, impression, percentile, run_phase, snippet_phase, spawn_server,
};
use crate::store::postgres::redact;
use slotwise::signals;

/// One measured configuration.
struct Measured {
    name: String,
    ingest: Phase,
    snippets: Phase,
}

fn rate(p: &Phase) -> f64 {
    p.units as f64 / p.secs.max(1e-9)
}

/// Runs a statement on the PostgreSQL server at `admin` (database administration).
fn admin_sql(admin: &str, sql: String) -> Result<(), String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    rt.block_on(async move {
        let (client, conn) = tokio_postgres::connect(admin, tokio_postgres::NoTls)
            .await
            .map_err(|e| format!("cannot connect to {}: {e}", redact(admin)))?;
        let task = tokio::spawn(conn);
        client
            .batch_execute(&sql)
            .await
            .map_err(|e| e.to_string())?;
        drop(client);
        let _ = task.await;
        Ok(())
    })
}

/// Compares the stores (see the module docs). `admin` is a PostgreSQL URL whose user
/// may create databases.
pub fn run(args: &BenchArgs, admin: &str) -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let connections = args.connections.iter().copied().max().unwrap_or(8);
    let batch = args.batch.clamp(1, signals::MAX_SIGNALS);
    let visitors = args.visitors.max(1);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (base, _) = admin
        .split('?')
        .next()
        .and_then(|u| u.rsplit_once('/'))
        .ok_or("--postgres must be a URL with a database, e.g. postgres://user@host/postgres")?;
    println!(
        "stores compared on {cores} cores, {connections} connections, batches of {batch}, {visitors} visitors, {} s per phase; load average at start {}",
        args.seconds,
        super::bench::load_average()
    );
    let configs: [(&str, bool, usize); 3] = [
        ("SQLite, 1 node", false, 1),
        ("PostgreSQL, 1 replica", true, 1),
        ("PostgreSQL, 2 replicas", true, 2),
    ];
    let mut results = Vec::new();
    for (n, (name, postgres, replicas)) in configs.into_iter().enumerate() {
        let dir =
            std::env::temp_dir().join(format!("slotwise-bench-stores-{}-{n}", std::process::id()));
        let db = format!("slotwise_bench_{}_{n}", std::process::id());
        let location = if postgres {
            // A name of digits and underscores made here: no input reaches it.
            admin_sql(admin, format!("CREATE DATABASE {db}"))?;
            format!("{base}/{db}")
        } else {
            format!("sqlite:{}", dir.join("r0").display())
        };
        let mut servers: Vec<Spawned> = Vec::new();
        for r in 0..replicas {
            let data = dir.join(format!("r{r}"));
            let (child, addr) =
                spawn_server(&exe, &data, &["--store", &location, "--sync", &args.sync])?;
            servers.push(Spawned {
                child,
                addr,
                dir: data,
            });
        }
        let addrs: Vec<SocketAddr> = servers.iter().map(|s| s.addr).collect();
        let ingest = run_phase(&addrs, args, connections, |c, rng| {
            let b: Vec<signals::Signal> =
                (0..batch).map(|_| impression(rng, now, visitors)).collect();
            let body = signals::encode(&b).map_err(|e| e.to_string())?;
            let r = c
                .request(
                    "POST",
                    "/v1/signals",
                    &[("content-type", super::SIGNALS_MEDIA_TYPE)],
                    &body,
                )
                .map_err(|e| e.to_string())?;
            if r.status == 200 {
                Ok(b.len() as u64)
            } else {
                Err(format!("status {}", r.status))
            }
        });
        let snippets = snippet_phase(&addrs, args, connections, visitors);
        drop(servers);
        let _ = std::fs::remove_dir_all(&dir);
        if postgres {
            admin_sql(admin, format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))?;
        }
        let m = Measured {
            name: name.to_string(),
            ingest,
            snippets,
        };
        println!(
            "{}: ingest {:.0} events/s (batch p50 {:.2} ms, p99 {:.2} ms, {} errors); snippets {:.0}/s (p50 {:.2} ms, p99 {:.2} ms, {} errors)",
            m.name,
            rate(&m.ingest),
            percentile(&m.ingest.latencies_ms, 0.5),
            percentile(&m.ingest.latencies_ms, 0.99),
            m.ingest.errors,
            rate(&m.snippets),
            percentile(&m.snippets.latencies_ms, 0.5),
            percentile(&m.snippets.latencies_ms, 0.99),
            m.snippets.errors
        );
        results.push(m);
    }
    let anchor = (rate(&results[0].ingest), rate(&results[0].snippets));
    println!();
    println!(
        "| store | events/s | batch p50 ms | batch p99 ms | vs SQLite | snippets/s | p50 ms | p99 ms | vs SQLite |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for m in &results {
        println!(
            "| {} | {:.0} | {:.2} | {:.2} | {:.2}x | {:.0} | {:.2} | {:.2} | {:.2}x |",
            m.name,
            rate(&m.ingest),
            percentile(&m.ingest.latencies_ms, 0.5),
            percentile(&m.ingest.latencies_ms, 0.99),
            rate(&m.ingest) / anchor.0.max(1e-9),
            rate(&m.snippets),
            percentile(&m.snippets.latencies_ms, 0.5),
            percentile(&m.snippets.latencies_ms, 0.99),
            rate(&m.snippets) / anchor.1.max(1e-9),
        );
    }
    println!(
        "load average at end: {}; the {cores} cores run the replicas, PostgreSQL and this client together",
        super::bench::load_average()
    );
    Ok(())
}
