//! Journey evaluation, pure: a cluster's signals and journey instances in, the
//! changes out. The store applies each change only if the instance is still as it
//! was read, so replicas evaluating the same subject at once cannot double a journey.
//!
//! Per journey:
//! - triggers newer than every trigger already folded into one of the cluster's
//!   instances (and younger than `activeSecs`) start an instance when none is active,
//!   or add their items to the active one (newest first; while its first step is
//!   pending, that step's wait restarts from the newest trigger);
//! - the exit (see [`ExitItems`]) ends active and finished instances: their items
//!   stop showing and no further step is sent.

use slotwise::bundle::Bundle;
use slotwise::signals::Signal;

use super::definition::{ExitItems, Journey, Journeys, MAX_ITEMS};
use crate::store::journeys::{Instance, InstanceWrite, Status, new_id};

/// The changes `signals` (the cluster's, any order) make to `instances` (the
/// cluster's) at `now`; a new instance belongs to `subject`.
pub fn evaluate(
    defs: &Journeys,
    bundle: &Bundle,
    subject: &str,
    instances: &[Instance],
    signals: &[Signal],
    now: u64,
) -> Vec<InstanceWrite> {
    let mut writes = Vec::new();
    for j in &defs.journeys {
        let mine: Vec<&Instance> = instances.iter().filter(|i| i.journey == j.id).collect();
        let folded = mine.iter().map(|i| i.last_trigger_at).max().unwrap_or(0);
        let mut triggers: Vec<&Signal> = signals
            .iter()
            .filter(|s| {
                j.triggers(s.kind, s.channel)
                    && s.time > folded
                    && s.time <= now
                    && s.time.saturating_add(j.active_secs) > now
            })
            .collect();
        triggers.sort_by_key(|s| (std::cmp::Reverse(s.time), s.event_id));
        let new_items: Vec<String> = triggers
            .iter()
            .filter_map(|s| bundle.items.get(s.item as usize))
            .map(|it| it.id.clone())
            .collect();
        let newest = triggers.first().map(|s| s.time);
        let mut active_seen = false;
        for inst in &mine {
            if !matches!(inst.status, Status::Active | Status::Done) {
                continue;
            }
            let is_active = inst.status == Status::Active;
            let mut items = inst.items.clone();
            let mut last = inst.last_trigger_at;
            let mut next_at = inst.next_at;
            if is_active && let Some(t) = newest {
                items = merge(&new_items, &items);
                last = t;
                if inst.step == 0 {
                    next_at = t.saturating_add(j.steps[0].wait_secs);
                }
            }
            let status = match remaining(j, bundle, inst.started_at, &items, signals) {
                Some(left) => {
                    items = left;
                    inst.status
                }
                None => Status::Exited,
            };
            if is_active && status == Status::Active {
                active_seen = true;
            }
            if (items.as_slice(), last, next_at, status)
                != (
                    inst.items.as_slice(),
                    inst.last_trigger_at,
                    inst.next_at,
                    inst.status,
                )
            {
                writes.push(InstanceWrite::Update {
                    id: inst.id,
                    was_status: inst.status,
                    was_step: inst.step,
                    items,
                    last_trigger_at: last,
                    next_at,
                    status,
                });
            }
        }
        let (Some(newest), false) = (newest, active_seen) else {
            continue;
        };
        if mine.iter().any(|i| i.status == Status::Active) {
            // The active instance exited just now: these triggers are its own.
            continue;
        }
        let started_at = triggers.last().map_or(newest, |s| s.time);
        let Some(items) = remaining(j, bundle, started_at, &merge(&new_items, &[]), signals) else {
            continue;
        };
        writes.push(InstanceWrite::Insert(Instance {
            id: new_id(),
            journey: j.id.clone(),
            subject: subject.to_string(),
            started_at,
            last_trigger_at: newest,
            items,
            step: 0,
            next_at: newest.saturating_add(j.steps[0].wait_secs),
            status: Status::Active,
            active_until: started_at.saturating_add(j.active_secs),
        }));
    }
    writes
}

/// `first` then `then`, without repeats, at most [`MAX_ITEMS`].
fn merge(first: &[String], then: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for id in first.iter().chain(then) {
        if !out.contains(id) && out.len() < MAX_ITEMS {
            out.push(id.clone());
        }
    }
    out
}

/// The items left after the exit events since `since`; `None` when the journey exits.
pub fn remaining(
    journey: &Journey,
    bundle: &Bundle,
    since: u64,
    items: &[String],
    signals: &[Signal],
) -> Option<Vec<String>> {
    let (Some(exit), Some(kind)) = (&journey.exit, journey.exit_kind()) else {
        return Some(items.to_vec());
    };
    let mut events = signals.iter().filter(|s| s.kind == kind && s.time >= since);
    match exit.items {
        ExitItems::Any => events.next().is_none().then(|| items.to_vec()),
        ExitItems::Trigger => {
            let bought: Vec<&str> = events
                .filter_map(|s| bundle.items.get(s.item as usize))
                .map(|it| it.id.as_str())
                .collect();
            let left: Vec<String> = items
                .iter()
                .filter(|id| !bought.contains(&id.as_str()))
                .cloned()
                .collect();
            (!left.is_empty()).then_some(left)
        }
    }
}

/// The items a subject's web and app decisions show first at `now`: those of its
/// active or finished instances still inside `activeSecs` whose first step has come
/// (the subject left), newest instance first.
pub fn shown_items(instances: &[Instance], now: u64) -> Vec<String> {
    let mut live: Vec<&Instance> = instances
        .iter()
        .filter(|i| {
            now < i.active_until
                && match i.status {
                    Status::Done => true,
                    Status::Active => i.step >= 1 || now >= i.next_at,
                    _ => false,
                }
        })
        .collect();
    live.sort_by_key(|i| std::cmp::Reverse(i.last_trigger_at));
    let mut out: Vec<String> = Vec::new();
    for i in live {
        out = merge(&out, &i.items);
    }
    out
}
