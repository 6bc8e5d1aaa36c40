// Users, workspaces and API keys through the IAM API (POST /api/v1/iam), with the signed-in
// identity's own permissions: a part it may not read says so instead of failing the page.
import { iam } from './api.js';
import { h, clear, table, actionButton, badge, time } from './dom.js';

async function section(root, title, id, load) {
  const body = h('div', { id });
  root.append(h('section', { class: 'card' }, h('h2', null, title), body));
  try {
    await load(body);
  } catch (e) {
    body.append(h('p', { class: 'muted' }, e.status === 403 ? 'Not permitted for your role.' : String(e.message || e)));
  }
  return body;
}

export async function render(root, ctx) {
  await section(root, 'Users', 'iam-users', async (body) => {
    const { users } = await iam({ operation: 'list-users', workspace: ctx.me.workspace });
    body.append(table(['Username', 'Name', 'Roles', 'Workspace', 'Status'], (users || []).map((u) => h('tr', null,
      h('td', null, u.username), h('td', null, u.name), h('td', null, u.roles.join(', ')), h('td', null, u.default_workspace),
      h('td', null, badge(u.enabled ? 'enabled' : 'disabled', u.enabled ? 'active' : 'disabled'))))));
  });
  await section(root, 'Workspaces', 'iam-workspaces', async (body) => {
    const { workspaces } = await iam({ operation: 'list-my-workspaces' });
    body.append(table(['Id', 'Name', 'Status', 'Created'], (workspaces || []).map((w) => h('tr', null,
      h('td', null, h('code', null, w.id)), h('td', null, w.name), h('td', null, badge(w.enabled ? 'enabled' : 'disabled', w.enabled ? 'active' : 'disabled')), h('td', null, time(w.created))))));
  });
  const keys = await section(root, 'My API keys', 'iam-keys', async (body) => { await drawKeys(body, ctx); });
  return () => clear(keys);
}

async function drawKeys(body, ctx) {
  clear(body);
  const secret = h('div', { id: 'api-key-secret' });
  const name = h('input', { id: 'api-key-name', required: true, maxlength: 128, placeholder: 'name' });
  const expires = h('input', { id: 'api-key-expires', type: 'date' });
  const create = h('button', { type: 'submit', id: 'api-key-create' }, 'Create API key');
  const form = h('form', { class: 'toolbar', id: 'api-key-form' }, name, h('label', { class: 'inline' }, 'expires ', expires), create);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    create.disabled = true;
    try {
      const key = { name: name.value };
      if (expires.value) key.expires = expires.value;
      const answer = await iam({ operation: 'create-api-key', key });
      form.reset();
      await drawKeys(body, ctx);
      const shown = body.querySelector('#api-key-secret');
      // Shown once: the server keeps only a hash. Dismissing removes it from the page.
      shown.append(h('div', { class: 'secret card' },
        h('p', null, 'Copy this key now. It will not be shown again.'),
        h('code', { id: 'api-key-plaintext' }, answer.api_key_plaintext),
        h('p', null, h('button', { type: 'button', onclick: () => clear(shown) }, 'I have copied it'))));
    } catch (e) {
      ctx.notify(String(e.message || e), 'error');
    } finally {
      create.disabled = false;
    }
  });
  const { api_keys: list } = await iam({ operation: 'list-api-keys' });
  body.append(form, secret, table(['Name', 'Prefix', 'Created', 'Expires', 'Last used', ''], (list || []).map((k) => h('tr', null,
    h('td', null, k.name), h('td', null, h('code', null, k.prefix)), h('td', null, time(k.created)), h('td', null, k.expires ? time(k.expires) : 'never'),
    h('td', null, k.last_used ? time(k.last_used) : 'never'),
    h('td', null, actionButton('Revoke', async () => {
      await iam({ operation: 'revoke-api-key', key_id: k.id });
      ctx.notify(`API key ${k.name} revoked.`);
      await drawKeys(body, ctx);
    }))))));
}
