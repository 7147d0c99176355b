//! Streaming slot rewriting of HTML, for the edge (and anyone rendering server-side).
//!
//! A slot is an element carrying `data-slotwise-slot="name"`. [`SlotRewriter`] copies a
//! page through unchanged, chunk by chunk, except that the *inner content* of each slot
//! it has a replacement for is swapped: the start tag and the end tag stay, what was
//! between them is dropped, the replacement is written right after the start tag (so
//! it streams without waiting for the end of the slot).
//!
//! Guarantees, whatever the input:
//! - bytes outside replaced slots come out identical and in order, wherever the chunk
//!   boundaries fall (the test suite checks this against lol_html, the engine behind
//!   Cloudflare's HTMLRewriter, splitting pages at every byte);
//! - comments, `<!doctype>`, `<?...>`, and the raw text of `<script>`, `<style>`,
//!   `<textarea>`, `<title>`, `<xmp>`, `<iframe>`, `<noembed>`, `<noframes>`,
//!   `<noscript>` and `<plaintext>` never start a slot, and their contents never count
//!   as tags;
//! - attributes may use double, single or no quotes, and `>` inside quotes;
//! - memory is bounded: a tag longer than [`MAX_TAG_BYTES`] is passed through as text,
//!   and the bytes copied out unscanned after the last slot marker (see
//!   [`SlotRewriter::write`]) are kept up to [`MAX_DEFERRED`] bytes, then scanned;
//! - nothing here panics.
//!
//! Only elements whose end tag is required are rewritten (`div`, `section`, `span`, ...;
//! see [`rewritable`]): with `<p>`, `<li>` or `<td>` the end of the slot is implied by
//! the parser's tree rules, which a streaming copy cannot see, so such slots pass
//! through untouched. Self-closing (`<div ... />`) and void slots pass through too.

use memchr::{memchr, memchr3, memrchr2};

/// Longest tag (from `<` to `>`) the rewriter buffers before giving up on it.
pub const MAX_TAG_BYTES: usize = 16 * 1024;

/// The attribute that marks a slot.
pub const SLOT_ATTRIBUTE: &str = "data-slotwise-slot";

/// What every slot's start tag contains (in any case): where it is not, no slot is.
const MARKER: &[u8] = b"-slotwise-";

/// Most bytes kept unscanned (see [`SlotRewriter::write`]) before they are scanned
/// anyway: the memory a page may hold.
const MAX_DEFERRED: usize = 256 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Ordinary text between tags.
    Data,
    /// Inside `<...`: collecting a tag into `tag`.
    Tag,
    /// Inside `<!-- ... -->`; `dashes` counts trailing `-` seen.
    Comment { dashes: u8 },
    /// Inside `<!...>` or `<?...>` (doctype, bogus comment): until `>`.
    Declaration,
    /// Inside the raw text of `raw_end` (script, style...): until `</name`.
    RawText { matched: usize },
    /// After `<plaintext>`: everything to the end is text.
    Plaintext,
}

/// Where a replaced slot's inner content is being dropped.
#[derive(Clone, Debug)]
struct Skipping {
    /// Lower-case tag name of the slot element.
    name: Vec<u8>,
    /// Open elements of that name, the slot itself included.
    depth: usize,
}

/// What happened to each slot the page contained, in page order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotSeen {
    /// The slot name from the attribute.
    pub name: String,
    /// Whether its content was replaced.
    pub replaced: bool,
}

/// Rewrites the slots of one HTML document, fed in chunks.
///
/// ```
/// use slotwise::html::SlotRewriter;
///
/// let mut rw = SlotRewriter::new(|slot| (slot == "hero").then(|| "<b>Hi</b>".to_string()));
/// let mut out = Vec::new();
/// rw.write(b"<p>a</p><div data-slotwise-slot='hero'>def", &mut out);
/// rw.write(b"ault</div><p>b</p>", &mut out);
/// rw.end(&mut out);
/// assert_eq!(out, b"<p>a</p><div data-slotwise-slot='hero'><b>Hi</b></div><p>b</p>");
/// ```
pub struct SlotRewriter<F> {
    replacement: F,
    state: State,
    tag: Vec<u8>,
    /// Lower-case name of the raw-text element whose end tag we are looking for.
    raw_end: Vec<u8>,
    /// Quote state of the tag being collected: the open quote byte, if any.
    tag_quote: Option<u8>,
    /// Where the tag's attributes are, outside quotes (see [`attr_step`]).
    tag_attr: u8,
    skipping: Option<Skipping>,
    seen: Vec<SlotSeen>,
    /// How many slots were filled (replaced) so far.
    filled: usize,
    /// Whether the bytes since the last [`MARKER`] went out unscanned (`deferred`).
    deferring: bool,
    /// Those bytes, scanned only if a later chunk may hold a slot ([`Self::write`]).
    deferred: Vec<u8>,
    /// How many of the next bytes the scan writes went out already: the bytes it
    /// holds back where it caught up on `deferred` (they were sent unscanned).
    ahead: usize,
    /// Set while catching up on `deferred`: nothing is written.
    discard: bool,
    /// Set while writing the page's last bytes ([`Self::write_whole`]): no later chunk
    /// can need the unscanned bytes, so they are not kept.
    last_chunk: bool,
}

/// `Comment::dashes` after `--!`: a following `>` closes the comment.
const BANG: u8 = 200;

impl<F: FnMut(&str) -> Option<String>> SlotRewriter<F> {
    /// `replacement(slot)` gives the new inner HTML of a slot, or `None` to keep it.
    /// It is called once per slot element, when its start tag has been read.
    pub fn new(replacement: F) -> Self {
        SlotRewriter {
            replacement,
            state: State::Data,
            tag: Vec::new(),
            raw_end: Vec::new(),
            tag_quote: None,
            tag_attr: ATTR_TAG_NAME,
            skipping: None,
            seen: Vec::new(),
            filled: 0,
            deferring: false,
            deferred: Vec::new(),
            ahead: 0,
            discard: false,
            last_chunk: false,
        }
    }

    /// The slots met so far.
    pub fn seen(&self) -> &[SlotSeen] {
        &self.seen
    }

    /// How many slots were filled so far.
    pub fn filled(&self) -> usize {
        self.filled
    }

    /// How many of the last input bytes are held back, neither written out nor
    /// dropped yet: an unfinished tag, or what may be the end tag of raw text (none
    /// past the last slot marker: those bytes go out unscanned). They are always
    /// the *last* `held()` bytes fed, unchanged, so a caller that stops using the
    /// rewriter mid-page writes them out itself and loses no byte.
    ///
    /// ```
    /// use slotwise::html::SlotRewriter;
    ///
    /// let mut rw = SlotRewriter::new(|_| None);
    /// let mut out = Vec::new();
    /// rw.write(b"<p>a</p><div data-slotwise-slot=hero cla", &mut out);
    /// assert_eq!(out, b"<p>a</p>");
    /// assert_eq!(rw.held(), b"<div data-slotwise-slot=hero cla".len());
    /// ```
    pub fn held(&self) -> usize {
        let buffered = match self.state {
            State::Tag | State::RawText { .. } => self.tag.len(),
            _ => 0,
        };
        buffered.saturating_sub(self.ahead)
    }

