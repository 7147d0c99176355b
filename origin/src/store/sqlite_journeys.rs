//! The SQLite side of journeys and the outbox ([`super::journeys`]): functions on a
//! connection (a read) or the writer's transaction (a write), called by
//! [`super::sqlite::SqliteStore`]. One writer makes every write transaction
//! serial, so claims, steps and pulls need no locks here.

use std::collections::HashSet;

use rusqlite::{Connection, OptionalExtension, params};

use super::channel_of;
use super::journeys::{
    Acked, Contact, Instance, InstanceWrite, OutboxMessage, Status, StepAction, StepDone,
    StepOutcome, items_of, items_text,
};

/// Schema version 2: journeys, instances, the outbox, contact records.
pub const MIGRATION_2: &str = "
CREATE TABLE IF NOT EXISTS bundle_journeys (
    version    INTEGER PRIMARY KEY,
    definition TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS journey_instances (
    id              INTEGER PRIMARY KEY,
    journey         TEXT NOT NULL,
    subject         TEXT NOT NULL,
    started_at      INTEGER NOT NULL,
    last_trigger_at INTEGER NOT NULL,
    items           TEXT NOT NULL,
    step            INTEGER NOT NULL,
    next_at         INTEGER NOT NULL,
    status          INTEGER NOT NULL,
    active_until    INTEGER NOT NULL,
    lease_until     INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX IF NOT EXISTS journey_instances_one_active
    ON journey_instances(journey, subject) WHERE status = 0;
CREATE INDEX IF NOT EXISTS journey_instances_subject ON journey_instances(subject);
CREATE INDEX IF NOT EXISTS journey_instances_due ON journey_instances(next_at) WHERE status = 0;
CREATE TABLE IF NOT EXISTS outbox (
    id          INTEGER PRIMARY KEY,
    instance    INTEGER NOT NULL,
    step        INTEGER NOT NULL,
    journey     TEXT NOT NULL,
    subject     TEXT NOT NULL,
    recipient   TEXT NOT NULL,
    channel     INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    body        TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    lease_until INTEGER NOT NULL DEFAULT 0,
    acked_at    INTEGER,
    UNIQUE (instance, step)
);
CREATE INDEX IF NOT EXISTS outbox_pending ON outbox(lease_until, created_at) WHERE acked_at IS NULL;
CREATE INDEX IF NOT EXISTS outbox_subject ON outbox(subject, created_at);
CREATE INDEX IF NOT EXISTS outbox_recipient ON outbox(recipient, created_at);
CREATE TABLE IF NOT EXISTS contacts (
    id         TEXT PRIMARY KEY,
    channels   INTEGER NOT NULL,
    time_zone  TEXT,
    updated_at INTEGER NOT NULL
);
";

type R<T> = rusqlite::Result<T>;

const INSTANCE_COLUMNS: &str = "id, journey, subject, started_at, last_trigger_at, items, step, \
    next_at, status, active_until";

fn instance(r: &rusqlite::Row<'_>) -> R<Instance> {
    Ok(Instance {
        id: r.get(0)?,
        journey: r.get(1)?,
        subject: r.get(2)?,
        started_at: r.get::<_, i64>(3)? as u64,
        last_trigger_at: r.get::<_, i64>(4)? as u64,
        items: items_of(&r.get::<_, String>(5)?),
        step: r.get::<_, i64>(6)? as u32,
        next_at: r.get::<_, i64>(7)? as u64,
        status: Status::from_i64(r.get(8)?),
        active_until: r.get::<_, i64>(9)? as u64,
    })
}

const OUTBOX_COLUMNS: &str = "id, instance, step, journey, subject, recipient, channel, \
    created_at, body, attempts, lease_until, acked_at";

fn message(r: &rusqlite::Row<'_>) -> R<OutboxMessage> {
    Ok(OutboxMessage {
        id: r.get(0)?,
        instance: r.get(1)?,
        step: r.get::<_, i64>(2)? as u32,
        journey: r.get(3)?,
        subject: r.get(4)?,
        recipient: r.get(5)?,
        channel: channel_of(r.get(6)?).ok_or(rusqlite::Error::IntegralValueOutOfRange(6, 0))?,
        created_at: r.get::<_, i64>(7)? as u64,
        body: r.get(8)?,
        attempts: r.get::<_, i64>(9)? as u32,
        lease_until: r.get::<_, i64>(10)? as u64,
        acked_at: r.get::<_, Option<i64>>(11)?.map(|t| t as u64),
    })
}

fn contact(r: &rusqlite::Row<'_>) -> R<Contact> {
    Ok(Contact {
        id: r.get(0)?,
        channels: r.get::<_, i64>(1)? as u8,
        time_zone: r.get(2)?,
        updated_at: r.get::<_, i64>(3)? as u64,
    })
}

pub fn set_bundle_journeys(tx: &Connection, version: i64, definition: &str) -> R<()> {
    tx.execute(
        "INSERT OR REPLACE INTO bundle_journeys (version, definition) VALUES (?1, ?2)",
        params![version, definition],
    )?;
    Ok(())
}

pub fn bundle_journeys(c: &Connection, version: u64) -> R<Option<String>> {
    c.query_row(
        "SELECT definition FROM bundle_journeys WHERE version = ?1",
        [version as i64],
        |r| r.get(0),
    )
    .optional()
}

pub fn instances(c: &Connection, ids: &[String]) -> R<Vec<Instance>> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {INSTANCE_COLUMNS} FROM journey_instances WHERE subject = ?1"
    ))?;
    let mut out = Vec::new();
    for id in ids {
        for i in stmt.query_map([id], instance)? {
            out.push(i?);
        }
    }
    Ok(out)
}

