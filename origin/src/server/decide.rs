//! `POST /v1/decide`: decisions for channels without Wasm (email, push, SMS, app
//! backends, store screens), made natively with the cluster's profile.
//!
//! Body (JSON, at most 16 KiB):
//! `{"subject"?: "<identity id>", "channel": "email", "slots": ["hero", ...],
//!   "context"?: {...}, "record"?: true, "baseUrl"?: "https://..."}`.
//! Without a subject the decision is for an anonymous context (nothing is recorded).
//! A subject other than the visitor's own `anon:` id needs the admin bearer token
//! (as snippets do): server-side channels are trusted backends.
//!
//! Answer: `{"channel", "subject", "cluster", "decisions": [...], "recorded"}` where
//! each decision is a [`crate::channels::decide::ChannelDecision`]. With `record`
//! (the default) every item shown is stored as an impression with the channel before
//! the answer, so the next decision in any channel counts it against the caps.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Instant;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use slotwise::decide::Engine;
use slotwise::render::Prepared;
use slotwise::rules::{Json, Value};
use slotwise::signals::Channel;

use super::{App, authorized, blocking, error, json_body, read_body, timed, unavailable, valid_id};
use crate::channels::batch::{load_cluster, message_seed};
use crate::channels::cluster::ClusterVisitor;
use crate::channels::decide::{ChannelRequest, decide};
use crate::channels::{channel_named, now_unix};

/// Most slots in one request.
pub const MAX_SLOTS: usize = 32;

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct DecideBody {
    subject: Option<String>,
    channel: String,
    slots: Vec<String>,
    context: Option<Json>,
    record: Option<bool>,
    base_url: Option<String>,
}

/// Renderings kept per bundle: one per channel and base URL, at most this many.
const MAX_PREPARED: usize = 32;

/// The engine for the current bundle, built once per bundle, and its renderings.
struct Cached {
    etag: String,
    engine: Arc<Engine>,
    prepared: HashMap<(Channel, String), Arc<Prepared>>,
}

static CACHE: OnceLock<RwLock<Option<Cached>>> = OnceLock::new();

/// The engine for the current bundle (built once per bundle, keyed by its ETag) and
/// the channel's renderings of its content against `base` (made once, then shared).
pub(super) fn engine_for(
    app: &App,
    channel: Channel,
    base: Option<&str>,
) -> Result<(Arc<Engine>, Arc<Prepared>), Response> {
    let cache = CACHE.get_or_init(|| RwLock::new(None));
    let current = app.current()?.ok_or_else(|| {
        error(
            StatusCode::CONFLICT,
            "bundle.none",
            "publish a bundle first",
        )
    })?;
    let base = base.map(str::to_string).unwrap_or_else(|| {
        let site = app
            .config
            .site
            .as_deref()
            .unwrap_or(&current.decoded.header.site);
        slotwise::render::site_base(site)
    });
    let key = (channel, base);
    if let Ok(guard) = cache.read()
        && let Some(c) = guard.as_ref()
        && c.etag == current.etag
        && let Some(p) = c.prepared.get(&key)
    {
        return Ok((c.engine.clone(), p.clone()));
    }
    let mut guard = cache.write().map_err(|_| {
        error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "cache poisoned",
        )
    })?;
    if guard.as_ref().is_none_or(|c| c.etag != current.etag) {
        *guard = Some(Cached {
            etag: current.etag.clone(),
            engine: Arc::new(Engine::new(current.decoded.as_ref().clone())),
            prepared: HashMap::new(),
        });
    }
    let c = guard
        .as_mut()
        .ok_or_else(|| error(StatusCode::INTERNAL_SERVER_ERROR, "internal", "no engine"))?;
    if c.prepared.len() >= MAX_PREPARED {
        c.prepared.clear();
    }
    let engine = c.engine.clone();
    let prepared = c
        .prepared
        .entry(key.clone())
        .or_insert_with(|| Arc::new(Prepared::new(&engine, key.0, &key.1)))
        .clone();
    Ok((engine, prepared))
}

/// The handler.
pub async fn post_decide(State(app): State<Arc<App>>, headers: HeaderMap, body: Body) -> Response {
    let start = Instant::now();
    let r = handle(&app, headers, body).await.unwrap_or_else(|e| e);
    timed(&app, "decide", start, r)
}

async fn handle(app: &Arc<App>, headers: HeaderMap, body: Body) -> Result<Response, Response> {
    let bytes = read_body(&headers, body, 16 * 1024).await?;
    let b: DecideBody = json_body(&headers, &bytes)?;
    let bad = |code: &str, message: &str| error(StatusCode::BAD_REQUEST, code, message);
    let channel = channel_named(&b.channel).ok_or_else(|| {
        bad(
            "channel.invalid",
            "channel is one of web, app, email, push, sms, store",
        )
    })?;
    if b.slots.is_empty() || b.slots.len() > MAX_SLOTS || b.slots.iter().any(|s| s.is_empty()) {
        return Err(bad("slots.count", "ask for 1 to 32 named slots"));
    }
    let context = match b.context {
        None => Value::Null,
        Some(Json(v @ Value::Object(_))) => v,
        Some(_) => return Err(bad("context.invalid", "context is a JSON object")),
    };
    if let Some(id) = &b.subject {
        if !valid_id(id) {
            return Err(bad("id.invalid", "not a valid identity id"));
        }
        if !id.starts_with("anon:") {
            authorized(app, &headers)?;
        }
    }
    let base = match &b.base_url {
        Some(u) if u.starts_with("https://") || u.starts_with("http://") => Some(u.clone()),
        Some(_) => {
            return Err(bad(
                "base_url.invalid",
                "baseUrl is an absolute http(s) URL",
            ));
        }
        None => None,
    };
    let record = b.record.unwrap_or(true);
    let subject_id = b.subject.clone();
    let app2 = app.clone();
    let (cluster, decisions, exposures) = blocking(move || -> Result<_, Response> {
        let (engine, prepared) = engine_for(&app2, channel, base.as_deref())?;
        let now = now_unix();
        let (cluster, visitor, subject) = match &b.subject {
            Some(id) => {
                let (c, v, s) = load_cluster(app2.store.as_ref(), &engine, id, now, record)
                    .map_err(unavailable)?;
                // The subject's active journey: its items first (reason `journey`).
                let v = if v.profile.is_some() && app2.journeys().is_some() {
                    let (_, ids) = app2.store.cluster(id).map_err(unavailable)?;
                    let items = super::journeys::claim_items(&app2, &ids, engine.bundle());
                    v.with_journey(items)
                } else {
                    v
                };
                (Some(c), v, s)
            }
            None => (None, ClusterVisitor::anonymous(now), None),
        };
        let slots: Vec<&str> = b.slots.iter().map(String::as_str).collect();
        let req = ChannelRequest {
            channel,
            slots: &slots,
            context: &context,
            seed: message_seed(),
            now,
            prepared: &prepared,
            subject,
        };
        let (decisions, exposures) = decide(&engine, &visitor, &req);
        let exposures = if record { exposures } else { Vec::new() };
        if !exposures.is_empty() {
            app2.store.ingest(&exposures, now).map_err(unavailable)?;
            // Stored: the next snippet of the cluster counts them (its caps).
            app2.profiles
                .invalidate_subjects(&super::profile_cache::subjects_of(&exposures));
        }
        Ok((cluster, decisions, exposures.len()))
    })
    .await??;
    let mut r = axum::Json(json!({
        "channel": channel.name(),
        "subject": subject_id,
        "cluster": cluster,
        "decisions": decisions,
        "recorded": exposures,
    }))
    .into_response();
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    Ok(r)
}