    /// Feeds the next chunk like [`Self::write`], and tells whether what it appended
    /// to `out` is the chunk itself, all but its last [`Self::held`] bytes: true
    /// when no byte was held back before, no slot was being replaced and none was
    /// filled in this chunk (most chunks of a page). A caller can then send (a view
    /// of) its own chunk instead of a copy.
    ///
    /// ```
    /// use slotwise::html::SlotRewriter;
    ///
    /// let mut rw = SlotRewriter::new(|_| Some("x".to_string()));
    /// let mut out = Vec::new();
    /// assert!(rw.write_unchanged(b"<p>a</p><div data-slotwise-slot=s cl", &mut out));
    /// assert_eq!(out, b"<p>a</p>");
    /// out.clear();
    /// assert!(!rw.write_unchanged(b"ass=a>b</div>", &mut out));
    /// assert_eq!(out, b"<div data-slotwise-slot=s class=a>x</div>");
    /// ```
    pub fn write_unchanged(&mut self, chunk: &[u8], out: &mut Vec<u8>) -> bool {
        let unchanged = self.held() == 0 && self.skipping.is_none();
        let filled = self.filled;
        self.write(chunk, out);
        unchanged && self.filled == filled
    }

    /// Feeds the rest of the page and ends it ([`Self::write`] then [`Self::end`]):
    /// the bytes past its last slot marker are copied out once, not also kept.
    pub fn write_whole(&mut self, rest: &[u8], out: &mut Vec<u8>) {
        self.last_chunk = true;
        self.write(rest, out);
        self.last_chunk = false;
        self.end(out);
    }

    /// Feeds the next chunk; rewritten bytes are appended to `out`.
    ///
    /// Past the last slot marker ([`MARKER`], which every slot's start tag holds)
    /// of what was fed, the page is copied out unscanned, and the copied bytes are
    /// kept: if a later chunk may hold a slot (a marker in it, or across its start)
    /// they are scanned then, without writing them again, so the state at the chunk's
    /// start is exact. A page whose last slot is early is mostly copied, not parsed.
    pub fn write(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        if self.deferring {
            if self.deferred.len() + chunk.len() <= MAX_DEFERRED && !self.slot_may_follow(chunk) {
                if !self.last_chunk {
                    self.deferred.extend_from_slice(chunk);
                }
                out.extend_from_slice(chunk);
                return;
            }
            self.catch_up();
        }
        self.scan(chunk, out, true);
    }

    /// Whether a slot may start in `chunk`, after the deferred bytes: a marker in it
    /// or across the seam.
    fn slot_may_follow(&self, chunk: &[u8]) -> bool {
        if last_marker_end(chunk).is_some() {
            return true;
        }
        let mut seam = [0u8; 2 * (MARKER.len() - 1)];
        let tail = &self.deferred[self.deferred.len().saturating_sub(MARKER.len() - 1)..];
        let head = &chunk[..chunk.len().min(MARKER.len() - 1)];
        seam[..tail.len()].copy_from_slice(tail);
        seam[tail.len()..tail.len() + head.len()].copy_from_slice(head);
        last_marker_end(&seam[..tail.len() + head.len()]).is_some()
    }

    /// Scans the deferred bytes (they went out already) for the state they leave.
    fn catch_up(&mut self) {
        let deferred = std::mem::take(&mut self.deferred);
        self.deferring = false;
        self.discard = true;
        self.scan(&deferred, &mut Vec::new(), false);
        self.discard = false;
        // What the scan holds back at the seam was sent with the deferred bytes.
        self.ahead = self.held();
        self.deferred = deferred;
        self.deferred.clear();
    }

    /// The state machine over `chunk`; `may_defer`: copy the rest out unscanned past
    /// its last marker.
    fn scan(&mut self, chunk: &[u8], out: &mut Vec<u8>, may_defer: bool) {
        let defer_from = if may_defer {
            last_marker_end(chunk).unwrap_or(0)
        } else {
            usize::MAX
        };
        let mut i = 0;
        while i < chunk.len() {
            match self.state {
                State::Data => {
                    // Text and plain tags (no slot, no raw text: most of a page) are
                    // copied in one run; the run stops at anything else.
                    let start = i;
                    loop {
                        if i >= defer_from && self.skipping.is_none() {
                            // No slot in the rest of the chunk: it goes out as it is.
                            debug_assert_eq!(self.ahead, 0);
                            self.emit(&chunk[start..], out);
                            self.deferred.clear();
                            if !self.last_chunk {
                                self.deferred.extend_from_slice(&chunk[i..]);
                            }
                            self.deferring = true;
                            return;
                        }
                        // Text between tags is often empty or a few bytes: look before
                        // calling memchr.
                        let next = if chunk[i] == b'<' {
                            Some(0)
                        } else {
                            memchr(b'<', &chunk[i..])
                        };
                        let Some(p) = next else {
                            i = chunk.len();
                            self.emit(&chunk[start..], out);
                            break;
                        };
                        let at = i + p;
                        let comment = if chunk.get(at + 1) == Some(&b'!') {
                            whole_comment(&chunk[at..])
                        } else {
                            None
                        };
                        if let Some(len) = comment {
                            // Nothing in a comment counts, skipping or not.
                            i = at + len;
                            if i == chunk.len() {
                                self.emit(&chunk[start..], out);
                                break;
                            }
                            continue;
                        }
                        match whole_tag(&chunk[at..]) {
                            Some(tag) if tag.plain && self.skipping.is_none() => {
                                i = at + tag.len;
                                if i == chunk.len() {
                                    self.emit(&chunk[start..], out);
                                    break;
                                }
                            }
                            Some(tag) => {
                                self.emit(&chunk[start..at], out);
                                self.complete_tag(&chunk[at..at + tag.len], out);
                                i = at + tag.len;
                                break;
                            }
                            None => {
                                self.emit(&chunk[start..at], out);
                                self.start_tag_buffer();
                                i = at + 1;
                                break;
                            }
                        }
                    }
                }
                State::Tag if self.tag.len() < 4 => {
                    // The first bytes decide what the construct is (`<!--`, `</`...).
                    let b = chunk[i];
                    i += 1;
                    self.push_tag_byte(b);
                    self.after_tag_byte(out);
                }
                State::Tag => i = self.tag_run(chunk, i, out),
                State::Comment { dashes: 0 } => {
                    // Nothing pending: copy up to the next '-' in one go.
                    let end = memchr(b'-', &chunk[i..]).map_or(chunk.len(), |p| i + p);
                    self.emit(&chunk[i..end], out);
                    i = end;
                    if i < chunk.len() {
                        i += 1;
                        self.emit(b"-", out);
                        self.state = State::Comment { dashes: 1 };
                    }
                }
                State::Comment { dashes } => {
                    let b = chunk[i];
                    i += 1;
                    self.emit(&[b], out);
                    self.state = match b {
                        b'-' if dashes == BANG => State::Comment { dashes: 1 },
                        b'-' => State::Comment {
                            dashes: dashes.saturating_add(1).min(2),
                        },
                        b'!' if dashes == 2 => State::Comment { dashes: BANG },
                        b'>' if dashes >= 2 => State::Data,
                        _ => State::Comment { dashes: 0 },
                    };
                }
                State::Declaration => {
                    let run = memchr(b'>', &chunk[i..]);
                    let end = run.map_or(chunk.len(), |p| i + p + 1);
                    self.emit(&chunk[i..end], out);
                    i = end;
                    if run.is_some() {
                        self.state = State::Data;
                    }
                }
                State::RawText { matched: 0 } => {
                    // Raw text: copy up to the next '<' (a possible end tag) in one go.
                    let end = memchr(b'<', &chunk[i..]).map_or(chunk.len(), |p| i + p);
                    self.emit(&chunk[i..end], out);
                    i = end;
                    if i < chunk.len() {
                        i += 1;
                        self.raw_text_byte(b'<', 0, out);
                    }
                }
                State::RawText { matched } => {
                    let b = chunk[i];
                    i += 1;
                    self.raw_text_byte(b, matched, out);
                }
                State::Plaintext => {
                    self.emit(&chunk[i..], out);
                    i = chunk.len();
                }
            }
        }
    }

