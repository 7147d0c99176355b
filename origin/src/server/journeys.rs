//! The origin side of journeys: evaluation as signals arrive, the scheduler's pass,
//! the journey claim of snippets and server-side decisions, and the HTTP endpoints
//! `GET /v1/outbox`, `POST /v1/outbox/ack`, `GET|PUT /v1/subjects/{id}/contact` and
//! (with `--test-clock`) `POST /v1/admin/clock`.
//!
//! A pass claims due instances (row leases, so replicas share the work and each
//! instance is handled by one), re-checks the exit with the cluster's current
//! signals, asks [`crate::journeys::contact::may_contact`], decides the step's slots
//! for its channel with the journey's items first (the same engine and renderer as
//! `POST /v1/decide`), and hands the message to the store, which queues it exactly
//! once. The impressions of a queued message are recorded with its channel, so
//! frequency caps count it.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Path as UrlPath, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use slotwise::bundle::Bundle;
use slotwise::signals::{Channel, Signal};

use super::{App, authorized, blocking, error, json_body, query, read_body, timed, unavailable};
use crate::channels::batch::{load_cluster, message_seed};
use crate::channels::channel_named;
use crate::channels::cluster::ClusterVisitor;
use crate::channels::decide::{ChannelRequest, decide};
use crate::journeys::contact::{Facts, Verdict, may_contact};
use crate::journeys::definition::Journeys;
use crate::journeys::evaluate::{evaluate, remaining, shown_items};
use crate::store::StoreError;
use crate::store::journeys::{
    Acked, Contact, Instance, OutboxMessage, StepAction, StepDone, StepOutcome, new_id,
};

/// How long a claimed instance stays with the replica that claimed it.
pub const CLAIM_LEASE_SECS: u64 = 60;
/// Instances one claim takes.
const CLAIM_BATCH: usize = 64;

/// The journeys published with the current bundle, cached per bundle version.
#[derive(Default)]
pub struct JourneyCache(std::sync::RwLock<Option<(u64, Option<Arc<Journeys>>)>>);

impl App {
    /// The current bundle and its journeys (`None`: no bundle or no journeys).
    pub(super) fn journeys(&self) -> Option<(Arc<Bundle>, Arc<Journeys>)> {
        let current = self.current().ok()??;
        self.journeys_of(&current)
            .map(|j| (current.decoded.clone(), j))
    }

    /// The journeys published with `current` (`None`: it has none).
    pub(super) fn journeys_of(&self, current: &super::Current) -> Option<Arc<Journeys>> {
        if let Ok(guard) = self.journey_cache.0.read()
            && let Some((v, j)) = guard.as_ref()
            && *v == current.version
        {
            return j.clone();
        }
        let parsed = match self.store.bundle_journeys(current.version) {
            Ok(Some(text)) => match serde_json::from_str::<Journeys>(&text) {
                Ok(j) => Some(Arc::new(j)),
                Err(e) => {
                    eprintln!(
                        "journeys of bundle version {} do not parse: {e}",
                        current.version
                    );
                    None
                }
            },
            Ok(None) => None,
            Err(e) => {
                eprintln!("store error (journeys): {e}");
                return None;
            }
        };
        if let Ok(mut guard) = self.journey_cache.0.write() {
            *guard = Some((current.version, parsed.clone()));
        }
        parsed
    }
}

/// The subjects of `batch` whose signals may start or end a journey (empty without
/// journeys: ingest pays nothing then).
pub(super) fn subjects_to_evaluate(app: &App, batch: &[Signal]) -> Vec<u64> {
    let Some((_, defs)) = app.journeys() else {
        return Vec::new();
    };
    let mut out: Vec<u64> = batch
        .iter()
        .filter(|s| {
            defs.journeys
                .iter()
                .any(|j| j.triggers(s.kind, s.channel) || j.exit_kind() == Some(s.kind))
        })
        .filter_map(|s| s.subject)
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Evaluates the journeys of these subjects' clusters (after their signals are stored).
pub(super) fn evaluate_subjects(app: &App, subjects: &[u64]) -> Result<(), StoreError> {
    let Some((bundle, defs)) = app.journeys() else {
        return Ok(());
    };
    let now = app.clock.now();
    for &s in subjects {
        let id = crate::store::anon_id(s);
        let (_, ids) = app.store.cluster(&id)?;
        let signals = app.store.profile_log(&ids)?;
        let instances = app.store.journey_instances(&ids)?;
        let writes = evaluate(&defs, &bundle, &id, &instances, &signals, now);
        if !writes.is_empty() {
            app.store.journey_write(writes)?;
        }
    }
    Ok(())
}

/// The item indices a cluster's decisions show first now (its journey claim).
pub(super) fn claim_items(app: &App, ids: &[String], bundle: &Bundle) -> Vec<u32> {
    if app.journeys().is_none() {
        return Vec::new();
    }
    let instances = match app.store.journey_instances(ids) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("store error (journey claim left out): {e}");
            return Vec::new();
        }
    };
    claim_from(app, &instances, bundle)
}

