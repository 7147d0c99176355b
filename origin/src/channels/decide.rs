//! One channel request → rendered decisions with reasons, and the exposures to record.
//!
//! The engine decides natively for the cluster's visitor ([`super::cluster`]); each
//! decision is rendered for the channel ([`slotwise::render`]) and described the way
//! the browser SDK describes it: reason code, the "why" sentence, matched rule ids,
//! the experiment arm. Every item a message shows becomes one impression signal with
//! the channel (push and SMS show one item; a slot default is not an impression, as
//! on the web) — recorded only with `measurement` consent, and carrying the subject
//! only with `personalization` consent (as every signal).

use serde::Serialize;
use serde_json::value::RawValue;
use slotwise::decide::{Decision, Engine, Request};
use slotwise::hex::{splitmix64, u64_hex};
use slotwise::render::{Prepared, Rendered};
use slotwise::rules::Value;
use slotwise::signals::{Channel, Kind, Signal};

use super::cluster::ClusterVisitor;

/// What to decide.
#[derive(Clone, Copy, Debug)]
pub struct ChannelRequest<'a> {
    /// Where the message goes.
    pub channel: Channel,
    /// Slot names, in message order.
    pub slots: &'a [&'a str],
    /// Context attributes rules read (an object, or `Null`).
    pub context: &'a Value,
    /// Random per message: decision ids and exploration.
    pub seed: u64,
    /// Unix seconds.
    pub now: u64,
    /// The channel's renderings of the bundle's content (with their base URL).
    pub prepared: &'a Prepared,
    /// The cluster's pseudonymous signal subject, when it has one.
    pub subject: Option<u64>,
}

/// One slot's decision, rendered for the channel.
#[derive(Clone, Debug, Serialize)]
pub struct ChannelDecision {
    /// The slot name as requested.
    pub slot: String,
    /// Decision id (16 hex digits): clicks and conversions refer to it.
    pub id: String,
    /// Stable reason code (`recommended`, `featured`, `capped`, `default`, ...).
    pub reason: &'static str,
    /// The "why am I seeing this" sentence.
    pub explain: String,
    /// Item ids shown, best first (empty: the slot's default content).
    pub items: Vec<String>,
    /// Id of the content rendered first (`None`: an unknown slot).
    pub content: Option<String>,
    /// Ids of the slot's rules whose conditions matched.
    pub rules: Vec<String>,
    /// `{experiment, variation}` when the slot runs an experiment the subject is in.
    pub variant: Option<Variant>,
    /// The channel's form: HTML (web, email), JSON cards (app, store), `{title, body,
    /// link}` (push), text (SMS); `null` when there is nothing with text to send.
    pub rendered: Option<Output>,
}

/// An experiment arm.
#[derive(Clone, Debug, Serialize)]
pub struct Variant {
    /// The experiment's key.
    pub experiment: String,
    /// The variation index.
    pub variation: u32,
}

/// A rendered decision as JSON.
#[derive(Clone, Debug, Serialize)]
#[serde(untagged)]
pub enum Output {
    /// HTML or SMS text.
    Text(String),
    /// App cards, already JSON.
    Json(Box<RawValue>),
    /// A push notification.
    Push {
        /// Title (may be empty).
        title: String,
        /// Body, never empty.
        body: String,
        /// Absolute link to open.
        link: Option<String>,
    },
}

/// The engine's decisions for `req`, for the cluster's `visitor`.
pub fn decide_slots<'e>(
    engine: &'e Engine,
    visitor: &'e ClusterVisitor,
    req: &ChannelRequest<'e>,
) -> Vec<Decision<'e>> {
    let request = Request {
        slots: req.slots,
        seed: req.seed,
        context: req.context,
        visitor: visitor.visitor(req.now),
    };
    engine.decide(&request)
}

/// Adds the impression signals of decision `d` to `exposures`: one per item shown
/// when the message shows something (`rendered`) and the subject consented to
/// measurement.
pub fn record_exposures(
    d: &Decision<'_>,
    rendered: bool,
    visitor: &ClusterVisitor,
    req: &ChannelRequest<'_>,
    exposures: &mut Vec<Signal>,
) {
    if !(rendered && visitor.consent.measurement && req.subject.is_some()) {
        return;
    }
    let shown = match req.channel {
        Channel::Push | Channel::Sms => d.items.len().min(1),
        _ => d.items.len(),
    };
    let variant = d.variant.map_or(0, |(_, v)| v.min(255) as u8);
    for &item in &d.items[..shown] {
        let mut s = Signal::new(
            Kind::Impression,
            splitmix64(d.id ^ splitmix64(u64::from(item) + 1)),
            req.now,
        )
        .decision(
            d.id,
            d.slot_index.unwrap_or(0).min(u32::from(u16::MAX)) as u16,
            item,
            variant,
        )
        .consent(visitor.consent.to_bits())
        .channel(req.channel);
        if let Some(subject) = req.subject {
            s = s.subject(subject);
        }
        exposures.push(s);
    }
}

/// Decides and renders every requested slot; returns the decisions and the
/// impression signals to record.
pub fn decide(
    engine: &Engine,
    visitor: &ClusterVisitor,
    req: &ChannelRequest<'_>,
) -> (Vec<ChannelDecision>, Vec<Signal>) {
    let bundle = engine.bundle();
    let decisions = decide_slots(engine, visitor, req);
    let mut exposures = Vec::new();
    let out = decisions
        .iter()
        .map(|d| {
            let rendered = req.prepared.render(engine, d);
            let slot = d.slot_index.and_then(|s| bundle.slots.get(s as usize));
            record_exposures(d, rendered.is_some(), visitor, req, &mut exposures);
            ChannelDecision {
                slot: d.slot.to_string(),
                id: u64_hex(d.id),
                reason: d.reason.code(),
                explain: engine.explain(d.slot_index, d.reason, d.because),
                items: d
                    .items
                    .iter()
                    .filter_map(|&i| bundle.items.get(i as usize))
                    .map(|i| i.id.clone())
                    .collect(),
                content: d.content.map(|c| c.id.clone()),
                rules: d
                    .matched
                    .iter()
                    .filter_map(|&r| slot.and_then(|s| s.rules.get(r as usize)))
                    .map(|r| r.id.clone())
                    .collect(),
                variant: d.variant.and_then(|(e, v)| {
                    Some(Variant {
                        experiment: bundle.experiments.get(e as usize)?.key.clone(),
                        variation: v,
                    })
                }),
                rendered: rendered.and_then(output),
            }
        })
        .collect();
    (out, exposures)
}

/// A rendering as the JSON value of [`ChannelDecision::rendered`].
pub(crate) fn output(r: Rendered) -> Option<Output> {
    Some(match r {
        Rendered::Html(s) | Rendered::Sms(s) => Output::Text(s),
        // The app renderer always writes valid JSON (its tests parse it).
        Rendered::Json(s) => Output::Json(RawValue::from_string(s).ok()?),
        Rendered::Push(p) => Output::Push {
            title: p.title,
            body: p.body,
            link: p.link,
        },
    })
}