pub fn insert_instance(tx: &Connection, i: &Instance, lease_until: u64) -> R<usize> {
    tx.execute(
        &format!(
            "INSERT OR IGNORE INTO journey_instances ({INSTANCE_COLUMNS}, lease_until)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"
        ),
        params![
            i.id,
            i.journey,
            i.subject,
            i.started_at as i64,
            i.last_trigger_at as i64,
            items_text(&i.items),
            i.step,
            i.next_at as i64,
            i.status as u8,
            i.active_until as i64,
            lease_until as i64,
        ],
    )
}

pub fn write(tx: &Connection, writes: &[InstanceWrite]) -> R<()> {
    for w in writes {
        match w {
            InstanceWrite::Insert(i) => {
                insert_instance(tx, i, 0)?;
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
                tx.execute(
                    "UPDATE journey_instances SET items = ?1, last_trigger_at = ?2, next_at = ?3,
                     status = ?4 WHERE id = ?5 AND status = ?6 AND step = ?7",
                    params![
                        items_text(items),
                        *last_trigger_at as i64,
                        *next_at as i64,
                        *status as u8,
                        id,
                        *was_status as u8,
                        was_step,
                    ],
                )?;
            }
        }
    }
    Ok(())
}

pub fn claim(tx: &Connection, now: u64, lease_until: u64, limit: usize) -> R<Vec<Instance>> {
    let due: Vec<Instance> = tx
        .prepare_cached(&format!(
            "SELECT {INSTANCE_COLUMNS} FROM journey_instances
             WHERE status = 0 AND next_at <= ?1 AND lease_until <= ?1
             ORDER BY next_at, id LIMIT ?2"
        ))?
        .query_map(params![now as i64, limit as i64], instance)?
        .collect::<R<_>>()?;
    let mut lease =
        tx.prepare_cached("UPDATE journey_instances SET lease_until = ?1 WHERE id = ?2")?;
    for i in &due {
        lease.execute(params![lease_until as i64, i.id])?;
    }
    Ok(due)
}

/// Journey messages of these ids (as subject or recipient) queued since `since`.
pub fn sent(c: &Connection, ids: &[String], since: u64) -> R<u64> {
    let mut stmt = c.prepare_cached(
        "SELECT id FROM outbox WHERE subject = ?1 AND created_at >= ?2
         UNION SELECT id FROM outbox WHERE recipient = ?1 AND created_at >= ?2",
    )?;
    let mut seen = HashSet::new();
    for id in ids {
        for m in stmt.query_map(params![id, since as i64], |r| r.get::<_, i64>(0))? {
            seen.insert(m?);
        }
    }
    Ok(seen.len() as u64)
}

