// The live decision feed. The server sends batches (a few a second whatever the decision rate);
// the page renders at most one batch per animation frame, keeps a bounded number of rows, and
// shows exact totals even when the server sampled the rows (counts cover every decision).
import { stream } from './api.js';
import { h, clear, badge, shortID, visible } from './dom.js';

const maxRows = 500;

export async function render(root, ctx) {
  const agent = h('input', { id: 'feed-agent', placeholder: 'agent id', size: 24 });
  const session = h('input', { id: 'feed-session', placeholder: 'passport jti', size: 24 });
  const outcome = h('select', { id: 'feed-outcome' },
    h('option', { value: '' }, 'any outcome'), h('option', { value: 'PERMIT' }, 'PERMIT'),
    h('option', { value: 'DENY' }, 'DENY'), h('option', { value: 'APPROVAL_REQUIRED' }, 'APPROVAL_REQUIRED'));
  const apply = h('button', { type: 'submit', id: 'feed-apply' }, 'Apply filter');
  const pause = h('button', { type: 'button', id: 'feed-pause' }, 'Pause');
  const status = h('span', { id: 'feed-status', class: 'pill idle' }, 'connecting');
  const totals = h('span', { id: 'feed-totals' });
  const lag = h('span', { id: 'feed-lag', class: 'muted' });
  const rows = h('tbody', { id: 'feed-rows' });
  const form = h('form', { class: 'toolbar', id: 'feed-filter' }, agent, session, outcome, apply, pause, status);
  if (ctx.params.get('session')) session.value = ctx.params.get('session');
  root.append(form, h('p', { class: 'small' }, totals, ' ', lag),
    h('table', { id: 'feed-table' }, h('thead', null, h('tr', null, ['Time', 'Agent', 'Passport', 'Tool', 'Decision', 'Reason', 'Budget'].map((t) => h('th', { scope: 'col' }, t)))), rows));

  let counts = { PERMIT: 0, DENY: 0, APPROVAL_REQUIRED: 0 };
  let sampled = 0;
  let queue = [];
  let frame = 0;
  let paused = false;
  let controller = null;
  let stopped = false;
  let retry = null;
  let endedBecause = '';

  function showTotals() {
    totals.textContent = `Since opened: ${counts.PERMIT} permit · ${counts.DENY} deny · ${counts.APPROVAL_REQUIRED} approval required`
      + (sampled ? ` — ${sampled} not shown (the server sampled a burst)` : '');
  }

  function row(d) {
    const name = ctx.agentName(d.agent_id);
    const reason = [d.reason || ''];
    for (const v of d.violations || []) reason.push(h('div', { class: 'violation small' }, `${v.argument}: ${v.constraint} — ${v.detail}`));
    const lagMs = Math.max(0, Date.now() - d.at_ms);
    return h('tr', { class: `decision ${d.decision.toLowerCase()}`, dataset: { decision: d.decision, jti: d.passport_jti, agent: d.agent_id, lag: String(lagMs) } },
      h('td', { class: 'small' }, new Date(d.at_ms).toLocaleTimeString()),
      h('td', null, name ? h('span', { class: 'agent-name' }, name) : null, h('div', { class: 'muted small' }, d.agent_id)),
      h('td', null, h('a', { href: `#/receipts?jti=${encodeURIComponent(d.passport_jti)}`, title: d.passport_jti }, shortID(d.passport_jti, 13))),
      h('td', { class: 'tool' }, d.tool),
      h('td', null, badge(d.decision)),
      h('td', { class: 'reason' }, reason),
      h('td', { class: 'small' }, d.calls_remaining == null ? `${d.calls_used} used` : `${d.calls_used} used · ${d.calls_remaining} left`));
  }

  function draw() {
    frame = 0;
    if (paused || queue.length === 0) return;
    const batch = queue.slice(-maxRows);
    queue = [];
    const fragment = document.createDocumentFragment();
    let newest = 0;
    for (let i = batch.length - 1; i >= 0; i--) { fragment.append(row(batch[i])); newest = Math.max(newest, batch[i].at_ms); }
    rows.prepend(fragment);
    while (rows.childElementCount > maxRows) rows.lastElementChild.remove();
    lag.textContent = `feed lag ${Math.max(0, Date.now() - newest)} ms`;
    showTotals();
  }

  function onEvent(name, data) {
    if (name === 'end') {
      let reason = '';
      try { reason = JSON.parse(data).reason || ''; } catch (_) { /* no reason given */ }
      endedBecause = reason || 'ended by the server';
      return;
    }
    if (name !== 'decisions') return;
    const batch = JSON.parse(data);
    for (const key of Object.keys(counts)) counts[key] += batch.counts[key] || 0;
    sampled += batch.dropped;
    queue.push(...batch.decisions);
    if (queue.length > maxRows) { sampled += queue.length - maxRows; queue = queue.slice(-maxRows); }
    if (!frame) frame = requestAnimationFrame(draw);
  }

  async function connect() {
    if (controller) controller.abort();
    controller = new AbortController();
    const query = new URLSearchParams();
    if (agent.value.trim()) query.set('agent', agent.value.trim());
    if (session.value.trim()) query.set('session', session.value.trim());
    if (outcome.value) query.set('outcome', outcome.value);
    status.textContent = 'connecting';
    status.className = 'pill idle';
    root.dataset.feed = 'connecting';
    const signal = controller.signal;
    try {
      await stream(`/api/v1/console/decisions?${query}`, onEvent, signal, () => {
        // Subscribed on the server before it answered: nothing decided from now on is missed.
        status.textContent = 'live';
        status.className = 'pill permit';
        root.dataset.feed = 'live';
      });
      root.dataset.feed = 'closed';
      if (!signal.aborted && !stopped) {
        // The server ended the stream (shutting down, or the credential stopped being valid):
        // reconnect; a credential that no longer works then signs the console out.
        status.textContent = visible(`reconnecting (${endedBecause || 'stream closed'})`);
        status.className = 'pill idle';
        endedBecause = '';
        retry = setTimeout(connect, 2000);
      }
    } catch (error) {
      if (signal.aborted || stopped) return;
      status.textContent = visible(`disconnected: ${error.message || error}`);
      status.className = 'pill deny';
      if (error.status !== 401 && error.status !== 403) retry = setTimeout(connect, 2000);
    }
  }

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    clear(rows);
    queue = [];
    counts = { PERMIT: 0, DENY: 0, APPROVAL_REQUIRED: 0 };
    sampled = 0;
    showTotals();
    connect();
  });
  pause.addEventListener('click', () => {
    paused = !paused;
    pause.textContent = paused ? 'Resume' : 'Pause';
    if (!paused && !frame) frame = requestAnimationFrame(draw);
  });
  showTotals();
  connect();
  return () => {
    stopped = true;
    clearTimeout(retry);
    if (frame) cancelAnimationFrame(frame);
    if (controller) controller.abort();
  };
}
