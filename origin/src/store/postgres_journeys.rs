//! The PostgreSQL side of journeys and the outbox ([`super::journeys`]), called by
//! [`super::postgres::PgStore`] on its runtime.
//!
//! Several replicas run the scheduler at once, so:
//! - a claim is `UPDATE ... WHERE id IN (SELECT ... FOR UPDATE SKIP LOCKED)`: each due
//!   row goes to one replica, and its lease keeps it there until the lease expires;
//! - a step locks its instance row (`FOR UPDATE`) and applies only when the instance
//!   is still at that step; the message's `(instance, step)` key is unique;
//! - the budget is counted under a transaction-scoped advisory lock on the cluster
//!   (two instances of one cluster never both pass a budget of one);
//! - outbox pulls lease with `FOR UPDATE SKIP LOCKED` too.

use std::collections::HashSet;

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use super::channel_of;
use super::journeys::{
    Acked, Contact, Instance, InstanceWrite, OutboxMessage, Status, StepAction, StepDone,
    StepOutcome, items_of, items_text,
};

type R<T> = std::result::Result<T, tokio_postgres::Error>;

/// Schema version 2: journeys, instances, the outbox, contact records.
pub const MIGRATION_2: &str = "
CREATE TABLE bundle_journeys (
    version    BIGINT PRIMARY KEY,
    definition TEXT NOT NULL
);
CREATE TABLE journey_instances (
    id              BIGINT PRIMARY KEY,
    journey         TEXT NOT NULL,
    subject         TEXT NOT NULL,
    started_at      BIGINT NOT NULL,
    last_trigger_at BIGINT NOT NULL,
    items           TEXT NOT NULL,
    step            INTEGER NOT NULL,
    next_at         BIGINT NOT NULL,
    status          SMALLINT NOT NULL,
    active_until    BIGINT NOT NULL,
    lease_until     BIGINT NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX journey_instances_one_active
    ON journey_instances (journey, subject) WHERE status = 0;
CREATE INDEX journey_instances_subject ON journey_instances (subject);
CREATE INDEX journey_instances_due ON journey_instances (next_at) WHERE status = 0;
CREATE TABLE outbox (
    id          BIGINT PRIMARY KEY,
    instance    BIGINT NOT NULL,
    step        INTEGER NOT NULL,
    journey     TEXT NOT NULL,
    subject     TEXT NOT NULL,
    recipient   TEXT NOT NULL,
    channel     SMALLINT NOT NULL,
    created_at  BIGINT NOT NULL,
    body        TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    lease_until BIGINT NOT NULL DEFAULT 0,
    acked_at    BIGINT,
    UNIQUE (instance, step)
);
CREATE INDEX outbox_pending ON outbox (lease_until, created_at) WHERE acked_at IS NULL;
CREATE INDEX outbox_subject ON outbox (subject, created_at);
CREATE INDEX outbox_recipient ON outbox (recipient, created_at);
CREATE TABLE contacts (
    id         TEXT PRIMARY KEY,
    channels   SMALLINT NOT NULL,
    time_zone  TEXT,
    updated_at BIGINT NOT NULL
);
";

const INSTANCE_COLUMNS: &str = "id, journey, subject, started_at, last_trigger_at, items, step, \
    next_at, status, active_until";

fn instance(r: &Row) -> Instance {
    Instance {
        id: r.get(0),
        journey: r.get(1),
        subject: r.get(2),
        started_at: r.get::<_, i64>(3) as u64,
        last_trigger_at: r.get::<_, i64>(4) as u64,
        items: items_of(r.get::<_, &str>(5)),
        step: r.get::<_, i32>(6) as u32,
        next_at: r.get::<_, i64>(7) as u64,
        status: Status::from_i64(i64::from(r.get::<_, i16>(8))),
        active_until: r.get::<_, i64>(9) as u64,
    }
}

const OUTBOX_COLUMNS: &str = "id, instance, step, journey, subject, recipient, channel, \
    created_at, body, attempts, lease_until, acked_at";

fn message(r: &Row) -> Option<OutboxMessage> {
    Some(OutboxMessage {
        id: r.get(0),
        instance: r.get(1),
        step: r.get::<_, i32>(2) as u32,
        journey: r.get(3),
        subject: r.get(4),
        recipient: r.get(5),
        channel: channel_of(i64::from(r.get::<_, i16>(6)))?,
        created_at: r.get::<_, i64>(7) as u64,
        body: r.get(8),
        attempts: r.get::<_, i32>(9) as u32,
        lease_until: r.get::<_, i64>(10) as u64,
        acked_at: r.get::<_, Option<i64>>(11).map(|t| t as u64),
    })
}

fn contact(r: &Row) -> Contact {
    Contact {
        id: r.get(0),
        channels: r.get::<_, i16>(1) as u8,
        time_zone: r.get(2),
        updated_at: r.get::<_, i64>(3) as u64,
    }
}

fn i(n: u64) -> i64 {
    n.min(i64::MAX as u64) as i64
}

pub async fn set_bundle_journeys(c: &impl GenericClient, version: i64, def: &str) -> R<()> {
    c.execute(
        "INSERT INTO bundle_journeys (version, definition) VALUES ($1, $2)
         ON CONFLICT (version) DO UPDATE SET definition = excluded.definition",
        &[&version, &def],
    )
    .await?;
    Ok(())
}

pub async fn bundle_journeys(c: &impl GenericClient, version: u64) -> R<Option<String>> {
    Ok(c.query_opt(
        "SELECT definition FROM bundle_journeys WHERE version = $1",
        &[&i(version)],
    )
    .await?
    .map(|r| r.get(0)))
}

pub async fn instances(c: &impl GenericClient, ids: &[String]) -> R<Vec<Instance>> {
    let sql = format!("SELECT {INSTANCE_COLUMNS} FROM journey_instances WHERE subject = ANY($1)");
    Ok(c.query(&sql, &[&ids]).await?.iter().map(instance).collect())
}

pub async fn insert_instance(c: &impl GenericClient, x: &Instance) -> R<u64> {
    let sql = format!(
        "INSERT INTO journey_instances ({INSTANCE_COLUMNS})
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING"
    );
    c.execute(
        &sql,
        &[
            &x.id,
            &x.journey,
            &x.subject,
            &i(x.started_at),
            &i(x.last_trigger_at),
            &items_text(&x.items),
            &(x.step as i32),
            &i(x.next_at),
            &(x.status as u8 as i16),
            &i(x.active_until),
        ],
    )
    .await
}

pub async fn write(c: &impl GenericClient, writes: &[InstanceWrite]) -> R<()> {
    for w in writes {
        match w {
            InstanceWrite::Insert(x) => {
                insert_instance(c, x).await?;
            }
            InstanceWrite::Update {
                id,
                was_status,
                was_step,
                items,
                last_trigger_at,
                next_at,
                status,
            } => {
                c.execute(
                    "UPDATE journey_instances SET items = $1, last_trigger_at = $2, next_at = $3,
                     status = $4 WHERE id = $5 AND status = $6 AND step = $7",
                    &[
                        &items_text(items),
                        &i(*last_trigger_at),
                        &i(*next_at),
                        &(*status as u8 as i16),
                        id,
                        &(*was_status as u8 as i16),
                        &(*was_step as i32),
                    ],
                )
                .await?;
            }
        }
    }
    Ok(())
}

pub async fn claim(
    c: &impl GenericClient,
    now: u64,
    lease_until: u64,
    limit: usize,
) -> R<Vec<Instance>> {
    let sql = format!(
        "UPDATE journey_instances SET lease_until = $2 WHERE id IN (
             SELECT id FROM journey_instances
             WHERE status = 0 AND next_at <= $1 AND lease_until <= $1
             ORDER BY next_at, id LIMIT $3 FOR UPDATE SKIP LOCKED)
         RETURNING {INSTANCE_COLUMNS}"
    );
    Ok(c.query(&sql, &[&i(now), &i(lease_until), &(limit as i64)])
        .await?
        .iter()
        .map(instance)
        .collect())
}