pub fn step(tx: &Connection, done: &StepDone, now: u64) -> R<StepOutcome> {
    let current: Option<(i64, i64)> = tx
        .query_row(
            "SELECT status, step FROM journey_instances WHERE id = ?1",
            [done.instance],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    if current != Some((Status::Active as i64, i64::from(done.step))) {
        return Ok(StepOutcome::Stale);
    }
    let advance = |tx: &Connection| -> R<()> {
        let status = if done.next_at == 0 {
            Status::Done
        } else {
            Status::Active
        };
        tx.execute(
            "UPDATE journey_instances SET step = step + 1, next_at = ?1, status = ?2,
             items = ?3, lease_until = 0 WHERE id = ?4",
            params![
                done.next_at as i64,
                status as u8,
                items_text(&done.items),
                done.instance
            ],
        )?;
        Ok(())
    };
    let end = |tx: &Connection, status: Status| -> R<()> {
        tx.execute(
            "UPDATE journey_instances SET status = ?1, lease_until = 0 WHERE id = ?2",
            params![status as u8, done.instance],
        )?;
        Ok(())
    };
    Ok(match &done.action {
        StepAction::Send {
            message,
            budget,
            ids,
        } => {
            if let Some((limit, since)) = budget
                && sent(tx, ids, *since)? >= u64::from(*limit)
            {
                advance(tx)?;
                return Ok(StepOutcome::OverBudget);
            }
            let _ = now;
            insert_message(tx, message)?;
            advance(tx)?;
            StepOutcome::Queued
        }
        StepAction::Skip => {
            advance(tx)?;
            StepOutcome::Applied
        }
        StepAction::Postpone(at) => {
            tx.execute(
                "UPDATE journey_instances SET next_at = ?1, items = ?2, lease_until = 0 WHERE id = ?3",
                params![*at as i64, items_text(&done.items), done.instance],
            )?;
            StepOutcome::Applied
        }
        StepAction::Exit => {
            end(tx, Status::Exited)?;
            StepOutcome::Applied
        }
        StepAction::Cancel => {
            end(tx, Status::Cancelled)?;
            StepOutcome::Applied
        }
    })
}

pub fn insert_message(tx: &Connection, m: &OutboxMessage) -> R<usize> {
    tx.execute(
        &format!(
            "INSERT OR IGNORE INTO outbox ({OUTBOX_COLUMNS})
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
        ),
        params![
            m.id,
            m.instance,
            m.step,
            m.journey,
            m.subject,
            m.recipient,
            m.channel as u8,
            m.created_at as i64,
            m.body,
            m.attempts,
            m.lease_until as i64,
            m.acked_at.map(|t| t as i64),
        ],
    )
}

pub fn pull(tx: &Connection, now: u64, lease_until: u64, limit: usize) -> R<Vec<OutboxMessage>> {
    let mut due: Vec<OutboxMessage> = tx
        .prepare_cached(&format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox
             WHERE acked_at IS NULL AND lease_until <= ?1 ORDER BY created_at, id LIMIT ?2"
        ))?
        .query_map(params![now as i64, limit as i64], message)?
        .collect::<R<_>>()?;
    let mut lease = tx.prepare_cached(
        "UPDATE outbox SET lease_until = ?1, attempts = attempts + 1 WHERE id = ?2",
    )?;
    for m in &mut due {
        lease.execute(params![lease_until as i64, m.id])?;
        m.lease_until = lease_until;
        m.attempts += 1;
    }
    Ok(due)
}