    /// Ends the document: whatever is buffered (an unfinished tag) is written out.
    pub fn end(&mut self, out: &mut Vec<u8>) {
        if self.deferring {
            // Everything went out already, and no slot is left to find.
            self.deferring = false;
            self.deferred = Vec::new();
            return;
        }
        if let State::Tag = self.state {
            let tag = std::mem::take(&mut self.tag);
            self.emit(&tag, out);
        }
        if let State::RawText { .. } = self.state {
            // A partial `</script` candidate is text.
            let held = std::mem::take(&mut self.tag);
            self.emit(&held, out);
        }
        self.state = State::Data;
    }

    fn start_tag_buffer(&mut self) {
        self.tag.clear();
        self.tag.push(b'<');
        self.tag_quote = None;
        self.tag_attr = ATTR_TAG_NAME;
        self.state = State::Tag;
    }

    /// The rest of a tag whose kind is known (4+ bytes buffered): copies bytes in
    /// runs up to the closing `>` outside quotes, or up to the length limit, with the
    /// quote rules of [`Self::push_tag_byte`] (a quote opens a value only right after
    /// an attribute's `=`, see [`attr_step`]). Returns where it stopped.
    fn tag_run(&mut self, chunk: &[u8], from: usize, out: &mut Vec<u8>) -> usize {
        let room = (MAX_TAG_BYTES + 1).saturating_sub(self.tag.len()).max(1);
        let end = chunk.len().min(from + room);
        let mut i = from;
        let mut closed = false;
        while i < end {
            match self.tag_quote {
                Some(q) => match memchr(q, &chunk[i..end]) {
                    Some(p) => {
                        i += p + 1;
                        self.tag_quote = None;
                        self.tag_attr = ATTR_BEFORE_NAME;
                    }
                    None => i = end,
                },
                None => match memchr3(b'>', b'"', b'\'', &chunk[i..end]) {
                    None => {
                        self.tag_attr = attr_state(&chunk[i..end], self.tag_attr);
                        i = end;
                    }
                    Some(p) => {
                        let at = i + p;
                        let state = attr_state(&chunk[i..at], self.tag_attr);
                        i = at + 1;
                        if chunk[at] == b'>' {
                            closed = true;
                            break;
                        }
                        if state == ATTR_AFTER_EQ {
                            self.tag_quote = Some(chunk[at]);
                            self.tag_attr = ATTR_BEFORE_NAME;
                        } else {
                            self.tag_attr = attr_step(state, chunk[at]);
                        }
                    }
                },
            }
        }
        self.tag.extend_from_slice(&chunk[from..i]);
        if closed {
            self.finish_tag(out);
        } else if self.tag.len() > MAX_TAG_BYTES {
            self.flush_tag_as_text(out);
        }
        i
    }

    /// The buffered tag is whole: handle it, keeping the buffer's capacity.
    fn finish_tag(&mut self, out: &mut Vec<u8>) {
        let t = std::mem::take(&mut self.tag);
        self.state = State::Data;
        self.complete_tag(&t, out);
        self.tag = t;
        self.tag.clear();
    }

    /// Appends a byte to the tag, tracking attribute quotes (only a quote right
    /// after an attribute's `=` opens a value; `>` inside a quoted value does not end
    /// the tag).
    fn push_tag_byte(&mut self, b: u8) {
        self.tag.push(b);
        match self.tag_quote {
            Some(q) if b == q => {
                self.tag_quote = None;
                self.tag_attr = ATTR_BEFORE_NAME;
            }
            Some(_) => {}
            None => {
                if (b == b'"' || b == b'\'') && self.tag_attr == ATTR_AFTER_EQ {
                    self.tag_quote = Some(b);
                    self.tag_attr = ATTR_BEFORE_NAME;
                } else {
                    self.tag_attr = attr_step(self.tag_attr, b);
                }
            }
        }
    }

    /// Writes input bytes, unless they are a replaced slot's content.
    fn emit(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        if self.skipping.is_none() {
            self.put(bytes, out);
        }
    }

    /// Writes `bytes`, less those that went out already (`ahead`); nothing while
    /// catching up.
    fn put(&mut self, bytes: &[u8], out: &mut Vec<u8>) {
        if self.discard {
            return;
        }
        let sent = self.ahead.min(bytes.len());
        self.ahead -= sent;
        out.extend_from_slice(&bytes[sent..]);
    }

    /// Decides what the bytes collected in `self.tag` are, as early as possible.
    fn after_tag_byte(&mut self, out: &mut Vec<u8>) {
        let tag = &self.tag;
        let n = tag.len();
        if n == 2 {
            match tag[1] {
                b'!' | b'?' | b'/' => return,
                b if b.is_ascii_alphabetic() => return,
                _ => {
                    // `<` not starting a tag is text ("a < b").
                    self.flush_tag_as_text(out);
                    return;
                }
            }
        }
        if tag[1] == b'!' {
            if n == 3 && tag[2] == b'-' {
                return;
            }
            if n == 4 && tag[2] == b'-' && tag[3] == b'-' {
                let t = std::mem::take(&mut self.tag);
                self.emit(&t, out);
                // Two dashes count already: `<!-->` and `<!--->` are whole comments.
                self.state = State::Comment { dashes: 2 };
                return;
            }
            // `<!doctype ...>`, `<![CDATA[`, `<!x`: a declaration up to `>`.
            self.pass_declaration(out);
            return;
        }
        if tag[1] == b'?' {
            self.pass_declaration(out);
            return;
        }
        if tag[1] == b'/' && n == 3 && !tag[2].is_ascii_alphabetic() {
            // `</>` is dropped by browsers, `</3` is a bogus comment: pass through as
            // a declaration so nothing inside counts as a tag.
            self.pass_declaration(out);
            return;
        }
        if tag[n - 1] == b'>' && self.tag_quote.is_none() {
            self.finish_tag(out);
            return;
        }
        if n > MAX_TAG_BYTES {
            self.flush_tag_as_text(out);
        }
    }