pub async fn sent(c: &impl GenericClient, ids: &[String], since: u64) -> R<u64> {
    let n: i64 = c
        .query_one(
            "SELECT COUNT(*) FROM outbox
             WHERE (subject = ANY($1) OR recipient = ANY($1)) AND created_at >= $2",
            &[&ids, &i(since)],
        )
        .await?
        .get(0);
    Ok(n as u64)
}

/// A 64-bit advisory lock key for a cluster's budget ("slot" + FNV-1a of the id).
fn budget_lock(cluster: &str) -> i64 {
    let h = cluster.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    (0x736c_6f74_0000_0000 | (h & 0xffff_ffff)) as i64
}

pub async fn step(c: &impl GenericClient, done: &StepDone, _now: u64) -> R<StepOutcome> {
    // A Send locks the cluster's budget first (always before the row: one order).
    if let StepAction::Send {
        ids,
        budget: Some(_),
        ..
    } = &done.action
    {
        let mut sorted = ids.clone();
        sorted.sort();
        let key = budget_lock(sorted.first().map_or("", String::as_str));
        c.execute("SELECT pg_advisory_xact_lock($1)", &[&key])
            .await?;
    }
    let current = c
        .query_opt(
            "SELECT status, step FROM journey_instances WHERE id = $1 FOR UPDATE",
            &[&done.instance],
        )
        .await?
        .map(|r| (r.get::<_, i16>(0), r.get::<_, i32>(1)));
    if current != Some((Status::Active as u8 as i16, done.step as i32)) {
        return Ok(StepOutcome::Stale);
    }
    let items = items_text(&done.items);
    let advance = || async {
        let status = if done.next_at == 0 {
            Status::Done
        } else {
            Status::Active
        };
        c.execute(
            "UPDATE journey_instances SET step = step + 1, next_at = $1, status = $2,
             items = $3, lease_until = 0 WHERE id = $4",
            &[
                &i(done.next_at),
                &(status as u8 as i16),
                &items,
                &done.instance,
            ],
        )
        .await
    };
    let end = |status: Status| async move {
        c.execute(
            "UPDATE journey_instances SET status = $1, lease_until = 0 WHERE id = $2",
            &[&(status as u8 as i16), &done.instance],
        )
        .await
    };
    Ok(match &done.action {
        StepAction::Send {
            message,
            budget,
            ids,
        } => {
            if let Some((limit, since)) = budget
                && sent(c, ids, *since).await? >= u64::from(*limit)
            {
                advance().await?;
                return Ok(StepOutcome::OverBudget);
            }
            insert_message(c, message).await?;
            advance().await?;
            StepOutcome::Queued
        }
        StepAction::Skip => {
            advance().await?;
            StepOutcome::Applied
        }
        StepAction::Postpone(at) => {
            c.execute(
                "UPDATE journey_instances SET next_at = $1, items = $2, lease_until = 0
                 WHERE id = $3",
                &[&i(*at), &items, &done.instance],
            )
            .await?;
            StepOutcome::Applied
        }
        StepAction::Exit => {
            end(Status::Exited).await?;
            StepOutcome::Applied
        }
        StepAction::Cancel => {
            end(Status::Cancelled).await?;
            StepOutcome::Applied
        }
    })
}

