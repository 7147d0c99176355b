//! What the store keeps for journeys (migration 2 in both backends): journey
//! instances, the outbox of messages they produced, the subjects' contact records
//! (channel consent and time zone), and the journeys published with each bundle.
//!
//! Exactly once across replicas: a due instance is *claimed* with a row lease
//! ([`crate::store::Store::journey_claim`]: PostgreSQL `FOR UPDATE SKIP LOCKED`, so two
//! replicas never claim the same row; a replica that dies leaves a lease that
//! expires). The claimer decides and renders the message outside any transaction,
//! then [`crate::store::Store::journey_step`] queues it in one transaction that first
//! checks the instance is still at that step (an expired lease taken over by another
//! replica makes the slower one's answer stale) and that `(instance, step)` has no
//! message yet (a unique key). Outbox pulls lease messages the same way.
//!
//! Erasure deletes a cluster's instances, messages (as subject or recipient) and
//! contact records; retention ([`crate::store::Store::expire`]) deletes instances that
//! ended and messages acknowledged before its floor.

use slotwise::signals::Channel;

/// Where an instance is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Status {
    /// Steps are pending.
    Active = 0,
    /// Every step was processed; its items still show until `active_until`.
    Done = 1,
    /// The exit condition happened.
    Exited = 2,
    /// Stopped: its journey is no longer published, or consent ended it.
    Cancelled = 3,
}

impl Status {
    /// From the stored number.
    pub fn from_i64(n: i64) -> Status {
        match n {
            0 => Status::Active,
            1 => Status::Done,
            2 => Status::Exited,
            _ => Status::Cancelled,
        }
    }

    /// A stable name.
    pub fn name(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Done => "done",
            Status::Exited => "exited",
            Status::Cancelled => "cancelled",
        }
    }
}

/// One subject's run through one journey.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Instance {
    /// Random positive 63-bit id.
    pub id: i64,
    /// The journey's id.
    pub journey: String,
    /// The identity id whose signal triggered it (`anon:...`).
    pub subject: String,
    /// Time of the first trigger.
    pub started_at: u64,
    /// Time of the newest trigger folded in (older triggers are never folded again).
    pub last_trigger_at: u64,
    /// Item ids, newest first.
    pub items: Vec<String>,
    /// Index of the next step.
    pub step: u32,
    /// When the next step is due (0: none).
    pub next_at: u64,
    /// Where it is.
    pub status: Status,
    /// Its items show first on web and app pages until then.
    pub active_until: u64,
}

/// A change an evaluation makes, applied only when the instance is still as read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InstanceWrite {
    /// A new active instance (ignored when the subject has an active one already).
    Insert(Instance),
    /// New items / times / status for `id`, applied only while its status and step
    /// are still `was_status` and `was_step`.
    Update {
        /// The instance.
        id: i64,
        /// Its status when read.
        was_status: Status,
        /// Its step when read.
        was_step: u32,
        /// Items now.
        items: Vec<String>,
        /// Newest trigger folded in.
        last_trigger_at: u64,
        /// Next step due.
        next_at: u64,
        /// Status now.
        status: Status,
    },
}

/// A message in the outbox.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboxMessage {
    /// Random positive 63-bit id (what delivery acks).
    pub id: i64,
    /// The instance and step that produced it (unique together).
    pub instance: i64,
    /// The step index.
    pub step: u32,
    /// The journey id.
    pub journey: String,
    /// The instance's subject.
    pub subject: String,
    /// The identity id to deliver to (`email:...`).
    pub recipient: String,
    /// The channel.
    pub channel: Channel,
    /// When it was queued.
    pub created_at: u64,
    /// The rendered message (JSON).
    pub body: String,
    /// Times it was handed out.
    pub attempts: u32,
    /// Handed out until then (0: free).
    pub lease_until: u64,
    /// When delivery acknowledged it.
    pub acked_at: Option<u64>,
}

/// What a claimed step came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StepAction {
    /// Queue this message (its `id`, `instance`, `step` set), unless the cluster is
    /// over `budget` — `(limit, since)` counted over `ids` — then skip the step.
    Send {
        /// The message.
        message: OutboxMessage,
        /// `(messages, since)`: the budget, counted over the cluster's ids.
        budget: Option<(u32, u64)>,
        /// The cluster's identity ids (the budget's scope and its lock).
        ids: Vec<String>,
    },
    /// No message for this step (the reason is for metrics).
    Skip,
    /// Try the step again at this time (quiet hours).
    Postpone(u64),
    /// The exit condition happened: the instance ends.
    Exit,
    /// The instance ends (journey gone, consent withdrawn).
    Cancel,
}

/// A claimed step's result, for [`crate::store::Store::journey_step`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepDone {
    /// The instance.
    pub instance: i64,
    /// The step it was at when claimed.
    pub step: u32,
    /// When the step after it is due (0: it was the last).
    pub next_at: u64,
    /// Items now (purchases may have removed some).
    pub items: Vec<String>,
    /// What to do.
    pub action: StepAction,
}

/// What [`crate::store::Store::journey_step`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StepOutcome {
    /// The message was queued.
    Queued,
    /// The cluster was over its budget: the step was skipped.
    OverBudget,
    /// Applied (skip, postpone, exit, cancel).
    Applied,
    /// The instance had moved on (another replica did the step): nothing changed.
    Stale,
}

/// A subject id's contact record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Contact {
    /// The identity id.
    pub id: String,
    /// Channels it consented to be contacted on: bit `Channel as u8`.
    pub channels: u8,
    /// IANA time zone.
    pub time_zone: Option<String>,
    /// When recorded.
    pub updated_at: u64,
}

/// What an ack did to one id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Acked {
    /// Acknowledged now.
    Now,
    /// Acknowledged before (acks are idempotent).
    Already,
    /// No such message (never queued, or removed by consent withdrawal or erasure).
    Unknown,
}

/// A random positive 63-bit row id.
pub fn new_id() -> i64 {
    let mut b = [0u8; 8];
    if getrandom::fill(&mut b).is_err() {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        b = slotwise::hex::splitmix64(t).to_le_bytes();
    }
    (u64::from_le_bytes(b) >> 1).max(1) as i64
}

/// Items as stored: a JSON array of item ids.
pub fn items_text(items: &[String]) -> String {
    serde_json::to_string(items).unwrap_or_else(|_| "[]".into())
}

/// Items from their stored text.
pub fn items_of(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_default()
}