    /// `<!doctype>`, `<?...>`, `</3`: written through as they are; if the buffer does
    /// not end the construct yet, the rest up to `>` follows as a declaration.
    fn pass_declaration(&mut self, out: &mut Vec<u8>) {
        let t = std::mem::take(&mut self.tag);
        self.emit(&t, out);
        self.state = if t.last() == Some(&b'>') {
            State::Data
        } else {
            State::Declaration
        };
    }

    fn flush_tag_as_text(&mut self, out: &mut Vec<u8>) {
        let t = std::mem::take(&mut self.tag);
        self.emit(&t, out);
        self.state = State::Data;
    }

    /// A whole start or end tag, `<` to `>`.
    fn complete_tag(&mut self, tag: &[u8], out: &mut Vec<u8>) {
        let is_end = tag[1] == b'/';
        if is_end && self.skipping.is_none() {
            // Half the tags of a page: nothing to look at.
            self.put(tag, out);
            return;
        }
        let name = tag_name(&tag[if is_end { 2 } else { 1 }..]);
        let self_closing = !is_end && tag.len() >= 3 && tag[tag.len() - 2] == b'/';

        if let Some(skip) = &mut self.skipping {
            if name.eq_ignore_ascii_case(&skip.name) {
                if is_end {
                    skip.depth -= 1;
                } else if !self_closing {
                    skip.depth += 1;
                }
            }
            if skip.depth == 0 {
                self.skipping = None;
                self.put(tag, out);
            } else if !is_end {
                self.enter_raw_text_if_needed(name);
            }
            return;
        }

        self.put(tag, out);
        if is_end {
            return;
        }
        let slot = if may_have_slot(tag) {
            attribute(tag, SLOT_ATTRIBUTE.as_bytes())
        } else {
            None
        };
        if let Some(slot) = slot {
            let slot = String::from_utf8_lossy(&slot).into_owned();
            let lower = name.to_ascii_lowercase();
            let replaced = !self_closing && rewritable(&lower);
            let replaced = replaced
                && match (self.replacement)(&slot) {
                    Some(html) => {
                        self.put(html.as_bytes(), out);
                        self.skipping = Some(Skipping {
                            name: lower,
                            depth: 1,
                        });
                        true
                    }
                    None => false,
                };
            self.filled += usize::from(replaced);
            self.seen.push(SlotSeen {
                name: slot,
                replaced,
            });
            if replaced {
                return;
            }
        }
        self.enter_raw_text_if_needed(name);
    }

    fn enter_raw_text_if_needed(&mut self, name: &[u8]) {
        if name.eq_ignore_ascii_case(b"plaintext") {
            self.state = State::Plaintext;
        } else if RAW_TEXT.iter().any(|raw| name.eq_ignore_ascii_case(raw)) {
            self.raw_end = name.to_ascii_lowercase();
            self.state = State::RawText { matched: 0 };
        }
    }

    /// Raw text: look for `</name` followed by whitespace, `/` or `>`, any case.
    /// Bytes of a candidate are held back until it is decided.
    fn raw_text_byte(&mut self, b: u8, matched: usize, out: &mut Vec<u8>) {
        let want = matched; // index into "</" + name
        let expected = match want {
            0 => Some(b'<'),
            1 => Some(b'/'),
            k if k - 2 < self.raw_end.len() => Some(self.raw_end[k - 2]),
            _ => None,
        };
        match expected {
            Some(e) if b.to_ascii_lowercase() == e => {
                self.state = State::RawText {
                    matched: matched + 1,
                };
                // Hold the byte: it may be part of the end tag. Keep the original case.
                self.tag.push(b);
            }
            Some(_) => {
                let held = std::mem::take(&mut self.tag);
                self.emit(&held, out);
                self.state = State::RawText { matched: 0 };
                if b == b'<' {
                    self.state = State::RawText { matched: 1 };
                    self.tag.push(b);
                } else {
                    self.emit(&[b], out);
                }
            }
            None => {
                // Full `</name` matched: the next byte decides.
                if matches!(b, b'\t' | b'\n' | b'\x0c' | b'\r' | b' ' | b'/' | b'>') {
                    let held = std::mem::take(&mut self.tag);
                    self.start_tag_buffer();
                    for &h in &held[1..] {
                        self.push_tag_byte(h);
                    }
                    self.push_tag_byte(b);
                    if b == b'>' {
                        self.finish_tag(out);
                    }
                } else {
                    let held = std::mem::take(&mut self.tag);
                    self.emit(&held, out);
                    self.state = State::RawText { matched: 0 };
                    if b == b'<' {
                        self.state = State::RawText { matched: 1 };
                        self.tag.push(b);
                    } else {
                        self.emit(&[b], out);
                    }
                }
            }
        }
    }
}

// Where a tag's scan is, outside quotes: the states of [`attribute`]'s parser, so
// the end of a tag is found exactly as its attributes are read.
/// In the tag name (`<div`): a space or `/` ends it.
const ATTR_TAG_NAME: u8 = 0;
/// Before an attribute name (spaces, `/`; a stray `=` is skipped).
const ATTR_BEFORE_NAME: u8 = 1;
/// In an attribute name (quotes are part of it).
const ATTR_NAME: u8 = 2;
/// After an attribute name and spaces: `=` starts its value.
const ATTR_AFTER_NAME: u8 = 3;
/// After an attribute's `=` (spaces allowed): a quote here opens a value.
const ATTR_AFTER_EQ: u8 = 4;
/// In an unquoted value: `=` and quotes are part of it, up to a space.
const ATTR_UNQUOTED: u8 = 5;

/// The attribute state after byte `b` (not a quote that opens a value: after one,
/// and after its closing quote, the state is [`ATTR_BEFORE_NAME`]).
const fn attr_step(state: u8, b: u8) -> u8 {
    let space = is_space(b);
    match state {
        ATTR_TAG_NAME if space || b == b'/' => ATTR_BEFORE_NAME,
        ATTR_TAG_NAME => ATTR_TAG_NAME,
        ATTR_BEFORE_NAME if space || b == b'/' || b == b'=' => ATTR_BEFORE_NAME,
        ATTR_NAME | ATTR_AFTER_NAME if b == b'=' => ATTR_AFTER_EQ,
        ATTR_NAME | ATTR_AFTER_NAME if space => ATTR_AFTER_NAME,
        ATTR_NAME | ATTR_AFTER_NAME if b == b'/' => ATTR_BEFORE_NAME,
        ATTR_BEFORE_NAME | ATTR_NAME | ATTR_AFTER_NAME => ATTR_NAME,
        ATTR_AFTER_EQ if space => ATTR_AFTER_EQ,
        ATTR_UNQUOTED if space => ATTR_BEFORE_NAME,
        _ => ATTR_UNQUOTED,
    }
}