/// [`claim_items`] from the cluster's journey instances, already read.
pub(super) fn claim_from(app: &App, instances: &[Instance], bundle: &Bundle) -> Vec<u32> {
    indices(bundle, &shown_items(instances, app.clock.now()))
}

fn indices(bundle: &Bundle, ids: &[String]) -> Vec<u32> {
    ids.iter()
        .filter_map(|id| bundle.items.iter().position(|it| &it.id == id))
        .map(|i| i as u32)
        .collect()
}

/// What one scheduler pass did.
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct Pass {
    /// Messages queued.
    pub queued: u64,
    /// Steps with no message (no consent, no recipient, over budget).
    pub skipped: u64,
    /// Steps moved past quiet hours.
    pub postponed: u64,
    /// Instances ended (exit, consent, journey gone).
    pub ended: u64,
    /// Steps another replica had done.
    pub stale: u64,
}

/// One scheduler pass at the clock's time: every due instance, in batches.
pub fn run_due(app: &App) -> Result<Pass, StoreError> {
    let mut pass = Pass::default();
    let Some((bundle, defs)) = app.journeys() else {
        return Ok(pass);
    };
    let now = app.clock.now();
    loop {
        let claimed = app
            .store
            .journey_claim(now, now + CLAIM_LEASE_SECS, CLAIM_BATCH)?;
        let n = claimed.len();
        for inst in claimed {
            let (done, exposures) = step_of(app, &bundle, &defs, &inst, now)?;
            let action = std::mem::discriminant(&done.action);
            let outcome = app.store.journey_step(done.clone(), now);
            // The step moved the instance on (or may have, if the answer was lost):
            // cached views of its cluster hold the old one (its items may no longer
            // show). Dropped before anything else here can fail.
            app.profiles
                .invalidate_ids(std::slice::from_ref(&inst.subject));
            match outcome? {
                StepOutcome::Queued => {
                    pass.queued += 1;
                    if !exposures.is_empty() {
                        let stored = app.store.ingest(&exposures, crate::channels::now_unix());
                        app.profiles.clear();
                        stored?;
                    }
                }
                StepOutcome::OverBudget => pass.skipped += 1,
                StepOutcome::Stale => pass.stale += 1,
                StepOutcome::Applied => {
                    if action == std::mem::discriminant(&StepAction::Skip) {
                        pass.skipped += 1;
                    } else if matches!(done.action, StepAction::Postpone(_)) {
                        pass.postponed += 1;
                    } else {
                        pass.ended += 1;
                    }
                }
            }
        }
        if n < CLAIM_BATCH {
            return Ok(pass);
        }
    }
}

