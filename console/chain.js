// Receipt-chain verification in the browser, independent of the server's own check: each
// receipt's Ed25519 signature with WebCrypto against the published JWKS, its `typ`, `seq`
// continuity from 0, one session and grant throughout, and every `prev` link (hex SHA-256 of
// the previous receipt's compact JWS). Every receipt is checked and flagged, not only the first
// broken one, so an operator sees exactly which entries were altered.

const encoder = new TextEncoder();

export function base64url(text) {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) throw new Error('not base64url');
  const padded = text.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (text.length % 4)) % 4);
  const binary = atob(padded);
  return Uint8Array.from(binary, (c) => c.charCodeAt(0));
}

export function decodeJSON(segment) {
  return JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(base64url(segment)));
}

async function sha256Hex(text) {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', encoder.encode(text)));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

// Parses NDJSON lines of {"jwt": "..."} (what GET /receipts and the download give).
export function parseNDJSON(text) {
  const jwts = [];
  text.split('\n').forEach((line, index) => {
    if (!line.trim()) return;
    let entry;
    try { entry = JSON.parse(line); } catch (_) { throw new Error(`line ${index + 1}: not JSON`); }
    if (!entry || typeof entry.jwt !== 'string') throw new Error(`line ${index + 1}: no "jwt" string`);
    jwts.push(entry.jwt);
  });
  return jwts;
}

export function decodeReceipt(jwt) {
  const parts = jwt.split('.');
  if (parts.length !== 3) return { header: null, claims: null };
  try { return { header: decodeJSON(parts[0]), claims: decodeJSON(parts[1]) }; } catch (_) { return { header: null, claims: null }; }
}

export async function verifyChain(jwts, jwks) {
  const keys = new Map();
  for (const jwk of (jwks && jwks.keys) || []) {
    if (jwk.kty !== 'OKP' || jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string' || !jwk.kid) continue;
    try {
      keys.set(jwk.kid, await crypto.subtle.importKey('jwk', { kty: 'OKP', crv: 'Ed25519', x: jwk.x }, { name: 'Ed25519' }, false, ['verify']));
    } catch (_) { /* a key this browser cannot use verifies nothing */ }
  }
  const results = [];
  let previousHash = '';
  let session = null;
  for (let index = 0; index < jwts.length; index++) {
    const jwt = jwts[index];
    const problems = [];
    const parts = jwt.split('.');
    const { header, claims } = decodeReceipt(jwt);
    if (parts.length !== 3 || !header || !claims) {
      problems.push('not a compact JWS');
    } else {
      if (header.alg !== 'EdDSA') problems.push(`alg is ${header.alg}, expected EdDSA`);
      if (header.typ !== 'tessera-receipt+jwt') problems.push(`typ is ${header.typ}, expected tessera-receipt+jwt`);
      const key = keys.get(header.kid);
      if (!key) {
        problems.push(`no published key ${header.kid}`);
      } else {
        let valid = false;
        try { valid = await crypto.subtle.verify({ name: 'Ed25519' }, key, base64url(parts[2]), encoder.encode(`${parts[0]}.${parts[1]}`)); } catch (_) { valid = false; }
        if (!valid) problems.push('signature does not verify');
      }
      if (claims.seq !== index) problems.push(`seq is ${claims.seq}, expected ${index}`);
      if (claims.prev !== previousHash) problems.push('prev does not match the previous receipt');
      if (session && (claims.session_id !== session.id || claims.grant_id !== session.grant)) problems.push('belongs to another session');
      if (!session) session = { id: claims.session_id, grant: claims.grant_id };
    }
    results.push({ index, ok: problems.length === 0, problems, claims, kid: header && header.kid });
    previousHash = await sha256Hex(jwt);
  }
  return { ok: jwts.length > 0 && results.every((r) => r.ok), count: jwts.length, results };
}