/// The attribute state after `run` (no quote that opens a value in it).
fn attr_state(run: &[u8], state: u8) -> u8 {
    run.iter().fold(state, |s, &b| attr_step(s, b))
}

/// A start or end tag found whole by [`whole_tag`].
#[derive(Debug, PartialEq, Eq)]
struct WholeTag {
    /// Its length, `<` to `>`.
    len: usize,
    /// Nothing in it can change the rewriter's state: an end tag, or a start tag
    /// that opens no raw text and cannot carry the slot attribute (no `-s`).
    plain: bool,
}

// Byte classes of a tag's scan ([`TAG_CLASS`]): the first four drive [`attr_step`].
const C_OTHER: u8 = 0;
const C_SPACE: u8 = 1;
const C_SLASH: u8 = 2;
const C_EQ: u8 = 3;
const C_QUOTE: u8 = 4;
const C_GT: u8 = 5;
const C_DASH: u8 = 6;

/// The class of every byte inside a tag.
const TAG_CLASS: [u8; 256] = {
    let mut t = [C_OTHER; 256];
    t[b'\t' as usize] = C_SPACE;
    t[b'\n' as usize] = C_SPACE;
    t[0x0c] = C_SPACE;
    t[b'\r' as usize] = C_SPACE;
    t[b' ' as usize] = C_SPACE;
    t[b'/' as usize] = C_SLASH;
    t[b'=' as usize] = C_EQ;
    t[b'"' as usize] = C_QUOTE;
    t[b'\'' as usize] = C_QUOTE;
    t[b'>' as usize] = C_GT;
    t[b'-' as usize] = C_DASH;
    t
};

/// [`attr_step`] as a table: `ATTR_NEXT[state * 8 + class]` (a quote that opens no
/// value, and a dash, step as any other byte; `>` never steps). 64 entries, so an
/// index masked with 63 needs no bounds check.
const ATTR_NEXT: [u8; 64] = {
    let mut t = [0; 64];
    let mut state = 0;
    while state < 6 {
        let byte_of = [b'a', b' ', b'/', b'=', b'"', b'>', b'-', b'a'];
        let mut class = 0;
        while class < 8 {
            t[state * 8 + class] = attr_step(state as u8, byte_of[class]);
            class += 1;
        }
        state += 1;
    }
    t
};

/// The start or end tag (`<a...>`, `</a...>`) at the start of `s` when it ends
/// within `s` and within [`MAX_TAG_BYTES`], with the same quote rules as the
/// byte-by-byte path; `None` for anything else (comments, declarations, a tag cut by
/// the chunk boundary), which that path handles. One pass over the tag's bytes with
/// a table for the attribute states (tags are short: a call to memchr per quote
/// costs more); quoted values are skipped in one search.
fn whole_tag(s: &[u8]) -> Option<WholeTag> {
    let s = &s[..s.len().min(MAX_TAG_BYTES + 1)];
    if let Some(tag) = simple_tag(s) {
        return Some(tag);
    }
    any_tag(s)
}

/// Whether the tag at `s` (from its `<`) is an end tag, and where its name starts;
/// `None` unless a letter starts it.
fn tag_name_at(s: &[u8]) -> Option<(bool, usize)> {
    let is_end = *s.get(1)? == b'/';
    let name = if is_end { 2 } else { 1 };
    s.get(name)?.is_ascii_alphabetic().then_some((is_end, name))
}

/// [`whole_tag`] for any tag, by the attribute states (`s` cut to
/// [`MAX_TAG_BYTES`] + 1 already).
fn any_tag(s: &[u8]) -> Option<WholeTag> {
    let (is_end, name) = tag_name_at(s)?;
    // The scan starts after the name's first letter: `<d` (tag name) or `</d` (the
    // byte path reads `/` as ending a name, then `d` as a name).
    let mut j = name + 1;
    let mut attr = if is_end { ATTR_NAME } else { ATTR_TAG_NAME };
    let mut dash_s = false;
    while j < s.len() {
        let b = s[j];
        let class = TAG_CLASS[b as usize];
        if class == C_GT {
            let plain = is_end || !(dash_s || raw_text(tag_name(&s[name..j])));
            return Some(WholeTag { len: j + 1, plain });
        }
        if class == C_QUOTE && attr == ATTR_AFTER_EQ {
            // A quote right after an attribute's `=` opens a value; its match ends it.
            j += 1;
            j += find_byte(b, &s[j..])? + 1;
            attr = ATTR_BEFORE_NAME;
            continue;
        }
        if class == C_DASH && s.get(j + 1).is_some_and(|&n| n | 0x20 == b's') {
            dash_s = true;
        }
        attr = ATTR_NEXT[(attr as usize * 8 + class as usize) & 63];
        j += 1;
    }
    None
}

/// [`whole_tag`] for the shapes most tags of a page have, read without the
/// attribute states: `</name>`, and `<name>` with attributes each written
/// ` name="value"` or ` name='value'` (one space before it, a name of lower-case
/// letters and dashes, no dash before an `s`; nothing around the `=`). `None` for anything else, which the general path reads.
/// Such a tag ends at the first `>` after its last value; it opens raw text only by
/// its name, and cannot carry the slot attribute (no `-` outside its values).
fn simple_tag(s: &[u8]) -> Option<WholeTag> {
    let (is_end, name) = tag_name_at(s)?;
    let mut j = name + 1;
    while s.get(j).is_some_and(u8::is_ascii_alphanumeric) {
        j += 1;
    }
    let name_end = j;
    loop {
        match *s.get(j)? {
            b'>' => {
                let plain = is_end || !raw_text(&s[name..name_end]);
                return Some(WholeTag { len: j + 1, plain });
            }
            b' ' if !is_end => {
                j += 1;
                let from = j;
                // `-` too (`data-id`), but not `-s`: it may be the slot's marker.
                while s.get(j).is_some_and(|&b| {
                    b.is_ascii_lowercase()
                        || (b == b'-' && s.get(j + 1).is_some_and(|&n| n | 0x20 != b's'))
                }) {
                    j += 1;
                }
                if j == from || s.get(j) != Some(&b'=') {
                    return None;
                }
                let quote = *s.get(j + 1)?;
                if quote != b'"' && quote != b'\'' {
                    return None;
                }
                j += 2;
                j += find_byte(quote, &s[j..])? + 1;
            }
            _ => return None,
        }
    }
}