/// What a claimed instance's step comes to, and the impressions its message makes.
fn step_of(
    app: &App,
    bundle: &Bundle,
    defs: &Journeys,
    inst: &Instance,
    now: u64,
) -> Result<(StepDone, Vec<Signal>), StoreError> {
    let mut done = StepDone {
        instance: inst.id,
        step: inst.step,
        next_at: 0,
        items: inst.items.clone(),
        action: StepAction::Cancel,
    };
    let Some(j) = defs.get(&inst.journey) else {
        return Ok((done, Vec::new()));
    };
    let Some(step) = j.steps.get(inst.step as usize) else {
        return Ok((done, Vec::new()));
    };
    done.next_at = j
        .steps
        .get(inst.step as usize + 1)
        .map_or(0, |s| now.saturating_add(s.wait_secs));
    let (_, ids) = app.store.cluster(&inst.subject)?;
    let signals = app.store.profile_log(&ids)?;
    let Some(items) = remaining(j, bundle, inst.started_at, &inst.items, &signals) else {
        done.action = StepAction::Exit;
        return Ok((done, Vec::new()));
    };
    done.items = items.clone();
    let channel = step.channel();
    let (engine, prepared) = match super::decide::engine_for(app, channel, None) {
        Ok(e) => e,
        Err(_) => return Err(StoreError("no bundle to decide with".into())),
    };
    let (cluster, visitor, subject) =
        load_cluster(app.store.as_ref(), &engine, &inst.subject, now, true)?;
    if !visitor.consent.personalization {
        // The subject withdrew personalization: the journey ends.
        return Ok((done, Vec::new()));
    }
    let contacts = app.store.contacts(&ids)?;
    let since = defs
        .budget
        .map(|b| now.saturating_sub(b.period_secs))
        .unwrap_or(now);
    let sent = match defs.budget {
        Some(_) => app.store.outbox_sent(&ids, since)?,
        None => 0,
    };
    let facts = Facts {
        contacts: &contacts,
        sent_in_budget_window: sent,
        default_zone: &defs.time_zone,
    };
    let verdict = may_contact(
        &facts,
        channel,
        now,
        defs.budget.as_ref(),
        defs.quiet_hours_of(j),
    );
    let recipient = match verdict {
        Verdict::Never(_) => {
            done.action = StepAction::Skip;
            return Ok((done, Vec::new()));
        }
        Verdict::After(t) => {
            done.action = StepAction::Postpone(t);
            return Ok((done, Vec::new()));
        }
        Verdict::Now(r) => r,
    };
    // The preference centre's choice for the channel: `never`, or a message on it
    // within the subject's chosen period (its impressions there), sends nothing.
    let sends = crate::preferences::contact::sends_in_signals(&signals, channel);
    if crate::preferences::contact::may_contact(&visitor.preferences, channel, now, sends).is_err()
    {
        done.action = StepAction::Skip;
        return Ok((done, Vec::new()));
    }
    let visitor = visitor.with_journey(indices(engine.bundle(), &items));
    let slots: Vec<&str> = step.slots.iter().map(String::as_str).collect();
    let req = ChannelRequest {
        channel,
        slots: &slots,
        context: &slotwise::rules::Value::Null,
        seed: message_seed(),
        now,
        prepared: &prepared,
        subject,
    };
    let (decisions, exposures) = decide(&engine, &visitor, &req);
    let body = json!({ "cluster": cluster, "items": items, "decisions": decisions }).to_string();
    done.action = StepAction::Send {
        message: OutboxMessage {
            id: new_id(),
            instance: inst.id,
            step: inst.step,
            journey: inst.journey.clone(),
            subject: inst.subject.clone(),
            recipient,
            channel,
            created_at: now,
            body,
            attempts: 0,
            lease_until: 0,
            acked_at: None,
        },
        budget: defs.budget.map(|b| (b.messages, since)),
        ids,
    };
    Ok((done, exposures))
}

impl ClusterVisitor {
    /// This visitor with `items` as its journey claim (with a profile only).
    pub fn with_journey(mut self, items: Vec<u32>) -> ClusterVisitor {
        if let Some(p) = &self.profile {
            let mut c = p.claims().clone();
            c.journey = items;
            self.profile = Some(slotwise::profile::VerifiedSnippet::from_origin(c));
        }
        self
    }
}

/// An outbox message as the delivery service sees it.
fn message_json(m: &OutboxMessage) -> serde_json::Value {
    let body: serde_json::Value = serde_json::from_str(&m.body).unwrap_or(json!({}));
    json!({
        "id": format!("{:016x}", m.id),
        "journey": m.journey,
        "step": m.step,
        "channel": m.channel.name(),
        "to": m.recipient,
        "subject": m.subject,
        "createdAt": m.created_at,
        "attempts": m.attempts,
        "leaseUntil": m.lease_until,
        "items": body.get("items"),
        "decisions": body.get("decisions"),
    })
}

