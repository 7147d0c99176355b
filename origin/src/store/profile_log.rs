//! Materialized profile logs: what a profile is computed from, kept per subject id in
//! a few compact rows, so issuing a snippet or deciding for a cluster reads a handful
//! of rows instead of walking hundreds of signal index entries.
//!
//! A subject's log is its newest [`MAX_SIGNALS`] stored signals, ordered by
//! `(time, event id)` newest first, with only the fields a profile reads ([`for_profile`]:
//! kind, event id, time, item, consent, channel, value, slot, decision id). Both
//! backends keep it in `profile_logs(subject, seq, oldest, log)`, and a profile read is
//! never behind an acknowledged event:
//! - **ingest** appends one row per subject holding its new signals (a small insert,
//!   however long the subject's history); once a subject has [`COMPACT_AFTER`] rows
//!   (or a large append joins another row) they are merged ([`should_merge`],
//!   [`base_row`]: the newest [`MAX_SIGNALS`], none below the retention floor).
//!   PostgreSQL appends in the ingest transaction and merges right after the answer,
//!   where concurrent ingests would otherwise wait on each other's merges. SQLite
//!   answers once the signals are committed and appends their rows a moment later, for
//!   many commits at once, while its reads add the signals not appended yet
//!   ([`super::sqlite_tail`]);
//! - **erasure** deletes the rows of the cluster's ids; **retention** merges the rows
//!   holding signals below the new floor (and reads skip them meanwhile);
//! - **identity links** change nothing: rows are per subject id, and a cluster's
//!   profile is the newest [`MAX_SIGNALS`] of its ids' logs together — exactly what the
//!   newest signals of each id merged gave before;
//! - **`store copy`** rebuilds the logs from the copied signals, and a store whose
//!   logs were built in another [`FORMAT`] (or before migration 4) rebuilds them once
//!   at open.
//!
//! The log keeps signals, not sums: a profile's windows are exact to the second
//! (30-day purchases, 24-hour impression counters, each cap's period), its affinities
//! decay from the time of the decision, and server-side decisions replay the
//! behaviour into a session — none of which a running total reproduces exactly. The
//! log is also independent of the bundle, so a new bundle needs no rebuild.

use slotwise::signals::{Channel, Kind, Signal};

use super::StoreError;

/// Signals of a profile (per subject id and per cluster), newest first. The profile
/// of a cluster is computed from the newest this many signals of its ids.
pub const MAX_SIGNALS: usize = 500;

/// Rows a subject may have before ingest merges them ([`base_row`]).
pub const COMPACT_AFTER: usize = 16;

/// A merge folds the small rows into the subject's largest row only once they hold
/// this many signals together; before that it merges them into one small row, so the
/// large row (up to [`MAX_SIGNALS`]) is rewritten once per this many new signals,
/// not once per [`COMPACT_AFTER`] commits.
pub const FOLD_AT: usize = 128;

/// The log format; a store whose logs were written in another rebuilds them at open.
pub const FORMAT: i64 = 1;

/// The `meta` key holding the [`FORMAT`] the stored logs were built in.
pub const FORMAT_KEY: &str = "profile_log_format";

const FLAG_VALUE: u8 = 1;
const FLAG_DECISION: u8 = 2;

/// `s` with only the fields a profile reads (variant, holdout and subject cleared).
pub fn for_profile(s: &Signal) -> Signal {
    Signal {
        variant: 0,
        holdout: false,
        subject: None,
        ..*s
    }
}

/// Sorts newest first by `(time, event id)`, drops repeated event ids and keeps the
/// first `limit`. The input is usually a few runs already in that order (log rows),
/// which the stable sort merges in linear time.
pub fn newest_first(signals: &mut Vec<Signal>, limit: usize) {
    signals.sort_by_key(|s| std::cmp::Reverse((s.time, s.event_id)));
    signals.dedup_by_key(|s| (s.time, s.event_id));
    signals.truncate(limit);
}

