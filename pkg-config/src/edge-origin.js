// Real-world origin responses: what the edge handler may rewrite, and how a response
// it does not rewrite is passed on intact.
//
// - Compression: fetch (the Fetch standard: workerd, Node, Deno) hands the body over
//   decoded (Node: gzip, deflate, br; workerd: gzip, br) but keeps `Content-Encoding`
//   and the compressed `Content-Length`. A response built from that body with those
//   headers is a broken page (a client would gunzip plain HTML), so `normalize` makes
//   every origin response's headers match its body first, checking gzip / deflate
//   magic bytes; a page the runtime left compressed is decompressed in the stream
//   (DecompressionStream) before it is filled. Compressed bytes are never rewritten;
//   the runtime or CDN compresses the answer again as for any response.
// - Charset: the rewriter writes UTF-8. A page declared in another charset (the
//   `Content-Type` header's `charset`, else a `<meta charset>` / `http-equiv` in its
//   first 1024 bytes, the HTML prescan's window) is passed through with
//   `reason=charset`: never mojibake. A page that declares nothing is treated as UTF-8.
// - Methods, statuses, types: only a `GET` answered `200` with `text/html` is
//   rewritten; `HEAD`, range requests (`206`), `304`, redirects (fetched with
//   `redirect: 'manual'`, so they reach the browser as they are), errors and other
//   content types (PDF, images, JSON) pass through.

/** Codings the Fetch standard's runtimes decode; of these, only br has no magic. */
const DECODED_BY_FETCH = new Set(['gzip', 'x-gzip', 'deflate', 'br']);

/** Labels of UTF-8 (WHATWG Encoding): the rewriter writes UTF-8. */
const UTF8_LABELS = new Set(['utf-8', 'utf8', 'unicode-1-1-utf-8', 'unicode11utf8', 'unicode20utf8', 'x-unicode20utf8']);

/** The HTML prescan's window: a `<meta charset>` must be in the first 1024 bytes. */
export const PRESCAN_BYTES = 1024;

/** The response's `Content-Encoding`, lower-cased (`identity` when absent). */
export function contentEncoding(response) {
  return (response.headers.get('content-encoding') ?? 'identity').trim().toLowerCase();
}

/** `response` on `body`, without the coding's headers when `decoded`. */
function rebuild(response, body, decoded) {
  const headers = new Headers(response.headers);
  if (decoded) {
    headers.delete('content-encoding');
    headers.delete('content-length');
  }
  return new Response(body, { status: response.status, statusText: response.statusText, headers });
}

/**
 * The origin's response with headers that match the body fetch gave: fetch decodes
 * gzip, deflate and br (workerd: gzip and br only) but keeps `Content-Encoding` and
 * the compressed `Content-Length`. A gzip / deflate body is checked (its first two
 * bytes): decoded, the two headers go; still compressed, they stay. A br body is
 * always decoded. Other codings, and responses without a body (HEAD, 304), are left
 * as they are.
 */
export async function normalize(response) {
  const encoding = contentEncoding(response);
  if (encoding === 'identity' || !response.body || !DECODED_BY_FETCH.has(encoding)) return response;
  if (encoding === 'br') return rebuild(response, response.body, true);
  const { head, body } = await peek(response.body, 2);
  return rebuild(response, body, !stillCompressed(encoding, head));
}

/** Why a (normalized) response is passed through before its body is read, or null. */
export function notRewritable(request, response) {
  if (request.method !== 'GET') return 'method';
  if (response.status !== 200) return 'status';
  if (!response.body) return 'no_body';
  const type = (response.headers.get('content-type') ?? '').toLowerCase();
  if (!type.startsWith('text/html')) return 'content_type';
  const encoding = contentEncoding(response);
  if (encoding !== 'identity' && !(GUNZIP[encoding] && typeof DecompressionStream === 'function')) return 'content_encoding';
  const charset = charsetParam(type);
  if (charset && !UTF8_LABELS.has(charset)) return 'charset';
  return null;
}

/** DecompressionStream formats of the codings a runtime may leave compressed. */
const GUNZIP = { gzip: 'gzip', 'x-gzip': 'gzip', deflate: 'deflate' };

/** The `charset` parameter of a Content-Type (lower-cased, unquoted), or null. */
export function charsetParam(type) {
  const m = /;\s*charset\s*=\s*("?)([^";\s]+)\1/i.exec(type ?? '');
  return m ? m[2].toLowerCase() : null;
}

/**
 * The charset a page declares in its first bytes (`<meta charset=...>` or
 * `<meta http-equiv="Content-Type" content="...; charset=...">`), lower-cased, or
 * null. A simplified prescan: the bytes are read as Latin-1, so any ASCII-compatible
 * page is scanned correctly.
 */
export function sniffCharset(head) {
  let text = '';
  for (let i = 0; i < head.length && i < PRESCAN_BYTES; i++) text += String.fromCharCode(head[i]);
  text = text.replace(/<!--[\s\S]*?-->/g, '');
  const metas = text.match(/<meta\b[^>]*>/gi) ?? [];
  for (const meta of metas) {
    const direct = /\bcharset\s*=\s*["']?\s*([^"'\s/>;]+)/i.exec(meta);
    if (direct) return direct[1].toLowerCase();
  }
  return null;
}

/** A zlib (RFC 1950) or gzip header: bytes the runtime left compressed. */
function stillCompressed(encoding, head) {
  if (head.length < 2) return false;
  if (encoding === 'gzip' || encoding === 'x-gzip') return head[0] === 0x1f && head[1] === 0x8b;
  if (encoding === 'deflate') return (head[0] & 0x0f) === 8 && ((head[0] << 8) | head[1]) % 31 === 0;
  return false;
}

/**
 * A (normalized) page the handler could fill, made ready for the rewriter: its body
 * decompressed here when the runtime left it compressed, and the charset it
 * declares in a `<meta>` when its Content-Type names none (the first 1024 bytes
 * read ahead). Resolves to `{ response, metaCharset }`; nothing of the body is lost.
 */
export async function prepare(response) {
  const encoding = contentEncoding(response);
  if (encoding !== 'identity') {
    response = rebuild(response, response.body.pipeThrough(new DecompressionStream(GUNZIP[encoding])), true);
  }
  if (charsetParam(response.headers.get('content-type'))) return { response, metaCharset: null };
  const { head, body } = await peek(response.body);
  return { response: rebuild(response, body, false), metaCharset: sniffCharset(head) };
}

/** True when a sniffed or declared charset label lets the rewriter write UTF-8. */
export function isUtf8(label) {
  return label == null || UTF8_LABELS.has(label);
}

/**
 * Reads `body` until `n` bytes (or its end) have arrived. Resolves to `{ head, body }`:
 * the bytes read, and a stream of the whole body again (those bytes, then the rest
 * as it comes) — nothing lost or reordered.
 */
export async function peek(body, n = PRESCAN_BYTES) {
  const reader = body.getReader();
  const chunks = [];
  let size = 0;
  let done = false;
  while (size < n) {
    const r = await reader.read();
    if (r.done) {
      done = true;
      break;
    }
    chunks.push(r.value);
    size += r.value.length;
  }
  const head = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    head.set(c, at);
    at += c.length;
  }
  let sentHead = false;
  const whole = new ReadableStream({
    async pull(controller) {
      if (!sentHead) {
        sentHead = true;
        if (head.length) controller.enqueue(head);
        if (done) controller.close();
        return;
      }
      const r = await reader.read();
      if (r.done) controller.close();
      else controller.enqueue(r.value);
    },
    cancel: (why) => reader.cancel(why),
  });
  return { head, body: whole };
}