fn number(
    q: &Option<String>,
    name: &str,
    default: u64,
    range: std::ops::RangeInclusive<u64>,
) -> Result<u64, Response> {
    match query(q, name) {
        None => Ok(default),
        Some(v) => v.parse().ok().filter(|n| range.contains(n)).ok_or_else(|| {
            error(
                StatusCode::BAD_REQUEST,
                "query.invalid",
                &format!(
                    "{name} is a whole number in {}..={}",
                    range.start(),
                    range.end()
                ),
            )
        }),
    }
}

/// `GET /v1/outbox?limit=10&lease=60`: leases up to `limit` pending messages for
/// `lease` seconds; one not acknowledged by then is offered again.
pub async fn get_outbox(
    State(app): State<Arc<App>>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    let start = Instant::now();
    let r = async {
        authorized(&app, &headers)?;
        let limit = number(&q, "limit", 10, 1..=100)? as usize;
        let lease = number(&q, "lease", 60, 1..=3600)?;
        let app2 = app.clone();
        let messages = blocking(move || {
            let now = app2.clock.now();
            app2.store.outbox_pull(now, now + lease, limit)
        })
        .await?
        .map_err(unavailable)?;
        let list: Vec<_> = messages.iter().map(message_json).collect();
        Ok(axum::Json(json!({ "messages": list })).into_response())
    }
    .await
    .unwrap_or_else(|e| e);
    timed(&app, "outbox", start, r)
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct AckBody {
    ids: Vec<String>,
}

/// `POST /v1/outbox/ack {"ids": [...]}`: idempotent. 200 when every id is (now or
/// already) acknowledged; 404 `outbox.unknown` naming the unknown ids otherwise (the
/// known ones are acknowledged all the same, so resending the batch is safe).
pub async fn post_ack(State(app): State<Arc<App>>, headers: HeaderMap, body: Body) -> Response {
    let start = Instant::now();
    let r = async {
        authorized(&app, &headers)?;
        let bytes = read_body(&headers, body, 16 * 1024).await?;
        let b: AckBody = json_body(&headers, &bytes)?;
        if b.ids.is_empty() || b.ids.len() > 100 {
            return Err(error(StatusCode::BAD_REQUEST, "ids.count", "ack 1 to 100 ids at once"));
        }
        let ids = b
            .ids
            .iter()
            .map(|s| {
                (s.len() == 16)
                    .then(|| u64::from_str_radix(s, 16).ok())
                    .flatten()
                    .filter(|&n| n <= i64::MAX as u64)
                    .map(|n| n as i64)
                    .ok_or_else(|| {
                        error(
                            StatusCode::BAD_REQUEST,
                            "id.invalid",
                            "a message id is 16 hex digits",
                        )
                    })
            })
            .collect::<Result<Vec<i64>, Response>>()?;
        let app2 = app.clone();
        let ids2 = ids.clone();
        let acked = blocking(move || app2.store.outbox_ack(&ids2, app2.clock.now()))
            .await?
            .map_err(unavailable)?;
        let count = |want: Acked| acked.iter().filter(|&&a| a == want).count();
        let unknown: Vec<String> = b
            .ids
            .iter()
            .zip(&acked)
            .filter(|(_, a)| **a == Acked::Unknown)
            .map(|(s, _)| s.clone())
            .collect();
        if !unknown.is_empty() {
            return Ok((
                StatusCode::NOT_FOUND,
                axum::Json(json!({
                    "error": { "code": "outbox.unknown", "message": "no such message (never queued, or removed by consent withdrawal or erasure)" },
                    "unknown": unknown,
                    "acked": count(Acked::Now),
                    "already": count(Acked::Already),
                })),
            )
                .into_response());
        }
        Ok(axum::Json(json!({ "acked": count(Acked::Now), "already": count(Acked::Already) })).into_response())
    }
    .await
    .unwrap_or_else(|e| e);
    timed(&app, "outbox_ack", start, r)
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ContactBody {
    #[serde(default)]
    channels: std::collections::BTreeMap<String, bool>,
    time_zone: Option<String>,
}

fn contact_json(c: &Contact) -> serde_json::Value {
    let channels: serde_json::Map<String, serde_json::Value> = Channel::ALL
        .iter()
        .filter(|ch| crate::journeys::contact::recipient_kind(**ch).is_some())
        .map(|ch| {
            (
                ch.name().to_string(),
                json!(c.channels & (1 << (*ch as u8)) != 0),
            )
        })
        .collect();
    json!({ "id": c.id, "channels": channels, "timeZone": c.time_zone, "updatedAt": c.updated_at })
}

/// `PUT /v1/subjects/{id}/contact {"channels": {"email": true}, "timeZone": "..."}`:
/// the id's channel consent (channels not named keep their state) and time zone.
/// Withdrawing a channel removes the id's pending messages on it.
pub async fn put_contact(
    State(app): State<Arc<App>>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let h = headers.clone();
    super::subject_request(app, id, None, headers, "contact", |app, id| async move {
        let bytes = read_body(&h, body, 4 * 1024).await?;
        let b: ContactBody = json_body(&h, &bytes)?;
        let mut set = Vec::new();
        for (name, on) in &b.channels {
            match channel_named(name) {
                Some(c) if crate::journeys::contact::recipient_kind(c).is_some() => {
                    set.push((c, *on))
                }
                _ => {
                    return Err(error(
                        StatusCode::BAD_REQUEST,
                        "channel.invalid",
                        "contact channels are email, push, sms, app",
                    ));
                }
            }
        }
        if let Some(tz) = &b.time_zone
            && jiff::tz::TimeZone::get(tz).is_err()
        {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "time_zone.invalid",
                "not a known IANA time zone",
            ));
        }
        let app2 = app.clone();
        let (contact, removed) = blocking(move || {
            let old = app2.store.contacts(std::slice::from_ref(&id))?.pop();
            let mut c = old.unwrap_or(Contact {
                id: id.clone(),
                channels: 0,
                time_zone: None,
                updated_at: 0,
            });
            for (ch, on) in set {
                let bit = 1u8 << (ch as u8);
                c.channels = if on {
                    c.channels | bit
                } else {
                    c.channels & !bit
                };
            }
            if b.time_zone.is_some() {
                c.time_zone = b.time_zone;
            }
            c.updated_at = app2.clock.now();
            let removed = app2.store.contact_set(c.clone())?;
            Ok::<_, StoreError>((c, removed))
        })
        .await?
        .map_err(unavailable)?;
        let mut out = contact_json(&contact);
        out["removed"] = json!(removed);
        Ok(axum::Json(out).into_response())
    })
    .await
}

