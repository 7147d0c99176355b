//! Journeys: messages across channels that follow what a subject did — an abandoned
//! cart's reminder email, say — declared in the authoring JSON and run by the origin.
//!
//! - [`definition`]: `journeys.json` (trigger, exit, steps, quiet hours, budget),
//!   validated against its bundle at build time;
//! - [`evaluate`]: pure — a cluster's signals and journey instances in, the instance
//!   changes out (start, fold in new triggers, exit), and which items a subject's
//!   pages show first;
//! - [`contact`]: the one question a step asks before it produces a message: may
//!   this subject be contacted on this channel now;
//! - [`clock`]: the injected time (`slotwise serve --test-clock` lets tests set it).
//!
//! The server side (`crate::server::journeys`) evaluates as signals arrive and on a
//! scheduler, decides and renders due messages with the channel's engine, and serves
//! the outbox; the store keeps instances and messages exactly once across replicas
//! (`crate::store::journeys`).

pub mod clock;
pub mod contact;
pub mod definition;
pub mod evaluate;
