// Live sessions as a delegation tree: budget gauge (used, reserved for children, max), time
// left, state; revoke a passport (its children die with it).
import { get, post } from './api.js';
import { h, clear, table, actionButton, badge, ago, shortID } from './dom.js';

function gauge(s) {
  if (s.max_tool_calls == null) return h('span', { class: 'muted' }, `${s.calls_used} used · unlimited`);
  const max = Math.max(1, s.max_tool_calls);
  const used = Math.min(100, (s.calls_used / max) * 100);
  const reserved = Math.min(100 - used, (s.reserved_for_children / max) * 100);
  return h('div', { class: 'gauge-cell' },
    h('div', { class: 'gauge', role: 'meter', 'aria-valuemin': 0, 'aria-valuemax': s.max_tool_calls, 'aria-valuenow': s.calls_used, title: `${s.calls_used} used, ${s.reserved_for_children} reserved for children, of ${s.max_tool_calls}` },
      h('span', { class: 'used', style: null, dataset: { width: used.toFixed(1) } }),
      h('span', { class: 'reserved', dataset: { width: reserved.toFixed(1) } })),
    h('span', { class: 'small' }, `${s.calls_used} / ${s.max_tool_calls}`, s.reserved_for_children ? ` (+${s.reserved_for_children} reserved)` : ''));
}

// Widths through the CSSOM, not a style attribute: the page's CSP allows no inline styles.
function sizeGauges(container) {
  for (const bar of container.querySelectorAll('.gauge span[data-width]')) bar.style.width = `${bar.dataset.width}%`;
}

function order(sessions) {
  const byJTI = new Map(sessions.map((s) => [s.passport_jti, s]));
  const children = new Map();
  const roots = [];
  for (const s of sessions) {
    if (s.parent_jti && byJTI.has(s.parent_jti)) {
      if (!children.has(s.parent_jti)) children.set(s.parent_jti, []);
      children.get(s.parent_jti).push(s);
    } else roots.push(s);
  }
  const out = [];
  const walk = (s, depth) => {
    out.push([s, depth]);
    for (const child of children.get(s.passport_jti) || []) walk(child, depth + 1);
  };
  roots.forEach((s) => walk(s, 0));
  return out;
}

export async function render(root, ctx) {
  const activeOnly = h('input', { type: 'checkbox', id: 'sessions-active-only' });
  const list = h('div', { id: 'sessions-list' });
  const canRevoke = ctx.can('passports:revoke');
  root.append(h('p', { class: 'toolbar' }, h('label', { class: 'inline' }, activeOnly, ' Only active sessions')), list);

  async function refresh() {
    const { sessions } = await get('/api/v1/console/sessions');
    const now = Date.now();
    const shown = !activeOnly.checked ? sessions : sessions.filter((s) => s.state === 'active' || sessions.some((c) => c.parent_jti === s.passport_jti && c.state === 'active'));
    clear(list);
    if (shown.length === 0) { list.append(h('p', { class: 'muted' }, activeOnly.checked ? 'No active sessions.' : 'No sessions in this workspace.')); return; }
    list.append(table(['Passport', 'Agent', 'Mission', 'State', 'Budget', 'Time left', 'Decisions', ''], order(shown).map(([s, depth]) => {
      const name = ctx.agentName(s.agent_id);
      const left = s.expires ? (new Date(s.expires).getTime() - now) / 1000 : null;
      return h('tr', { class: `depth-${Math.min(depth, 6)}`, dataset: { jti: s.passport_jti, state: s.state } },
        h('td', { class: 'tree' }, depth ? h('span', { class: 'branch', 'aria-hidden': 'true' }, '└ ') : null, h('code', { title: s.passport_jti }, shortID(s.passport_jti, 13))),
        h('td', null, name ? h('span', { class: 'agent-name' }, name) : null, h('div', { class: 'muted small' }, s.agent_id)),
        h('td', { class: 'mission' }, s.mission),
        h('td', null, badge(s.state)),
        h('td', null, gauge(s)),
        h('td', null, s.state !== 'active' ? '—' : left == null ? 'no limit' : ago(left)),
        h('td', { class: 'small' }, `${s.permits} permit · ${s.denies} deny`, h('br'), h('a', { href: `#/receipts?jti=${encodeURIComponent(s.passport_jti)}` }, `${s.receipts} receipts`)),
        h('td', { class: 'actions' }, canRevoke && s.state === 'active' ? actionButton('Revoke', async () => {
          await post('/revoke', { jti: s.passport_jti });
          ctx.notify(`Passport ${shortID(s.passport_jti, 13)} revoked (and every passport delegated from it).`);
          await refresh();
        }, { class: 'danger revoke' }) : null));
    }), { id: 'sessions-table' }));
    sizeGauges(list);
  }

  activeOnly.addEventListener('change', () => refresh().catch((e) => ctx.notify(String(e.message || e), 'error')));
  await refresh();
  const timer = setInterval(() => refresh().catch((e) => ctx.notify(String(e.message || e), 'error')), 3000);
  return () => clearInterval(timer);
}