/// `GET /v1/subjects/{id}/contact`.
pub async fn get_contact(
    State(app): State<Arc<App>>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    super::subject_request(app, id, None, headers, "contact", |app, id| async move {
        let store = app.store.clone();
        let found = blocking(move || {
            store
                .contacts(std::slice::from_ref(&id))
                .map(|mut v| (id, v.pop()))
        })
        .await?
        .map_err(unavailable)?;
        Ok(match found {
            (_, Some(c)) => axum::Json(contact_json(&c)).into_response(),
            (id, None) => axum::Json(contact_json(&Contact {
                id,
                channels: 0,
                time_zone: None,
                updated_at: 0,
            }))
            .into_response(),
        })
    })
    .await
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockBody {
    now: u64,
}

/// `POST /v1/admin/clock {"now": <Unix seconds>}` (only with `--test-clock`): sets
/// the time and runs one scheduler pass, answering what it did.
pub async fn post_clock(State(app): State<Arc<App>>, headers: HeaderMap, body: Body) -> Response {
    let start = Instant::now();
    let r = async {
        if !app.config.test_clock {
            return Err(error(
                StatusCode::NOT_FOUND,
                "not_found",
                "no such endpoint",
            ));
        }
        authorized(&app, &headers)?;
        let bytes = read_body(&headers, body, 1024).await?;
        let b: ClockBody = json_body(&headers, &bytes)?;
        if b.now > i64::MAX as u64 / 2 {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "now.invalid",
                "now is Unix seconds",
            ));
        }
        app.clock.set(b.now);
        let app2 = app.clone();
        let pass = blocking(move || run_due(&app2))
            .await?
            .map_err(unavailable)?;
        Ok(axum::Json(json!({ "now": b.now, "pass": pass })).into_response())
    }
    .await
    .unwrap_or_else(|e| e);
    timed(&app, "clock", start, r)
}
