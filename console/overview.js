// Counts, the decision rate over the last five minutes, and the signing key's age.
import { get } from './api.js';
import { h, clear, ago, time } from './dom.js';

function card(title, value, detail, id) {
  return h('div', { class: 'card stat', id }, h('h2', null, title), h('p', { class: 'value' }, value), detail ? h('p', { class: 'muted' }, detail) : null);
}

function drawChart(canvas, series) {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || 600;
  const height = canvas.clientHeight || 160;
  canvas.width = width * ratio;
  canvas.height = height * ratio;
  const g = canvas.getContext('2d');
  g.scale(ratio, ratio);
  g.clearRect(0, 0, width, height);
  const max = Math.max(1, ...series);
  const bar = width / series.length;
  g.fillStyle = getComputedStyle(canvas).color || '#3b82f6';
  series.forEach((value, i) => {
    const barHeight = (value / max) * (height - 18);
    g.fillRect(i * bar, height - barHeight, Math.max(1, bar - 0.5), barHeight);
  });
  g.fillStyle = '#888';
  g.font = '11px system-ui, sans-serif';
  g.fillText(`peak ${max}/s`, 4, 12);
}

export async function render(root, ctx) {
  const body = h('div', { id: 'overview-body' });
  const chart = h('canvas', { id: 'rate-chart', class: 'chart', role: 'img', 'aria-label': 'Decisions per second, last five minutes' });
  root.append(body, h('div', { class: 'card' }, h('h2', null, 'Decisions per second — last 5 minutes'), chart));
  async function refresh() {
    const o = await get('/api/v1/console/overview');
    clear(body);
    const hour = o.decisions_last_hour;
    const grid = h('div', { class: 'grid' },
      o.agents == null ? null : card('Agents', `${o.agents_active} active`, `${o.agents} registered`, 'stat-agents'),
      o.sessions_active == null ? null : card('Active sessions', String(o.sessions_active), 'running now', 'stat-sessions'),
      hour == null ? null : card('Decisions, last hour', String((hour.PERMIT || 0) + (hour.DENY || 0) + (hour.APPROVAL_REQUIRED || 0)),
        `${hour.PERMIT || 0} permit · ${hour.DENY || 0} deny · ${hour.APPROVAL_REQUIRED || 0} approval`, 'stat-decisions'),
      o.signing_key == null ? null : card('Signing key', `${ago(o.signing_key.age_seconds)} old`,
        `kid ${o.signing_key.kid} · rotate by ${time(o.signing_key.rotate_by)} (tessera key rotate)`, 'stat-key'));
    body.append(grid, h('p', { class: 'muted' }, `Signed in as ${o.username} in workspace ${o.workspace}; server time ${time(o.server_time)}.`));
    if (o.decisions_per_second) drawChart(chart, o.decisions_per_second);
    else chart.replaceWith(h('p', { class: 'muted' }, 'Decision rates need receipts:read.'));
  }
  await refresh();
  const timer = setInterval(() => refresh().catch((e) => ctx.notify(String(e.message || e), 'error')), 2000);
  return () => clearInterval(timer);
}
