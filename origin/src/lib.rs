//! The Slotwise origin: compiles authoring JSON into bundles and, as later issues land,
//! serves the thin origin API (signals, profiles, snippets, lift) and trains the model.

pub mod authoring;
pub mod channels;
pub mod eval;
pub mod journeys;
pub mod keys;
pub mod preferences;
pub mod server;
pub mod snippet_cmd;
pub mod store;
pub mod store_cmd;
pub mod train;
