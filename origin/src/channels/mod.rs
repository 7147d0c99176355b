//! Decisions for channels without Wasm: email, push, SMS, app backends and store
//! screens decide at the origin, natively, with the same engine as the browser.
//!
//! - [`cluster`]: an identity cluster's stored signals as the engine's visitor — its
//!   profile claims, its recent behaviour as a session, and its cross-channel
//!   frequency counters for the bundle's caps ([`counters`]);
//! - [`decide`]: one request → rendered decisions with reasons, and the exposures
//!   to record (an impression per item shown, with the channel), so that every
//!   exposure in any channel counts against the same caps;
//! - [`line`]: the batch's JSON line, written from pieces escaped once per batch;
//! - [`batch`]: `slotwise decide --channel email --subjects <csv> --out <jsonl>`;
//! - [`bench`]: `slotwise bench-decide`, the batch's throughput and `/v1/decide` latency.
//!
//! `POST /v1/decide` (`crate::server::decide`) is the HTTP form of [`decide`].

pub mod batch;
pub mod bench;
pub mod cluster;
pub mod counters;
pub mod decide;
pub mod line;

use slotwise::signals::Channel;

/// The channel named `name` (`web`, `app`, `email`, `push`, `sms`, `store`).
pub fn channel_named(name: &str) -> Option<Channel> {
    Channel::ALL.into_iter().find(|c| c.name() == name)
}

/// The current Unix time in seconds.
pub fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
