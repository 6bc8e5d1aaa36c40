// Registered agents with their latest badge; register (public JWK), disable, revoke a badge.
import { get, post } from './api.js';
import { h, clear, table, actionButton, badge, time, shortID, visible } from './dom.js';

export async function render(root, ctx) {
  const list = h('div', { id: 'agents-list' });
  const canWrite = ctx.can('agents:write');
  const canRevoke = ctx.can('badges:revoke');

  async function refresh() {
    const { agents } = await get('/api/v1/console/agents');
    await ctx.refreshAgents();
    clear(list);
    if (agents.length === 0) { list.append(h('p', { class: 'muted' }, 'No agents registered in this workspace yet.')); return; }
    list.append(table(['Name', 'Agent', 'Status', 'Latest badge', 'Actions'], agents.map((a) => {
      const b = a.last_badge;
      const expired = b && new Date(b.expires) < new Date();
      return h('tr', { dataset: { agent: a.id } },
        h('td', { class: 'agent-name' }, a.name),
        h('td', null, h('code', { title: a.did }, a.id), h('div', { class: 'muted small' }, shortID(a.did, 32))),
        h('td', null, badge(a.status)),
        h('td', null, b ? [badge(`IAL-${b.ial}`, 'ial'), ' ', b.revoked ? badge('revoked') : expired ? badge('expired') : `expires ${time(b.expires)}`] : h('span', { class: 'muted' }, 'none issued')),
        h('td', { class: 'actions' },
          canWrite && a.status === 'active' ? actionButton('Disable', async () => {
            await post(`/v1/agents/${encodeURIComponent(a.id)}/disable`, { reason: 'disabled from the console' });
            ctx.notify(`Agent ${a.name} disabled.`);
            await refresh();
          }, { class: 'danger disable' }) : null,
          canRevoke && b && !b.revoked && !expired ? actionButton('Revoke badge', async () => {
            await post(`/v1/badges/${encodeURIComponent(b.jti)}/revoke`, { reason: 'revoked from the console' });
            ctx.notify('Badge revoked.');
            await refresh();
          }, { class: 'danger revoke-badge' }) : null));
    }), { id: 'agents-table' }));
  }

  if (canWrite) root.append(registerForm(ctx, refresh));
  root.append(list);
  await refresh();
  return null;
}

function registerForm(ctx, refresh) {
  const name = h('input', { id: 'agent-name', required: true, maxlength: 128 });
  const domain = h('input', { id: 'agent-domain', placeholder: 'optional' });
  const jwk = h('textarea', { id: 'agent-jwk', rows: 3, required: true, placeholder: '{"kty":"OKP","crv":"Ed25519","x":"…"}' });
  const file = h('input', { id: 'agent-jwk-file', type: 'file', accept: '.jwk,.json,application/json' });
  file.addEventListener('change', async () => { if (file.files[0]) jwk.value = (await file.files[0].text()).trim(); });
  const error = h('p', { class: 'error', role: 'alert' });
  const submit = h('button', { type: 'submit', id: 'agent-register' }, 'Register agent');
  const form = h('form', { class: 'card', id: 'agent-form' },
    h('h2', null, 'Register an agent'),
    h('div', { class: 'row' }, h('label', null, 'Name', name), h('label', null, 'Domain', domain)),
    h('label', null, 'Public key (JWK, Ed25519; paste or choose a file)', jwk, file),
    error, submit);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.textContent = '';
    let key;
    try { key = JSON.parse(jwk.value); } catch (_) { error.textContent = 'public_jwk: not JSON'; return; }
    if (!key || typeof key !== 'object' || Array.isArray(key)) { error.textContent = 'public_jwk: must be a JWK object'; return; }
    if ('d' in key) { error.textContent = 'public_jwk: this is a private key (it has "d"); paste the public half only'; return; }
    const body = { name: name.value, public_jwk: key };
    if (domain.value.trim()) body.domain = domain.value.trim();
    submit.disabled = true;
    try {
      const agent = await post('/v1/agents', body);
      ctx.notify(`Registered ${agent.name} (${agent.id}).`);
      form.reset();
      await refresh();
    } catch (e) {
      error.textContent = visible(e.message || e);
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}
