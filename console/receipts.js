// A session's receipt chain: decoded, verified here in the browser (chain.js), downloadable as
// NDJSON; or any NDJSON file of receipts checked offline the same way.
import { get } from './api.js';
import { h, clear, table, badge, visible } from './dom.js';
import { parseNDJSON, decodeReceipt, verifyChain } from './chain.js';

export async function render(root, ctx) {
  const jti = h('input', { id: 'receipts-jti', placeholder: 'passport jti', size: 40, value: ctx.params.get('jti') || '' });
  const load = h('button', { type: 'submit', id: 'receipts-load' }, 'Load');
  const verify = h('button', { type: 'button', id: 'receipts-verify', disabled: true }, 'Verify chain');
  const download = h('button', { type: 'button', id: 'receipts-download', disabled: true }, 'Download NDJSON');
  const file = h('input', { type: 'file', id: 'receipts-file', accept: '.ndjson,.jsonl,.json,application/x-ndjson' });
  const result = h('p', { id: 'chain-result', class: 'chain-result', role: 'status' });
  const list = h('div', { id: 'receipts-list' });
  const form = h('form', { class: 'toolbar', id: 'receipts-form' }, jti, load, verify, download);
  root.append(form, h('p', { class: 'toolbar' }, h('label', { class: 'inline' }, 'Or verify a downloaded file: ', file)), result, list);

  let current = { jwts: [], text: '', name: '' };

  function show(jwts, text, name) {
    current = { jwts, text, name };
    result.textContent = '';
    delete result.dataset.state;
    verify.disabled = download.disabled = jwts.length === 0;
    clear(list);
    if (jwts.length === 0) { list.append(h('p', { class: 'muted' }, 'No receipts.')); return; }
    list.append(table(['#', 'Time', 'Tool', 'Decision', 'Reason', 'prev', 'Check'], jwts.map((jwt, index) => {
      const { claims } = decodeReceipt(jwt);
      const c = claims || {};
      return h('tr', { dataset: { index: String(index) } },
        h('td', null, String(c.seq ?? '?')),
        h('td', { class: 'small' }, c.iat ? new Date(c.iat * 1000).toLocaleString() : ''),
        h('td', { class: 'tool' }, c.tool ?? ''),
        h('td', null, c.decision ? badge(String(c.decision)) : ''),
        h('td', { class: 'reason' }, c.reason ?? '', (c.violations || []).map((v) => h('div', { class: 'small violation' }, `${v.argument}: ${v.constraint}`))),
        h('td', null, h('code', { class: 'small', title: c.prev || '' }, c.prev ? `${String(c.prev).slice(0, 12)}…` : '(first)')),
        h('td', { class: 'check' }, '—'));
    }), { id: 'receipts-table' }));
  }

  async function loadSession() {
    const value = jti.value.trim();
    if (!value) return;
    const text = await get(`/receipts?jti=${encodeURIComponent(value)}`, { text: true });
    show(parseNDJSON(text), text, `receipts-${value}.ndjson`);
  }

  async function runVerify() {
    result.textContent = 'Verifying…';
    const jwks = await get('/.well-known/jwks.json');
    const report = await verifyChain(current.jwts, jwks);
    for (const r of report.results) {
      const cell = list.querySelector(`tr[data-index="${r.index}"] td.check`);
      if (!cell) continue;
      clear(cell);
      cell.closest('tr').dataset.verified = r.ok ? 'valid' : 'invalid';
      cell.append(r.ok ? badge('valid', 'permit') : h('span', null, badge('invalid', 'deny'), r.problems.map((p) => h('div', { class: 'small' }, p))));
    }
    const bad = report.results.filter((r) => !r.ok);
    result.dataset.state = report.ok ? 'valid' : 'invalid';
    result.className = `chain-result ${report.ok ? 'valid' : 'invalid'}`;
    result.textContent = visible(report.ok
      ? `Chain intact: ${report.count} receipts, every signature verified in this browser (WebCrypto Ed25519) against the published keys.`
      : `Chain BROKEN: ${bad.length} of ${report.count} receipts fail (first at #${bad[0].index}: ${bad[0].problems.join('; ')}).`);
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    ctx.go(`#/receipts?jti=${encodeURIComponent(jti.value.trim())}`);
  });
  verify.addEventListener('click', () => runVerify().catch((e) => { result.textContent = visible(e.message || e); }));
  download.addEventListener('click', () => {
    const url = URL.createObjectURL(new Blob([current.text], { type: 'application/x-ndjson' }));
    const a = h('a', { href: url, download: current.name || 'receipts.ndjson', hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  });
  file.addEventListener('change', async () => {
    const chosen = file.files[0];
    if (!chosen) return;
    try {
      const text = await chosen.text();
      show(parseNDJSON(text), text, chosen.name);
      await runVerify();
    } catch (e) {
      result.textContent = visible(`${chosen.name}: ${e.message || e}`);
      result.dataset.state = 'invalid';
    }
  });
  if (jti.value) await loadSession();
  return null;
}
