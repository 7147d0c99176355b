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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journeys::definition::{Exit, Step, Trigger};
    use slotwise::signals::{Channel, Kind};

    fn defs(exit: ExitItems) -> Journeys {
        Journeys {
            time_zone: "UTC".into(),
            quiet_hours: None,
            budget: None,
            journeys: vec![Journey {
                id: "cart".into(),
                trigger: Trigger {
                    event: "add_to_cart".into(),
                    channels: vec!["web".into()],
                },
                exit: Some(Exit {
                    event: "purchase".into(),
                    items: exit,
                }),
                active_secs: 86_400,
                quiet_hours: None,
                steps: vec![Step {
                    wait_secs: 3600,
                    channel: "email".into(),
                    slots: vec!["hero".into()],
                }],
            }],
        }
    }

    fn bundle() -> Bundle {
        let mut b = Bundle::example();
        let item = b.items[0].clone();
        for i in 2..=3 {
            let mut it = item.clone();
            it.id = format!("sku-{i}");
            b.items.push(it);
        }
        b
    }

    fn s(kind: Kind, id: u64, item: u32, time: u64, channel: Channel) -> Signal {
        Signal::new(kind, id, time).item(item).channel(channel)
    }

    fn apply(instances: &mut Vec<Instance>, writes: Vec<InstanceWrite>) {
        for w in writes {
            match w {
                InstanceWrite::Insert(i) => instances.push(i),
                InstanceWrite::Update {
                    id,
                    items,
                    last_trigger_at,
                    next_at,
                    status,
                    ..
                } => {
                    let i = instances.iter_mut().find(|i| i.id == id).unwrap();
                    (i.items, i.last_trigger_at, i.next_at, i.status) =
                        (items, last_trigger_at, next_at, status);
                }
            }
        }
    }

    #[test]
    fn triggers_start_fold_and_exit() {
        let (d, b) = (defs(ExitItems::Trigger), bundle());
        let t = 1_800_000_000;
        let mut signals = vec![s(Kind::AddToCart, 1, 0, t, Channel::Web)];
        let mut inst = Vec::new();
        let w = evaluate(&d, &b, "anon:1", &inst, &signals, t);
        apply(&mut inst, w);
        assert_eq!(inst.len(), 1);
        assert_eq!(
            (inst[0].items.clone(), inst[0].next_at),
            (vec!["sku-1".to_string()], t + 3600)
        );
        // The same signals again (a replay, another replica): nothing changes.
        assert!(evaluate(&d, &b, "anon:1", &inst, &signals, t + 5).is_empty());
        // An app add-to-cart does not count; a web one folds in and restarts the wait.
        signals.push(s(Kind::AddToCart, 2, 1, t + 60, Channel::App));
        signals.push(s(Kind::AddToCart, 3, 2, t + 120, Channel::Web));
        let w = evaluate(&d, &b, "anon:1", &inst, &signals, t + 120);
        apply(&mut inst, w);
        assert_eq!(inst.len(), 1);
        assert_eq!(inst[0].items, vec!["sku-3", "sku-1"]);
        assert_eq!(inst[0].next_at, t + 120 + 3600);
        // Not shown on pages before the first step is due; shown after.
        assert!(shown_items(&inst, t + 200).is_empty());
        assert_eq!(shown_items(&inst, t + 120 + 3600), vec!["sku-3", "sku-1"]);
        // Buying one item (in the store) removes it; buying the other ends the journey.
        signals.push(s(Kind::Purchase, 4, 0, t + 300, Channel::Store));
        let w = evaluate(&d, &b, "anon:1", &inst, &signals, t + 300);
        apply(&mut inst, w);
        assert_eq!(
            (inst[0].items.clone(), inst[0].status),
            (vec!["sku-3".to_string()], Status::Active)
        );
        signals.push(s(Kind::Purchase, 5, 2, t + 400, Channel::Store));
        let w = evaluate(&d, &b, "anon:1", &inst, &signals, t + 400);
        apply(&mut inst, w);
        assert_eq!(inst[0].status, Status::Exited);
        assert!(shown_items(&inst, t + 5000).is_empty());
        // A later trigger starts a new journey.
        signals.push(s(Kind::AddToCart, 6, 1, t + 500, Channel::Web));
        let w = evaluate(&d, &b, "anon:1", &inst, &signals, t + 500);
        apply(&mut inst, w);
        assert_eq!(inst.len(), 2);
        assert_eq!(inst[1].started_at, t + 500);
    }

    #[test]
    fn any_exit_event_ends_and_old_triggers_start_nothing() {
        let (d, b) = (defs(ExitItems::Any), bundle());
        let t = 1_800_000_000;
        // A trigger older than activeSecs starts nothing.
        let old = vec![s(Kind::AddToCart, 1, 0, t - 90_000, Channel::Web)];
        assert!(evaluate(&d, &b, "anon:1", &[], &old, t).is_empty());
        // Any purchase after the trigger: ended before it started.
        let signals = vec![
            s(Kind::AddToCart, 2, 0, t, Channel::Web),
            s(Kind::Purchase, 3, 1, t + 1, Channel::Web),
        ];
        assert!(evaluate(&d, &b, "anon:1", &[], &signals, t + 1).is_empty());
    }
}