/// The oldest time in `signals` (0 when empty).
pub fn oldest(signals: &[Signal]) -> u64 {
    signals.iter().map(|s| s.time).min().unwrap_or(0)
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// One log row: the profile fields of `signals` (any order; stored newest first).
pub fn encode(signals: &[Signal]) -> Vec<u8> {
    let mut sorted: Vec<Signal> = signals.iter().map(for_profile).collect();
    newest_first(&mut sorted, usize::MAX);
    let mut out = Vec::with_capacity(2 + sorted.len() * 24);
    out.push(FORMAT as u8);
    put_varint(&mut out, sorted.len() as u64);
    let mut previous = sorted.first().map_or(0, |s| s.time);
    put_varint(&mut out, previous);
    for s in &sorted {
        // Newest first: each time is the previous one minus a small delta.
        put_varint(&mut out, previous - s.time);
        previous = s.time;
        out.extend_from_slice(&s.event_id.to_le_bytes());
        let flags = if s.value.is_some() { FLAG_VALUE } else { 0 }
            | if s.decision_id.is_some() {
                FLAG_DECISION
            } else {
                0
            };
        out.extend_from_slice(&[s.kind as u8, s.channel as u8, s.consent, flags]);
        put_varint(&mut out, u64::from(s.item));
        put_varint(&mut out, u64::from(s.slot));
        if let Some(v) = s.value {
            put_varint(&mut out, v);
        }
        if let Some(d) = s.decision_id {
            out.extend_from_slice(&d.to_le_bytes());
        }
    }
    out
}

struct Reader<'a>(&'a [u8]);

impl Reader<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    fn varint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }

    fn u64_le(&mut self) -> Option<u64> {
        let (head, rest) = self.0.split_first_chunk::<8>()?;
        self.0 = rest;
        Some(u64::from_le_bytes(*head))
    }
}

/// Whether a subject's rows are merged after appending one of `new_signals` signals
/// that made `rows` rows: at [`COMPACT_AFTER`] rows, or once a large append (half of
/// [`FOLD_AT`] or more, e.g. a device's whole batch) joins another row, so a read
/// never decodes much more than [`MAX_SIGNALS`] + [`FOLD_AT`] signals.
pub fn should_merge(rows: usize, new_signals: usize) -> bool {
    rows >= COMPACT_AFTER || (rows >= 2 && new_signals >= FOLD_AT / 2)
}

/// How many signals a log row holds, from its header (0 for a row that is not a
/// [`FORMAT`] log: such a row is never kept as the large row).
pub fn len(bytes: &[u8]) -> usize {
    let mut r = Reader(bytes);
    match r.byte() {
        Some(f) if f == FORMAT as u8 => r.varint().map_or(0, |n| n as usize),
        _ => 0,
    }
}

/// Which row a merge keeps as it is: given the signal count of each of a subject's
/// rows, the largest one when the others hold fewer than [`FOLD_AT`] signals together
/// (they are merged into one small row beside it), else none (every row is merged
/// into one, the newest [`MAX_SIGNALS`] kept).
pub fn base_row(lens: &[usize]) -> Option<usize> {
    let (largest, &most) = lens.iter().enumerate().max_by_key(|&(_, n)| n)?;
    let rest: usize = lens.iter().sum::<usize>() - most;
    (rest < FOLD_AT && most > 0).then_some(largest)
}

/// Appends the signals of one log row to `out`; an error for a row that is not a
/// [`FORMAT`] log (the caller then reads the subject's signals instead).
pub fn decode_into(bytes: &[u8], out: &mut Vec<Signal>) -> Result<(), StoreError> {
    decode_checked(bytes, out).ok_or_else(|| StoreError("a stored profile log is corrupt".into()))
}

fn decode_checked(bytes: &[u8], out: &mut Vec<Signal>) -> Option<()> {
    let mut r = Reader(bytes);
    if r.byte()? != FORMAT as u8 {
        return None;
    }
    let n = usize::try_from(r.varint()?).ok()?;
    // Each entry takes at least 14 bytes: a count beyond that is corrupt.
    if n > bytes.len() / 14 {
        return None;
    }
    out.reserve(n);
    let mut time = r.varint()?;
    for _ in 0..n {
        time = time.checked_sub(r.varint()?)?;
        let event_id = r.u64_le()?;
        let kind = Kind::from_u8(r.byte()?)?;
        let channel = Channel::from_u8(r.byte()?)?;
        let consent = r.byte()?;
        let flags = r.byte()?;
        let mut s = Signal::new(kind, event_id, time);
        s.channel = channel;
        s.consent = consent;
        s.item = u32::try_from(r.varint()?).ok()?;
        s.slot = u16::try_from(r.varint()?).ok()?;
        if flags & FLAG_VALUE != 0 {
            s.value = Some(r.varint()?);
        }
        if flags & FLAG_DECISION != 0 {
            s.decision_id = Some(r.u64_le()?);
        }
        out.push(s);
    }
    r.0.is_empty().then_some(())
}