pub async fn insert_message(c: &impl GenericClient, m: &OutboxMessage) -> R<u64> {
    let sql = format!(
        "INSERT INTO outbox ({OUTBOX_COLUMNS})
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING"
    );
    c.execute(
        &sql,
        &[
            &m.id,
            &m.instance,
            &(m.step as i32),
            &m.journey,
            &m.subject,
            &m.recipient,
            &i16::from(m.channel as u8),
            &i(m.created_at),
            &m.body,
            &(m.attempts as i32),
            &i(m.lease_until),
            &m.acked_at.map(i),
        ],
    )
    .await
}

pub async fn pull(
    c: &impl GenericClient,
    now: u64,
    lease_until: u64,
    limit: usize,
) -> R<Vec<OutboxMessage>> {
    let sql = format!(
        "UPDATE outbox SET lease_until = $2, attempts = attempts + 1 WHERE id IN (
             SELECT id FROM outbox WHERE acked_at IS NULL AND lease_until <= $1
             ORDER BY created_at, id LIMIT $3 FOR UPDATE SKIP LOCKED)
         RETURNING {OUTBOX_COLUMNS}"
    );
    let mut out: Vec<OutboxMessage> = c
        .query(&sql, &[&i(now), &i(lease_until), &(limit as i64)])
        .await?
        .iter()
        .filter_map(message)
        .collect();
    out.sort_by_key(|m| (m.created_at, m.id));
    Ok(out)
}