/// Where the last [`MARKER`] (any case) in `s` ends.
fn last_marker_end(s: &[u8]) -> Option<usize> {
    // Its rarest letter first: `w` is rare in pages, and found 16 bytes at a time.
    const W: usize = 5;
    let mut end = s.len();
    while let Some(p) = memrchr2(b'w', b'W', &s[..end]) {
        if p >= W
            && p - W + MARKER.len() <= s.len()
            && s[p - W..p - W + MARKER.len()].eq_ignore_ascii_case(MARKER)
        {
            return Some(p - W + MARKER.len());
        }
        end = p;
    }
    None
}

/// Where `b` first is in `hay`: a plain loop over the first bytes (attribute
/// values are mostly short), memchr beyond.
fn find_byte(b: u8, hay: &[u8]) -> Option<usize> {
    const SHORT: usize = 16;
    if let Some(p) = hay.iter().take(SHORT).position(|&x| x == b) {
        return Some(p);
    }
    if hay.len() <= SHORT {
        return None;
    }
    memchr(b, &hay[SHORT..]).map(|p| p + SHORT)
}

/// The length of the comment `<!--...-->` at the start of `s` when it ends within
/// `s`, by the byte path's rules ([`State::Comment`]): the first `>` after `--` or
/// `--!` closes it, the opening dashes counting (`<!-->`, `<!--->`); `None` for
/// anything else.
fn whole_comment(s: &[u8]) -> Option<usize> {
    if !s.starts_with(b"<!--") {
        return None;
    }
    let mut from = 4;
    loop {
        let p = from + memchr(b'>', &s[from..])?;
        let before = &s[2..p];
        if before.ends_with(b"--") || before.ends_with(b"--!") {
            return Some(p + 1);
        }
        from = p + 1;
    }
}

const fn is_space(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | b'\x0c' | b'\r' | b' ')
}

/// Whether an element's contents are raw text: [`RAW_TEXT`] or `plaintext`.
fn raw_text(name: &[u8]) -> bool {
    // Most names are rejected by their length alone.
    matches!(name.len(), 3 | 5..=9)
        && (RAW_TEXT.iter().any(|r| name.eq_ignore_ascii_case(r))
            || name.eq_ignore_ascii_case(b"plaintext"))
}

/// Elements whose contents are raw text (no tags inside) until their own end tag.
const RAW_TEXT: &[&[u8]] = &[
    b"script",
    b"style",
    b"textarea",
    b"title",
    b"xmp",
    b"iframe",
    b"noembed",
    b"noframes",
    b"noscript",
];

/// Whether a slot on this element can be rewritten by a streaming copy: its end tag
/// must be explicit (not implied by what follows) and it must have contents at all.
pub fn rewritable(name: &[u8]) -> bool {
    const OK: &[&[u8]] = &[
        b"div",
        b"section",
        b"article",
        b"aside",
        b"header",
        b"footer",
        b"main",
        b"nav",
        b"span",
        b"a",
        b"figure",
        b"figcaption",
        b"ul",
        b"ol",
        b"h1",
        b"h2",
        b"h3",
        b"h4",
        b"h5",
        b"h6",
        b"blockquote",
        b"button",
        b"strong",
        b"em",
        b"b",
        b"i",
        b"small",
        b"picture",
        b"template",
        b"slotwise-slot",
    ];
    OK.contains(&name) || name.contains(&b'-')
}

/// The tag name at the start of `s` (after `<` or `</`), as written (any case).
fn tag_name(s: &[u8]) -> &[u8] {
    let end = s
        .iter()
        .position(|&b| matches!(b, b'\t' | b'\n' | b'\x0c' | b'\r' | b' ' | b'/' | b'>'))
        .unwrap_or(s.len());
    &s[..end]
}

/// Whether `tag` may carry the slot attribute: it contains `-slotwise-` in any case
/// (a cheap test that spares the attribute parse on almost every tag of a page).
fn may_have_slot(tag: &[u8]) -> bool {
    const NEEDLE: &[u8] = b"-slotwise-";
    let mut from = 0;
    while let Some(p) = tag[from..].iter().position(|&b| b == b'-') {
        let at = from + p;
        if tag.len() - at < NEEDLE.len() {
            return false;
        }
        if tag[at..at + NEEDLE.len()].eq_ignore_ascii_case(NEEDLE) {
            return true;
        }
        from = at + 1;
    }
    false
}