pub fn ack(tx: &Connection, ids: &[i64], now: u64) -> R<Vec<Acked>> {
    let mut out = Vec::with_capacity(ids.len());
    for &id in ids {
        let acked: Option<Option<i64>> = tx
            .query_row("SELECT acked_at FROM outbox WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()?;
        out.push(match acked {
            None => Acked::Unknown,
            Some(Some(_)) => Acked::Already,
            Some(None) => {
                tx.execute(
                    "UPDATE outbox SET acked_at = ?1, lease_until = 0 WHERE id = ?2",
                    params![now as i64, id],
                )?;
                Acked::Now
            }
        });
    }
    Ok(out)
}

pub fn set_contact(tx: &Connection, c: &Contact) -> R<u64> {
    tx.execute(
        "INSERT INTO contacts (id, channels, time_zone, updated_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT(id) DO UPDATE SET channels = excluded.channels,
         time_zone = excluded.time_zone, updated_at = excluded.updated_at",
        params![c.id, c.channels, c.time_zone, c.updated_at as i64],
    )?;
    // Withdrawn channels: nothing still pending goes out.
    Ok(tx.execute(
        "DELETE FROM outbox WHERE recipient = ?1 AND acked_at IS NULL
         AND ((1 << channel) & ?2) = 0",
        params![c.id, c.channels],
    )? as u64)
}

pub fn contacts(c: &Connection, ids: &[String]) -> R<Vec<Contact>> {
    let mut stmt =
        c.prepare_cached("SELECT id, channels, time_zone, updated_at FROM contacts WHERE id = ?1")?;
    let mut out = Vec::new();
    for id in ids {
        if let Some(c) = stmt.query_row([id], contact).optional()? {
            out.push(c);
        }
    }
    Ok(out)
}

/// Retention: ended instances and acknowledged messages older than `floor`.
pub fn expire(tx: &Connection, floor: u64) -> R<()> {
    tx.execute(
        "DELETE FROM journey_instances WHERE status <> 0 AND active_until < ?1",
        [floor as i64],
    )?;
    tx.execute(
        "DELETE FROM outbox WHERE acked_at IS NOT NULL AND created_at < ?1",
        [floor as i64],
    )?;
    Ok(())
}

/// Erasure: the journey rows, messages and contact records of these ids.
pub fn erase(tx: &Connection, ids: &[String]) -> R<()> {
    for id in ids {
        tx.execute("DELETE FROM journey_instances WHERE subject = ?1", [id])?;
        tx.execute(
            "DELETE FROM outbox WHERE subject = ?1 OR recipient = ?1",
            [id],
        )?;
        tx.execute("DELETE FROM contacts WHERE id = ?1", [id])?;
    }
    Ok(())
}

/// Every row of the journey tables, for `store copy`.
pub fn dump(
    c: &Connection,
    each: &mut dyn FnMut(super::Page) -> super::Result<()>,
) -> super::Result<()> {
    use super::Page;
    let e = |e: rusqlite::Error| super::StoreError(e.to_string());
    let defs = c
        .prepare("SELECT version, definition FROM bundle_journeys ORDER BY version")
        .map_err(e)?
        .query_map([], |r| Ok((r.get::<_, i64>(0)? as u64, r.get(1)?)))
        .map_err(e)?
        .collect::<R<Vec<(u64, String)>>>()
        .map_err(e)?;
    each(Page::BundleJourneys(defs))?;
    let mut after = i64::MIN;
    loop {
        let page = c
            .prepare_cached(&format!(
                "SELECT {INSTANCE_COLUMNS} FROM journey_instances WHERE id > ?1 ORDER BY id LIMIT ?2"
            ))
            .map_err(e)?
            .query_map(params![after, super::PAGE_ROWS as i64], instance)
            .map_err(e)?
            .collect::<R<Vec<Instance>>>()
            .map_err(e)?;
        let Some(last) = page.last() else { break };
        after = last.id;
        each(Page::JourneyInstances(page))?;
    }
    let mut after = i64::MIN;
    loop {
        let page = c
            .prepare_cached(&format!(
                "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE id > ?1 ORDER BY id LIMIT ?2"
            ))
            .map_err(e)?
            .query_map(params![after, super::PAGE_ROWS as i64], message)
            .map_err(e)?
            .collect::<R<Vec<OutboxMessage>>>()
            .map_err(e)?;
        let Some(last) = page.last() else { break };
        after = last.id;
        each(Page::Outbox(page))?;
    }
    let all = c
        .prepare("SELECT id, channels, time_zone, updated_at FROM contacts ORDER BY id")
        .map_err(e)?
        .query_map([], contact)
        .map_err(e)?
        .collect::<R<Vec<Contact>>>()
        .map_err(e)?;
    for chunk in all.chunks(super::PAGE_ROWS) {
        each(Page::Contacts(chunk.to_vec()))?;
    }
    Ok(())
}

/// One page of the journey tables from another store (rows already present stay).
pub fn load(tx: &Connection, page: &super::Page) -> R<()> {
    use super::Page;
    match page {
        Page::BundleJourneys(defs) => {
            for (v, d) in defs {
                tx.execute(
                    "INSERT OR IGNORE INTO bundle_journeys (version, definition) VALUES (?1, ?2)",
                    params![*v as i64, d],
                )?;
            }
        }
        Page::JourneyInstances(list) => {
            for i in list {
                insert_instance(tx, i, 0)?;
            }
        }
        Page::Outbox(list) => {
            for m in list {
                insert_message(tx, m)?;
            }
        }
        Page::Contacts(list) => {
            for c in list {
                tx.execute(
                    "INSERT OR IGNORE INTO contacts (id, channels, time_zone, updated_at)
                     VALUES (?1, ?2, ?3, ?4)",
                    params![c.id, c.channels, c.time_zone, c.updated_at as i64],
                )?;
            }
        }
        _ => {}
    }
    Ok(())
}
