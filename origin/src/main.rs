//! `slotwise`: the command line for authors and operators.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use slotwise_origin::authoring::{self, BuildOptions};
use slotwise_origin::{eval, train};
use slotwise_origin::{keys, snippet_cmd};

#[derive(Parser)]
#[command(
    name = "slotwise",
    version,
    about = "Slotwise personalization: bundles, keys, snippets"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Work with bundles.
    Bundle {
        #[command(subcommand)]
        command: BundleCommand,
    },
    /// Train the scoring model from sessions of events and write it into a bundle.
    Train {
        /// Events: TSV with a `SessionId\tItemId\tTime` header, or JSON Lines.
        events: PathBuf,
        /// The bundle to start from (its items are the catalogue the model indexes).
        #[arg(long)]
        bundle: PathBuf,
        /// Where to write the bundle with the model.
        #[arg(short, long)]
        out: PathBuf,
        /// Append items the bundle lacks (category "", shared empty content) instead of
        /// skipping their events.
        #[arg(long)]
        add_items: bool,
    },
    /// Offline evaluation on rsc15_100k: the model against POP, S-POP, AR and SKNN.
    Eval {
        /// Dataset directory (default: ../shared/data/sessions/rsc15_100k from the
        /// workspace root). Skips with a message when absent.
        #[arg(long)]
        data: Option<PathBuf>,
    },
    /// Manage Ed25519 snippet signing keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Sign and verify profile snippets (SWP1).
    Snippet {
        #[command(subcommand)]
        command: SnippetCommand,
    },
    /// Print the encoded sizes of a typical snippet and a busy session against budgets.
    Sizes,
    /// Print the store's schema migrations (applied and pending) and apply the pending.
    Migrate {
        /// `sqlite:<dir>` or `postgres://...` (default: SQLite in --data-dir).
        #[arg(long, env = "SLOTWISE_STORE", hide_env_values = true)]
        store: Option<slotwise_origin::store::Location>,
        /// The data directory whose SQLite database to migrate when --store is absent.
        #[arg(long, env = "SLOTWISE_DATA_DIR", default_value = "slotwise-data")]
        data_dir: PathBuf,
        /// Only print the pending migrations' SQL; change nothing.
        #[arg(long)]
        print: bool,
    },
    /// Move a site's data between stores.
    Store {
        #[command(subcommand)]
        command: StoreCommand,
    },
    /// Serve the origin API (signals, snippets, bundles, identity, lift, metrics).
    Serve(slotwise_origin::server::Config),
    /// Load-benchmark the origin API on 127.0.0.1 from this (second) process.
    BenchOrigin(slotwise_origin::server::bench::BenchArgs),
    /// Decide and render for a list of subjects (a batch send): one JSON line each.
    Decide(slotwise_origin::channels::batch::DecideArgs),
    /// Benchmark `slotwise decide` (batch) and `POST /v1/decide` under load.
    BenchDecide(slotwise_origin::channels::bench::BenchDecideArgs),
    /// Sign an expiring preference-centre link for a message recipient.
    PreferencesLink(slotwise_origin::preferences::link::LinkArgs),
}

