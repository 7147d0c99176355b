//! `GET|PUT /v1/preferences`: the visitor's preference centre, and
//! `POST /v1/admin/preferences-link`, which signs a link for an email recipient.
//!
//! Who may ask ([`Who`]), first match wins:
//! - `?token=<link token>` ([`crate::preferences::link`]): acts for the token's
//!   subject; a tampered or foreign token is a 401 `link.invalid`, an expired one a
//!   403 `link.expired`;
//! - the visitor's own first-party id, `?id=anon:<16 hex>` or the `sw_vid` cookie
//!   (as `GET /v1/snippet` takes it); any other id needs the admin bearer token;
//! - nothing: 401 `auth.missing`.
//!
//! `GET` answers `{"subject", "cluster", "preferences": {"mute", "more", "contact"},
//! "categories", "channels", "frequencies", "consent", "links": {"export", "erase"}}`:
//! `consent` is the data-sharing choice as recorded at the origin (the purposes of the
//! cluster's newest signal, `null` before any), and `links` are the subject export
//! and erasure endpoints with the same credential. `PUT` takes a JSON
//! [`crate::preferences::Change`] (each field given replaces that field; unknown
//! categories, channels or frequencies are a typed 400/422), stores it for the
//! identity cluster and answers as `GET`, plus, for a visitor's own `anon:` id, the
//! next profile `snippet` (`{token, expires_at, cluster}`) already carrying the
//! change, so the device can switch to it at once.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use slotwise::consent::Consent;

use super::{
    App, authorized, blocking, checked_id, cookie, error, json_body, now_unix, query, read_body,
    timed, unavailable, valid_id,
};
use crate::preferences::{Change, category_names, link};

/// The credential a request acts with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Who {
    /// A signed link's subject (and the token, for the links in the answer).
    Link {
        /// The identity id the link was issued for.
        subject: String,
        /// The token as given.
        token: String,
    },
    /// The visitor's own id (`anon:`), or any id with the admin token.
    Visitor(String),
}

impl Who {
    /// The identity id acted for.
    pub fn subject(&self) -> &str {
        match self {
            Who::Link { subject, .. } | Who::Visitor(subject) => subject,
        }
    }

    /// The query string that carries this credential again.
    fn credential(&self) -> String {
        match self {
            Who::Link { token, .. } => format!("token={token}"),
            Who::Visitor(id) => format!("id={id}"),
        }
    }
}

/// Checks the request's credential (see the module docs).
pub fn who(app: &App, headers: &HeaderMap, q: &Option<String>) -> Result<Who, Response> {
    if let Some(token) = query(q, "token") {
        return match link::verify(&app.key, &token, now_unix()) {
            Ok(subject) => Ok(Who::Link { subject, token }),
            Err(e @ link::LinkError::Expired) => Err(error(
                StatusCode::FORBIDDEN,
                e.code(),
                "this link has expired; ask for a new one",
            )),
            Err(e) => Err(error(
                StatusCode::UNAUTHORIZED,
                e.code(),
                "this link is not valid",
            )),
        };
    }
    let id = query(q, "id")
        .or_else(|| cookie(headers, "sw_vid").map(|v| format!("anon:{v}")))
        .ok_or_else(|| {
            error(
                StatusCode::UNAUTHORIZED,
                "auth.missing",
                "pass ?token=<link token>, ?id=anon:<visitor id> or the sw_vid cookie",
            )
        })?;
    checked_id(&id)?;
    if !id.starts_with("anon:") {
        authorized(app, headers)?;
    }
    Ok(Who::Visitor(id))
}

/// Whether `who` may export or erase the subject `id`: the same identity cluster.
pub fn may_act_for(app: &App, who: &Who, id: &str) -> Result<bool, crate::store::StoreError> {
    if who.subject() == id {
        return Ok(true);
    }
    let (mine, _) = app.store.cluster(who.subject())?;
    let (theirs, _) = app.store.cluster(id)?;
    Ok(mine == theirs)
}

/// `GET /v1/preferences`.
pub async fn get(
    State(app): State<Arc<App>>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    let start = Instant::now();
    let r = async {
        let who = who(&app, &headers, &q)?;
        answer(&app, who, None, false).await
    }
    .await
    .unwrap_or_else(|e| e);
    timed(&app, "preferences_get", start, r)
}