/// The profile of some log rows: their signals at or above `floor`, newest
/// [`MAX_SIGNALS`] first. Retention deletes the signals below the floor (and merges
/// the rows holding them later), so they never count.
pub fn merge<'a>(
    rows: impl IntoIterator<Item = &'a [u8]>,
    floor: u64,
) -> Result<Vec<Signal>, StoreError> {
    let mut out = Vec::new();
    for row in rows {
        decode_into(row, &mut out)?;
    }
    Ok(finish(out, floor))
}

/// Signals of a profile as [`merge`] leaves them: at or above `floor`, newest
/// [`MAX_SIGNALS`] first, profile fields only.
pub fn finish(mut signals: Vec<Signal>, floor: u64) -> Vec<Signal> {
    signals.retain(|s| s.time >= floor);
    for s in &mut signals {
        *s = for_profile(s);
    }
    newest_first(&mut signals, MAX_SIGNALS);
    signals
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Vec<Signal> {
        vec![
            Signal::new(Kind::View, 1, 1_800_000_000)
                .item(3)
                .consent(7)
                .subject(9),
            Signal::new(Kind::Impression, u64::MAX, 1_800_000_100)
                .decision(42, 2, 70_000, 1)
                .consent(6)
                .channel(Channel::Email),
            Signal::new(Kind::Purchase, 7, 1_800_000_000)
                .item(1)
                .value(u64::MAX)
                .consent(7)
                .channel(Channel::Store),
        ]
    }

    #[test]
    fn a_row_round_trips_the_profile_fields_newest_first() {
        let bytes = encode(&sample());
        let mut back = Vec::new();
        decode_into(&bytes, &mut back).unwrap();
        let mut want: Vec<Signal> = sample().iter().map(for_profile).collect();
        newest_first(&mut want, MAX_SIGNALS);
        assert_eq!(back, want);
        assert_eq!(back[0].event_id, u64::MAX, "newest first");
        assert_eq!((back[1].time, back[1].event_id), (1_800_000_000, 7));
        assert_eq!(back[0].variant, 0, "the variant is not kept");
        let empty = encode(&[]);
        let mut none = Vec::new();
        decode_into(&empty, &mut none).unwrap();
        assert!(none.is_empty());
    }

    #[test]
    fn corrupt_rows_are_errors_never_panics() {
        let bytes = encode(&sample());
        for cut in 0..bytes.len() {
            assert!(
                decode_into(&bytes[..cut], &mut Vec::new()).is_err(),
                "{cut}"
            );
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(decode_into(&longer, &mut Vec::new()).is_err());
        let mut other = bytes.clone();
        other[0] = 99;
        assert!(decode_into(&other, &mut Vec::new()).is_err());
        // A count far beyond the bytes is refused before anything is reserved.
        assert!(decode_into(&[FORMAT as u8, 0xff, 0xff, 0xff, 0x0f], &mut Vec::new()).is_err());
    }

    #[test]
    fn small_rows_fold_into_the_large_one_in_steps() {
        assert_eq!(len(&encode(&sample())), 3);
        assert_eq!(len(&[99, 3]), 0);
        assert_eq!(base_row(&[]), None);
        assert_eq!(base_row(&[500, 2, 1, 3]), Some(0));
        assert_eq!(base_row(&[2, 1, 480, 3]), Some(2));
        assert_eq!(base_row(&[500, FOLD_AT]), None, "enough to fold");
        assert_eq!(base_row(&[0, 0]), None);
        assert!(should_merge(COMPACT_AFTER, 1));
        assert!(!should_merge(COMPACT_AFTER - 1, 1));
        assert!(should_merge(2, FOLD_AT / 2) && !should_merge(1, FOLD_AT));
    }

    #[test]
    fn merge_keeps_the_newest_above_the_floor() {
        let a: Vec<Signal> = (0..400u64)
            .map(|i| Signal::new(Kind::View, i, 1000 + i / 3))
            .collect();
        let b: Vec<Signal> = (400..800u64)
            .map(|i| Signal::new(Kind::Impression, i, 1000 + (i - 400) / 2))
            .collect();
        let (ra, rb) = (encode(&a), encode(&b));
        let merged = merge([ra.as_slice(), rb.as_slice()], 1010).unwrap();
        let mut want: Vec<Signal> = a.iter().chain(&b).copied().collect();
        want.retain(|s| s.time >= 1010);
        newest_first(&mut want, MAX_SIGNALS);
        assert_eq!(merged, want);
        assert_eq!(merged.len(), MAX_SIGNALS);
    }
}