#[derive(Subcommand)]
enum StoreCommand {
    /// Copy everything (signals, erased ids, identities, bundles and their journeys,
    /// retention floor, journey instances, outbox, contact records) into
    /// a new, empty store, e.g. --from sqlite:slotwise-data --to postgres://host/db.
    Copy {
        /// The store to read.
        #[arg(long)]
        from: slotwise_origin::store::Location,
        /// The empty store to fill.
        #[arg(long)]
        to: slotwise_origin::store::Location,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Generate a key pair: KID.secret.json (mode 0600) and KID.public.json.
    Generate {
        /// Directory to write the key files into.
        #[arg(long, default_value = ".")]
        out_dir: PathBuf,
        /// Key id (default: derived from the public key).
        #[arg(long)]
        kid: Option<String>,
    },
}

#[derive(Subcommand)]
enum SnippetCommand {
    /// Sign a claims JSON file; prints the base64url token.
    Sign {
        /// The secret key file from `slotwise keys generate`.
        #[arg(long)]
        key: PathBuf,
        /// The claims JSON file.
        claims: PathBuf,
    },
    /// Sign the typical claims (see `slotwise sizes`) for a site, valid for an hour.
    Typical {
        /// The secret key file from `slotwise keys generate`.
        #[arg(long)]
        key: PathBuf,
        /// The site the snippet is for.
        #[arg(long)]
        audience: String,
    },
    /// Verify a token; prints its claims as JSON, or the error code.
    Verify {
        /// Public key files for the key ring (repeat for rotation).
        #[arg(long = "public", required = true)]
        public: Vec<PathBuf>,
        /// The site the snippet must be for.
        #[arg(long)]
        audience: String,
        /// Unix seconds to check expiry against (default: now).
        #[arg(long)]
        now: Option<u64>,
        /// The token (or `-` to read it from standard input).
        token: String,
    },
}

#[derive(Subcommand)]
enum BundleCommand {
    /// Compile an authoring directory of JSON into a binary bundle.
    Build {
        /// The authoring directory (bundle.json, content.json, items.json, slots.json).
        dir: PathBuf,
        /// Where to write the bundle.
        #[arg(short, long, default_value = "bundle.swb")]
        out: PathBuf,
        /// Unix seconds to stamp into the header (default: $SOURCE_DATE_EPOCH, else now).
        #[arg(long)]
        created_at: Option<u64>,
    },
    /// Decode a bundle and print a summary (checks it is valid).
    Inspect {
        /// The bundle file.
        file: PathBuf,
    },
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Train {
            events,
            bundle,
            out,
            add_items,
        } => {
            let bytes = std::fs::read(&bundle)
                .map_err(|e| format!("cannot read {}: {e}", bundle.display()))?;
            let mut b = slotwise::bundle::decode(&bytes).map_err(|e| e.to_string())?;
            let events = train::read_events(&events)?;
            let opts = train::TrainOptions::default();
            let report = train::train_bundle(&mut b, &events, &opts, add_items);
            let bytes = slotwise::bundle::encode(&b);
            std::fs::write(&out, &bytes)
                .map_err(|e| format!("cannot write {}: {e}", out.display()))?;
            // The trained bundle keeps the journeys compiled next to the one it started from.
            let journeys = authoring::journeys_path(&bundle);
            if journeys.exists() && journeys != authoring::journeys_path(&out) {
                std::fs::copy(&journeys, authoring::journeys_path(&out))
                    .map_err(|e| format!("cannot copy {}: {e}", journeys.display()))?;
            }
            println!(
                "wrote {} ({} bytes, model {} bytes): {} sessions, {} events, {} items added, {} events of unknown items skipped",
                out.display(),
                bytes.len(),
                report.model_bytes,
                report.sessions,
                report.events,
                report.added_items,
                report.unknown_events
            );
            Ok(())
        }
        Command::Eval { data } => {
            let dir = data.unwrap_or_else(eval::default_data_dir);
            if !eval::data_present(&dir) {
                println!(
                    "eval skipped: dataset not found at {} (it is never in the repository)",
                    dir.display()
                );
                return Ok(());
            }
            eval::run(&dir).map(|_| ())
        }
        Command::Keys {
            command: KeysCommand::Generate { out_dir, kid },
        } => {
            let (secret, public, key) = keys::generate(&out_dir, kid.as_deref())?;
            println!("kid {}", key.kid);
            println!("public {}", key.public);
            println!(
                "wrote {} (keep secret) and {}",
                secret.display(),
                public.display()
            );
            Ok(())
        }
        Command::Snippet {
            command: SnippetCommand::Sign { key, claims },
        } => {
            println!("{}", snippet_cmd::sign(&key, &claims)?);
            Ok(())
        }
        Command::Snippet {
            command: SnippetCommand::Typical { key, audience },
        } => {
            println!("{}", snippet_cmd::typical(&key, &audience, now_unix())?);
            Ok(())
        }
        Command::Snippet {
            command:
                SnippetCommand::Verify {
                    public,
                    audience,
                    now,
                    token,
                },
        } => {
            let token = if token == "-" {
                std::io::read_to_string(std::io::stdin()).map_err(|e| e.to_string())?
            } else {
                token
            };
            let ring = keys::read_ring(&public)?;
            let now = now.unwrap_or_else(now_unix);
            println!("{}", snippet_cmd::verify(&ring, &token, now, &audience)?);
            Ok(())
        }
        Command::Serve(config) => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?
            .block_on(slotwise_origin::server::serve(config)),
        Command::BenchOrigin(args) => slotwise_origin::server::bench::run(&args),
        Command::Decide(args) => slotwise_origin::channels::batch::run(&args).map(|_| ()),
        Command::BenchDecide(args) => slotwise_origin::channels::bench::run(&args),
        Command::PreferencesLink(args) => {
            println!(
                "{}",
                slotwise_origin::preferences::link::run(&args, now_unix())?
            );
            Ok(())
        }
        Command::Migrate {
            store,
            data_dir,
            print,
        } => {
            let location = store.unwrap_or(slotwise_origin::store::Location::Sqlite(data_dir));
            print!(
                "{}",
                slotwise_origin::store_cmd::migrate(&location, !print)?
            );
            Ok(())
        }
        Command::Store {
            command: StoreCommand::Copy { from, to },
        } => {
            println!("{}", slotwise_origin::store_cmd::copy(&from, &to)?);
            Ok(())
        }
        Command::Sizes => {
            let report = snippet_cmd::sizes()?;
            print!("{report}");
            Ok(())
        }
        Command::Bundle { command } => match command {
            BundleCommand::Build {
                dir,
                out,
                created_at,
            } => {
                let created_at = created_at
                    .or_else(|| std::env::var("SOURCE_DATE_EPOCH").ok()?.parse().ok())
                    .unwrap_or_else(now_unix);
                let bundle = authoring::build_dir(&dir, &BuildOptions { created_at })
                    .map_err(|e| e.to_string())?;
                // Journeys are the origin's: compiled next to the bundle, not into it.
                let journeys =
                    authoring::build_journeys(&dir, &bundle).map_err(|e| e.to_string())?;
                let journeys_out = authoring::journeys_path(&out);
                match &journeys {
                    Some(text) => {
                        std::fs::write(&journeys_out, text)
                            .map_err(|e| format!("cannot write {}: {e}", journeys_out.display()))?;
                        println!(
                            "wrote {} (journeys, published with the bundle)",
                            journeys_out.display()
                        );
                    }
                    None => {
                        let _ = std::fs::remove_file(&journeys_out);
                    }
                }
                let bytes = slotwise::bundle::encode(&bundle);
                std::fs::write(&out, &bytes)
                    .map_err(|e| format!("cannot write {}: {e}", out.display()))?;
                println!(
                    "wrote {} ({} bytes): {} slots, {} items, {} content",
                    out.display(),
                    bytes.len(),
                    bundle.slots.len(),
                    bundle.items.len(),
                    bundle.content.len()
                );
                println!("{}", variant_keys_line(&bundle));
                Ok(())
            }
            BundleCommand::Inspect { file } => {
                let bytes = std::fs::read(&file)
                    .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
                let bundle = slotwise::bundle::decode(&bytes).map_err(|e| e.to_string())?;
                println!(
                    "bundle {} for {} (created {}): {} slots, {} items, {} content, {} bytes",
                    bundle.header.id,
                    bundle.header.site,
                    bundle.header.created_at,
                    bundle.slots.len(),
                    bundle.items.len(),
                    bundle.content.len(),
                    bytes.len()
                );
                for slot in &bundle.slots {
                    println!("  slot {}: {} candidates", slot.name, slot.candidates.len());
                }
                if !bundle.model.is_empty() {
                    let m = &bundle.model;
                    println!(
                        "  model: {} items, {} neighbour entries, embeddings dim {}, {} bytes",
                        m.prior.len(),
                        m.weights.len() / 2,
                        m.embed_dim,
                        m.encoded_len()
                    );
                }
                Ok(())
            }
        },
    }
}

fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// How many edge variant-cache keys one page URL can have with this bundle (see
/// pkg-config/src/edge-cache.js): 3 device classes × the variations of each
/// experiment × 2 for the holdout (when there is one) × 2 (impressions sent by the
/// edge or not), times the country / region / language values visitors come with.
fn variant_keys_line(bundle: &slotwise::bundle::Bundle) -> String {
    let variations: u128 = bundle
        .experiments
        .iter()
        .map(|e| e.variations.len().max(1) as u128)
        .fold(1, u128::saturating_mul);
    let holdout = if bundle.holdout.is_some() { 2 } else { 1 };
    let keys = 3u128
        .saturating_mul(variations)
        .saturating_mul(holdout)
        .saturating_mul(2);
    format!(
        "edge variant cache: {keys} keys per page URL (3 devices x {variations} experiment variations x {holdout} holdout x 2 impression modes), times the country/region/language values seen"
    )
}