/// `PUT /v1/preferences`.
pub async fn put(
    State(app): State<Arc<App>>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let start = Instant::now();
    let r = async {
        let who = who(&app, &headers, &q)?;
        let bytes = read_body(&headers, body, 16 * 1024).await?;
        let change: Change = json_body(&headers, &bytes)?;
        answer(&app, who, Some(change), true).await
    }
    .await
    .unwrap_or_else(|e| e);
    timed(&app, "preferences_put", start, r)
}

async fn answer(
    app: &Arc<App>,
    who: Who,
    change: Option<Change>,
    with_snippet: bool,
) -> Result<Response, Response> {
    let current = app.current()?;
    let categories = current
        .as_ref()
        .map(|c| category_names(&c.decoded))
        .unwrap_or_default();
    let app2 = app.clone();
    let subject = who.subject().to_string();
    let names = categories.clone();
    let has_bundle = current.is_some();
    let (cluster, prefs, consent) = blocking(move || -> Result<_, Response> {
        let store = app2.store.as_ref();
        let mut prefs = store
            .preferences(&subject)
            .map_err(unavailable)?
            .unwrap_or_default();
        let changed = change.is_some();
        if let Some(change) = change {
            prefs
                .apply(change, has_bundle.then_some(names.as_slice()))
                .map_err(|e| {
                    let status = if e.code == "preferences.category" {
                        StatusCode::UNPROCESSABLE_ENTITY
                    } else {
                        StatusCode::BAD_REQUEST
                    };
                    error(status, e.code, &e.message)
                })?;
            store
                .set_preferences(&subject, &prefs, now_unix())
                .map_err(unavailable)?;
        }
        let (cluster, ids) = store.cluster(&subject).map_err(unavailable)?;
        if changed {
            // Snippets carry the mutes: no cached view of the cluster may serve the old.
            app2.profiles.invalidate_ids(&ids);
        }
        let consent = store
            .profile_log(&ids)
            .map_err(unavailable)?
            .first()
            .map(|s| Consent::from_bits(s.consent));
        Ok((cluster, prefs, consent))
    })
    .await??;
    let subject = who.subject();
    let cred = who.credential();
    let subject_url = format!("/v1/subjects/{subject}?{cred}");
    let mut body = json!({
        "subject": subject,
        "cluster": cluster,
        "preferences": prefs,
        "categories": categories,
        "channels": slotwise::signals::Channel::ALL.map(|c| c.name()),
        "frequencies": ["any", "daily", "weekly", "monthly", "never"],
        "consent": consent.map(|c| json!({
            "personalization": c.personalization,
            "measurement": c.measurement,
            "advertising": c.advertising,
        })),
        "links": { "export": subject_url, "erase": subject_url },
    });
    if with_snippet && matches!(who, Who::Visitor(_)) && subject.starts_with("anon:") {
        let s = super::signed_snippet(app, subject)?;
        body["snippet"] = json!({ "token": s.0, "expires_at": s.1, "cluster": s.2 });
    }
    let mut r = axum::Json(body).into_response();
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-store"),
    );
    Ok(r)
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct LinkBody {
    subject: String,
    ttl: Option<u64>,
}

/// `POST /v1/admin/preferences-link` `{"subject", "ttl"?}` (admin token) →
/// `{"token", "expires_at"}`: a link token for the subject's preference centre.
pub async fn post_link(State(app): State<Arc<App>>, headers: HeaderMap, body: Body) -> Response {
    let start = Instant::now();
    let r = async {
        authorized(&app, &headers)?;
        let bytes = read_body(&headers, body, 4 * 1024).await?;
        let b: LinkBody = json_body(&headers, &bytes)?;
        if !valid_id(&b.subject) {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "id.invalid",
                "not a valid identity id",
            ));
        }
        let ttl = b.ttl.unwrap_or(link::DEFAULT_TTL_SECS);
        if ttl == 0 || ttl > 366 * 86_400 {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "ttl.invalid",
                "ttl is 1 second to 366 days",
            ));
        }
        let expires_at = now_unix() + ttl;
        let token = link::issue(&app.key, &b.subject, expires_at);
        Ok(axum::Json(json!({ "token": token, "expires_at": expires_at })).into_response())
    }
    .await
    .unwrap_or_else(|e| e);
    timed(&app, "admin_preferences_link", start, r)
}