/// The value of attribute `name` (ASCII case-insensitive) in a complete start tag,
/// with character references left as they are.
fn attribute(tag: &[u8], name: &[u8]) -> Option<Vec<u8>> {
    let is_space = |b: u8| matches!(b, b'\t' | b'\n' | b'\x0c' | b'\r' | b' ');
    let end = tag.len().saturating_sub(1); // drop '>'
    let mut i = 1 + tag_name(&tag[1..]).len();
    while i < end {
        while i < end && (is_space(tag[i]) || tag[i] == b'/') {
            i += 1;
        }
        let start = i;
        while i < end && !is_space(tag[i]) && tag[i] != b'=' && tag[i] != b'/' {
            i += 1;
        }
        if start == i {
            i += 1;
            continue;
        }
        let key = &tag[start..i];
        while i < end && is_space(tag[i]) {
            i += 1;
        }
        let mut value: &[u8] = b"";
        if i < end && tag[i] == b'=' {
            i += 1;
            while i < end && is_space(tag[i]) {
                i += 1;
            }
            if i < end && (tag[i] == b'"' || tag[i] == b'\'') {
                let q = tag[i];
                let vstart = i + 1;
                let vend = tag[vstart..end]
                    .iter()
                    .position(|&b| b == q)
                    .map_or(end, |p| vstart + p);
                value = &tag[vstart..vend];
                i = vend + 1;
            } else {
                let vstart = i;
                while i < end && !is_space(tag[i]) {
                    i += 1;
                }
                value = &tag[vstart..i];
            }
        }
        if key.eq_ignore_ascii_case(name) {
            return Some(value.to_vec());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewrite_chunks(chunks: &[&[u8]]) -> (Vec<u8>, Vec<SlotSeen>) {
        let mut rw = SlotRewriter::new(|slot| match slot {
            "hero" => Some("<b>NEW</b>".to_string()),
            "recs" => Some(String::new()),
            _ => None,
        });
        let mut out = Vec::new();
        for c in chunks {
            rw.write(c, &mut out);
        }
        rw.end(&mut out);
        (out, rw.seen().to_vec())
    }

    fn rewrite(s: &str) -> String {
        String::from_utf8(rewrite_chunks(&[s.as_bytes()]).0).unwrap()
    }

    #[test]
    fn replaces_inner_content_keeps_tags() {
        assert_eq!(
            rewrite(r#"<div data-slotwise-slot="hero" class=x>old <i>x</i></div>!"#),
            r#"<div data-slotwise-slot="hero" class=x><b>NEW</b></div>!"#
        );
    }

    #[test]
    fn nested_same_name_elements_inside_a_slot() {
        assert_eq!(
            rewrite("<div data-slotwise-slot=hero><div><div></div></div>x</div><div>y</div>"),
            "<div data-slotwise-slot=hero><b>NEW</b></div><div>y</div>"
        );
    }

    #[test]
    fn unknown_slots_and_keep_pass_through() {
        let page = "<div data-slotwise-slot='other'>keep</div>";
        assert_eq!(rewrite(page), page);
        let (_, seen) = rewrite_chunks(&[page.as_bytes()]);
        assert_eq!(
            seen,
            vec![SlotSeen {
                name: "other".into(),
                replaced: false
            }]
        );
    }

    #[test]
    fn script_style_comments_never_start_or_end_slots() {
        let page = concat!(
            "<script>var s = '<div data-slotwise-slot=\"hero\">';</script>",
            "<!-- <div data-slotwise-slot=hero> -->",
            "<style>a::after{content:'</div>'}</style>",
            "<div data-slotwise-slot=hero><script>document.write('</div>')</script>old</div>",
            "<textarea></div><div data-slotwise-slot=hero></textarea>end"
        );
        assert_eq!(
            rewrite(page),
            concat!(
                "<script>var s = '<div data-slotwise-slot=\"hero\">';</script>",
                "<!-- <div data-slotwise-slot=hero> -->",
                "<style>a::after{content:'</div>'}</style>",
                "<div data-slotwise-slot=hero><b>NEW</b></div>",
                "<textarea></div><div data-slotwise-slot=hero></textarea>end"
            )
        );
    }

    #[test]
    fn a_quote_inside_an_unquoted_value_opens_nothing() {
        // As the attribute reader (and the HTML tokenizer): `class=a="` is an unquoted
        // value up to the space, so the slot attribute after it counts, at every split
        // point (found by the html fuzz target: the whole-tag path and the byte path
        // used to disagree).
        let page = r#"<p><a href="/" class=braot=";x <div data-slotwise-slot="hero">old</a>!"#;
        let want =
            r#"<p><a href="/" class=braot=";x <div data-slotwise-slot="hero"><b>NEW</b></a>!"#;
        assert_eq!(rewrite(page), want);
        for cut in 0..=page.len() {
            let (a, b) = page.as_bytes().split_at(cut);
            assert_eq!(
                String::from_utf8(rewrite_chunks(&[a, b]).0).unwrap(),
                want,
                "cut {cut}"
            );
        }
        // A quote right after an attribute's `=` (spaces allowed) still opens a value;
        // after a value and a space, `= "` is no value (a second case from the fuzzer).
        let quoted = r#"<a title = "x data-slotwise-slot=hero>" href=y>z</a>"#;
        assert_eq!(rewrite(quoted), quoted);
        let stray = r#"<div class=b = "<x data-slotwise-slot="hero">old</div>!"#;
        let want = r#"<div class=b = "<x data-slotwise-slot="hero"><b>NEW</b></div>!"#;
        for cut in 0..=stray.len() {
            let (a, b) = stray.as_bytes().split_at(cut);
            assert_eq!(
                String::from_utf8(rewrite_chunks(&[a, b]).0).unwrap(),
                want,
                "cut {cut}"
            );
        }
    }

    #[test]
    fn quotes_and_case() {
        assert_eq!(
            rewrite("<DIV title='a>b' DATA-SLOTWISE-SLOT=\"hero\">x</DIV>z"),
            "<DIV title='a>b' DATA-SLOTWISE-SLOT=\"hero\"><b>NEW</b></DIV>z"
        );
    }

    #[test]
    fn optional_end_tag_elements_and_self_closing_pass_through() {
        for page in [
            "<p data-slotwise-slot=hero>x<div>y</div>",
            "<li data-slotwise-slot=hero>x",
            "<div data-slotwise-slot=hero/>after",
            "<img data-slotwise-slot=hero>",
        ] {
            assert_eq!(rewrite(page), page);
        }
    }

    #[test]
    fn malformed_input_is_kept() {
        for page in [
            "a < b and c<d",
            "<div",
            "<!-- never closed",
            "<script>never closed </scr",
            "</>",
            "<!doctype html",
            "<div title=\"unterminated>",
            "<<<>>>",
            "\u{0}\u{ff}<\u{80}",
        ] {
            assert_eq!(rewrite(page), page, "{page:?}");
        }
    }

    /// The fast path for common tags reads every tag it accepts as the attribute
    /// states do: all tags of up to 5 bytes after `<a` / `</a` over the bytes that
    /// matter, and some longer ones.
    #[test]
    fn simple_tags_read_as_any_tag() {
        const BYTES: &[u8] = b"aZ1-sS =\"'>/\t";
        let mut checked = 0;
        let mut tail = Vec::new();
        for len in 0..=5u32 {
            for mut n in 0..BYTES.len().pow(len) {
                tail.clear();
                for _ in 0..len {
                    tail.push(BYTES[n % BYTES.len()]);
                    n /= BYTES.len();
                }
                for head in [&b"<a"[..], b"</a", b"<ab c='d'", b"<p x=\"-s\""] {
                    let tag = [head, &tail].concat();
                    if let Some(fast) = super::simple_tag(&tag) {
                        assert_eq!(
                            Some(fast),
                            super::any_tag(&tag),
                            "{:?}",
                            String::from_utf8_lossy(&tag)
                        );
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 1000, "{checked}");
        for tag in [
            &b"<div class=\"card c3\">"[..],
            b"<a href=\"/p/1\" title='Product 1'>x",
            b"<div data-id=\"7\" aria-label='a>b'>",
            b"<script src=\"x\">",
            b"<TITLE>",
            b"</div>",
            b"<img alt=\"\">",
        ] {
            assert_eq!(super::simple_tag(tag), super::any_tag(tag));
            assert!(
                super::simple_tag(tag).is_some(),
                "{:?}",
                String::from_utf8_lossy(tag)
            );
        }
        for tag in [
            &b"<div data-slotwise-slot=\"x\">"[..],
            b"<div  a=\"b\">",
            b"</div >",
            b"<br/>",
        ] {
            assert_eq!(super::simple_tag(tag), None);
        }
    }

    #[test]
    fn every_split_point_gives_the_same_output() {
        let page = concat!(
            "<!doctype html><title>a</div></title><script>x='</div>'</script>",
            "<div data-slotwise-slot=\"hero\"><div>old</div></div>",
            "<!-- c --><section data-slotwise-slot='recs'>r</section>tail"
        );
        let whole = rewrite_chunks(&[page.as_bytes()]);
        for cut in 0..=page.len() {
            let (a, b) = page.as_bytes().split_at(cut);
            assert_eq!(rewrite_chunks(&[a, b]), whole, "cut at {cut}");
        }
        let bytes: Vec<&[u8]> = page.as_bytes().chunks(1).collect();
        assert_eq!(rewrite_chunks(&bytes), whole);
    }

    /// The bytes after the last marker go out unscanned and are scanned later only
    /// when a chunk may hold a slot: a tag cut at the seam, a marker cut at the
    /// seam, a marker inside raw text or a comment opened in unscanned bytes, and a
    /// slot after a long unscanned stretch — the same output at every cut into two
    /// and three, and what is held back is always the input's unwritten tail.
    #[test]
    fn unscanned_stretches_are_scanned_when_a_slot_may_follow() {
        let page = concat!(
            "<div data-slotwise-slot=hero>a</div><p title='x>y'>text</p><script>var s = '",
            "<div data-slotwise-slot=hero>in script</div>';</script><!-- <div ",
            "data-SlotWise-slot=hero>in comment</div> --><p>more</p>",
            "<section class=c DATA-SLOTWISE-SLOT=\"recs\">old<section>x</section></section>end"
        );
        let want = concat!(
            "<div data-slotwise-slot=hero><b>NEW</b></div><p title='x>y'>text</p><script>var s = '",
            "<div data-slotwise-slot=hero>in script</div>';</script><!-- <div ",
            "data-SlotWise-slot=hero>in comment</div> --><p>more</p>",
            "<section class=c DATA-SLOTWISE-SLOT=\"recs\"></section>end"
        );
        let bytes = page.as_bytes();
        assert_eq!(rewrite(page), want);
        for a in 0..=bytes.len() {
            let (x, rest) = bytes.split_at(a);
            assert_eq!(rewrite_chunks(&[x, rest]).0, want.as_bytes(), "cut at {a}");
            for b in (a..=bytes.len()).step_by(7) {
                let (y, z) = bytes.split_at(b);
                let (_, y) = y.split_at(a);
                assert_eq!(
                    rewrite_chunks(&[x, y, z]).0,
                    want.as_bytes(),
                    "cuts at {a}, {b}"
                );
            }
        }
        // A long stretch without a marker, then a slot.
        let long = format!(
            "<p>{}</p><div data-slotwise-slot=hero>old</div>",
            "x".repeat(MAX_DEFERRED + 10)
        );
        let chunks: Vec<&[u8]> = long.as_bytes().chunks(4096).collect();
        let (out, seen) = rewrite_chunks(&chunks);
        assert!(out.ends_with(b"<div data-slotwise-slot=hero><b>NEW</b></div>"));
        assert_eq!(out.len(), long.len() - 3 + "<b>NEW</b>".len());
        assert_eq!(seen.len(), 1);
        // Byte by byte: what went out plus what is held is what came in, up to the slot.
        let mut rw = SlotRewriter::new(|_| None);
        let mut out = Vec::new();
        for (i, &b) in bytes.iter().enumerate() {
            rw.write(&[b], &mut out);
            let mut whole = out.clone();
            whole.extend_from_slice(&bytes[i + 1 - rw.held()..=i]);
            assert_eq!(whole, &bytes[..=i], "after byte {i}");
        }
        rw.end(&mut out);
        assert_eq!(out, bytes);
    }

    /// Whatever the cut, the output so far plus the held-back bytes (the input's
    /// tail) is the input so far: a caller that gives up mid-page loses nothing.
    #[test]
    fn held_bytes_are_the_unwritten_tail_of_the_input() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/html");
        let mut pages: Vec<Vec<u8>> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| std::fs::read(e.unwrap().path()).unwrap())
            .collect();
        pages.push(b"<script>a</scr</script x><div title='>'".to_vec());
        pages.push(b"<textarea></textare</TEXTAREA\n>z<!-- x --".to_vec());
        for page in &pages {
            let mut rw = SlotRewriter::new(|_| None);
            let mut out = Vec::new();
            for (i, &b) in page.iter().enumerate() {
                rw.write(&[b], &mut out);
                let fed = &page[..=i];
                let mut whole = out.clone();
                whole.extend_from_slice(&fed[fed.len() - rw.held()..]);
                assert_eq!(whole, fed, "after byte {i}");
            }
            rw.end(&mut out);
            assert_eq!(rw.held(), 0);
            assert_eq!(&out, page);
        }
    }

    /// A page with slots, comments and raw text, cut into 2 and 3 chunks at every
    /// pair of points: whenever `write_unchanged` says a chunk came out as it went
    /// in, its output is the chunk less the held tail; and the pages match the
    /// unsplit rewrite.
    #[test]
    fn unchanged_chunks_are_the_input_at_every_split() {
        let page = concat!(
            "<!doctype html><!-- a --><!--><!---><p title='<!--'>x</p>",
            "<script>s='<div data-slotwise-slot=hero>'</script>",
            "<div data-slotwise-slot=\"hero\"><!-- in --><div>old</div></div>",
            "<a href=/x class=a=\"b\">t</a><!-- -- --!><section data-slotwise-slot='recs'>r</section>",
            "<div data-slotwise-slot=other>keep</div>tail"
        )
        .as_bytes();
        let whole = rewrite_chunks(&[page]);
        let run = |chunks: &[&[u8]]| {
            let mut rw =
                SlotRewriter::new(|slot| (slot != "other").then(|| "<b>N</b>".to_string()));
            let mut out = Vec::new();
            for c in chunks {
                let from = out.len();
                if rw.write_unchanged(c, &mut out) {
                    assert_eq!(&out[from..], &c[..c.len() - rw.held()], "{chunks:?}");
                }
            }
            rw.end(&mut out);
            out
        };
        let want = run(&[page]);
        assert_ne!(want, page, "slots were filled");
        assert_eq!(whole.1.len(), 3);
        for a in 0..=page.len() {
            let (x, rest) = page.split_at(a);
            assert_eq!(run(&[x, rest]), want, "cut {a}");
            for b in (0..=rest.len()).step_by(3) {
                let (y, z) = rest.split_at(b);
                assert_eq!(run(&[x, y, z]), want, "cuts {a}, {b}");
            }
        }
    }

    /// Comments found whole in a chunk (the fast path) end where the byte path ends
    /// them, and hide what is inside them, at every split point.
    #[test]
    fn comments_end_the_same_on_both_paths() {
        for comment in [
            "<!---->",
            "<!-->",
            "<!--->",
            "<!-- a -->",
            "<!-- a --!>",
            "<!-- -> --->",
            "<!-- --!-- -->",
            "<!-- > -- > -->",
            "<!--!>",
            "<!-- - -- >-->",
        ] {
            let page = format!(
                "a{comment}<div data-slotwise-slot=hero>old</div><!-- <div data-slotwise-slot=hero> -->z"
            );
            let whole = rewrite(&page);
            assert!(whole.contains("<b>NEW</b>"), "{comment}: {whole}");
            for cut in 0..=page.len() {
                let (a, b) = page.as_bytes().split_at(cut);
                assert_eq!(
                    String::from_utf8(rewrite_chunks(&[a, b]).0).unwrap(),
                    whole,
                    "{comment} cut {cut}"
                );
            }
        }
    }

    #[test]
    fn huge_tags_are_bounded() {
        let mut page = "<div title=\"".to_string();
        page.push_str(&"x".repeat(MAX_TAG_BYTES * 2));
        page.push_str("\">");
        assert_eq!(rewrite(&page), page);
    }
}