pub async fn ack(c: &impl GenericClient, ids: &[i64], now: u64) -> R<Vec<Acked>> {
    let newly: HashSet<i64> = c
        .query(
            "UPDATE outbox SET acked_at = $2, lease_until = 0
             WHERE id = ANY($1) AND acked_at IS NULL RETURNING id",
            &[&ids, &i(now)],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let known: HashSet<i64> = c
        .query("SELECT id FROM outbox WHERE id = ANY($1)", &[&ids])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut reported = HashSet::new();
    Ok(ids
        .iter()
        .map(|id| {
            // An id named twice in one request is acknowledged once.
            if newly.contains(id) && reported.insert(*id) {
                Acked::Now
            } else if known.contains(id) {
                Acked::Already
            } else {
                Acked::Unknown
            }
        })
        .collect())
}

pub async fn set_contact(c: &impl GenericClient, x: &Contact) -> R<u64> {
    c.execute(
        "INSERT INTO contacts (id, channels, time_zone, updated_at) VALUES ($1, $2, $3, $4)
         ON CONFLICT (id) DO UPDATE SET channels = excluded.channels,
         time_zone = excluded.time_zone, updated_at = excluded.updated_at",
        &[
            &x.id,
            &i16::from(x.channels),
            &x.time_zone,
            &i(x.updated_at),
        ],
    )
    .await?;
    // Withdrawn channels: nothing still pending goes out.
    c.execute(
        "DELETE FROM outbox WHERE recipient = $1 AND acked_at IS NULL
         AND ((1 << channel) & $2::smallint) = 0",
        &[&x.id, &i16::from(x.channels)],
    )
    .await
}

pub async fn contacts(c: &impl GenericClient, ids: &[String]) -> R<Vec<Contact>> {
    Ok(c.query(
        "SELECT id, channels, time_zone, updated_at FROM contacts WHERE id = ANY($1)",
        &[&ids],
    )
    .await?
    .iter()
    .map(contact)
    .collect())
}

/// Retention: ended instances and acknowledged messages older than `floor`.
pub async fn expire(c: &impl GenericClient, floor: i64) -> R<()> {
    c.execute(
        "DELETE FROM journey_instances WHERE status <> 0 AND active_until < $1",
        &[&floor],
    )
    .await?;
    c.execute(
        "DELETE FROM outbox WHERE acked_at IS NOT NULL AND created_at < $1",
        &[&floor],
    )
    .await?;
    Ok(())
}

/// Erasure: the journey rows, messages and contact records of these ids.
pub async fn erase(c: &impl GenericClient, ids: &[String]) -> R<()> {
    c.execute(
        "DELETE FROM journey_instances WHERE subject = ANY($1)",
        &[&ids],
    )
    .await?;
    c.execute(
        "DELETE FROM outbox WHERE subject = ANY($1) OR recipient = ANY($1)",
        &[&ids],
    )
    .await?;
    c.execute("DELETE FROM contacts WHERE id = ANY($1)", &[&ids])
        .await?;
    Ok(())
}

/// Every row of the journey tables, for `store copy` (inside the dump's snapshot).
pub async fn dump(c: &impl GenericClient, send: &impl Fn(super::Page) -> bool) -> R<()> {
    use super::Page;
    let rows = super::PAGE_ROWS as i64;
    let defs = c
        .query(
            "SELECT version, definition FROM bundle_journeys ORDER BY version",
            &[],
        )
        .await?
        .iter()
        .map(|r| (r.get::<_, i64>(0) as u64, r.get(1)))
        .collect();
    if !send(Page::BundleJourneys(defs)) {
        return Ok(());
    }
    let mut after = i64::MIN;
    let sql = format!(
        "SELECT {INSTANCE_COLUMNS} FROM journey_instances WHERE id > $1 ORDER BY id LIMIT $2"
    );
    loop {
        let page: Vec<Instance> = c
            .query(&sql, &[&after, &rows])
            .await?
            .iter()
            .map(instance)
            .collect();
        let Some(last) = page.last() else { break };
        after = last.id;
        if !send(Page::JourneyInstances(page)) {
            return Ok(());
        }
    }
    let mut after = i64::MIN;
    let sql = format!("SELECT {OUTBOX_COLUMNS} FROM outbox WHERE id > $1 ORDER BY id LIMIT $2");
    loop {
        let found = c.query(&sql, &[&after, &rows]).await?;
        let Some(last) = found.last() else { break };
        after = last.get(0);
        if !send(Page::Outbox(found.iter().filter_map(message).collect())) {
            return Ok(());
        }
    }
    let mut after = String::new();
    loop {
        let page: Vec<Contact> = c
            .query(
                "SELECT id, channels, time_zone, updated_at FROM contacts WHERE id > $1
                 ORDER BY id LIMIT $2",
                &[&after, &rows],
            )
            .await?
            .iter()
            .map(contact)
            .collect();
        let Some(last) = page.last() else { break };
        after = last.id.clone();
        if !send(Page::Contacts(page)) {
            return Ok(());
        }
    }
    Ok(())
}

/// One page of the journey tables from another store (rows already present stay).
pub async fn load(c: &impl GenericClient, page: &super::Page) -> R<()> {
    use super::Page;
    match page {
        Page::BundleJourneys(defs) => {
            for (v, d) in defs {
                c.execute(
                    "INSERT INTO bundle_journeys (version, definition) VALUES ($1, $2)
                     ON CONFLICT DO NOTHING",
                    &[&i(*v), d],
                )
                .await?;
            }
        }
        Page::JourneyInstances(list) => {
            for x in list {
                insert_instance(c, x).await?;
            }
        }
        Page::Outbox(list) => {
            for m in list {
                insert_message(c, m).await?;
            }
        }
        Page::Contacts(list) => {
            for x in list {
                c.execute(
                    "INSERT INTO contacts (id, channels, time_zone, updated_at)
                     VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                    &[
                        &x.id,
                        &i16::from(x.channels),
                        &x.time_zone,
                        &i(x.updated_at),
                    ],
                )
                .await?;
            }
        }
        _ => {}
    }
    Ok(())
}
