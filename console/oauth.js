// OAuth: the mission templates offered as scopes (create, delete), the grants people made
// (revoke), and — for administrators — the registered OAuth clients (delete).
import { get, post, call, parseExact } from './api.js';
import { h, clear, table, actionButton, badge, time, visible } from './dom.js';

const del = (path) => call('DELETE', path);

function toolsOf(mission) {
  const plain = (mission.allowed_tools || []).map((t) => h('div', null, h('code', null, t), ' any arguments'));
  const constrained = Object.entries(mission.tools || {}).map(([t, entry]) => h('div', null, h('code', null, t), ' when ', h('code', { class: 'small' }, JSON.stringify(entry))));
  return [...plain, ...constrained];
}

export async function render(root, ctx) {
  const templates = h('div', { id: 'oauth-templates' });
  const grants = h('div', { id: 'oauth-grants' });
  const clients = h('div', { id: 'oauth-clients' });
  const canRead = ctx.can('oauth:read');
  const canWrite = ctx.can('oauth:write');

  async function refreshTemplates() {
    clear(templates);
    templates.append(h('h2', null, 'Mission templates (scopes)'));
    if (!canRead) { templates.append(h('p', { class: 'muted' }, 'Your role does not include oauth:read.')); return; }
    const answer = await get('/mission-templates');
    if (answer.templates.length === 0) { templates.append(h('p', { class: 'muted' }, 'No mission templates yet: OAuth clients can be granted nothing.')); return; }
    templates.append(table(['Scope', 'Offered on', 'Tools', 'Budget', 'Token lifetime', ''], answer.templates.map((t) => h('tr', { dataset: { template: t.name } },
      h('td', null, h('code', null, t.name), t.description ? h('div', { class: 'muted small' }, t.description) : null),
      h('td', null, (t.resources || ['every gateway resource']).join(', ')),
      h('td', null, toolsOf(t.mission)),
      h('td', null, t.mission.max_tool_calls == null ? 'unlimited' : `${t.mission.max_tool_calls} calls`),
      h('td', null, `${t.ttl_s} s`),
      h('td', { class: 'actions' }, canWrite ? actionButton('Delete', async () => {
        await del(`/mission-templates/${encodeURIComponent(t.name)}`);
        ctx.notify(`Template ${t.name} deleted.`);
        await refreshTemplates();
      }, { class: 'danger delete-template' }) : null))), { id: 'templates-table' }));
  }

  async function refreshGrants() {
    clear(grants);
    grants.append(h('h2', null, canRead ? 'Grants in this workspace' : 'Your grants'));
    const answer = await get('/oauth/grants');
    if (answer.grants.length === 0) { grants.append(h('p', { class: 'muted' }, 'No live grants.')); return; }
    grants.append(table(['Client', 'Person or agent', 'Scope', 'Resource', 'Since', 'Until', ''], answer.grants.map((g) => h('tr', { dataset: { grant: g.id } },
      h('td', null, g.client_name || '', h('div', { class: 'muted small' }, g.client_id)),
      h('td', null, g.subject),
      h('td', null, g.scope.split(' ').map((s) => badge(s, 'scope'))),
      h('td', null, h('code', { class: 'small' }, g.resource)),
      h('td', { class: 'small' }, time(g.created_at)),
      h('td', { class: 'small' }, time(g.expires_at)),
      h('td', { class: 'actions' }, actionButton('Revoke', async () => {
        await del(`/oauth/grants/${encodeURIComponent(g.id)}`);
        ctx.notify('Grant revoked: its refresh tokens ended and its passports were revoked.');
        await refreshGrants();
      }, { class: 'danger revoke-grant' })))), { id: 'grants-table' }));
  }

  async function refreshClients() {
    clear(clients);
    clients.append(h('h2', null, 'Registered OAuth clients'));
    let answer;
    try { answer = await get('/oauth/clients'); } catch (e) {
      clients.append(h('p', { class: 'muted' }, e.status === 403 ? 'Registered clients are listed for administrators.' : visible(e.message || e)));
      return;
    }
    if (answer.clients.length === 0) { clients.append(h('p', { class: 'muted' }, 'No client has registered yet.')); return; }
    clients.append(table(['Client', 'Redirect URIs', 'Authentication', 'Registered', ''], answer.clients.map((c) => h('tr', { dataset: { client: c.client_id } },
      h('td', null, c.client_name || '(unnamed)', h('div', { class: 'muted small' }, c.client_id)),
      h('td', null, c.redirect_uris.map((u) => h('div', null, h('code', { class: 'small' }, u)))),
      h('td', null, c.token_endpoint_auth_method),
      h('td', { class: 'small' }, new Date(c.client_id_issued_at * 1000).toLocaleString()),
      h('td', { class: 'actions' }, canWrite ? actionButton('Delete', async () => {
        await del(`/oauth/clients/${encodeURIComponent(c.client_id)}`);
        ctx.notify('Client deleted: its refresh tokens ended and the passports of its grants were revoked.');
        await refreshClients();
        await refreshGrants();
      }, { class: 'danger delete-client' }) : null))), { id: 'clients-table' }));
  }

  if (canWrite) root.append(templateForm(ctx, refreshTemplates));
  root.append(templates, grants, clients);
  await refreshTemplates();
  await refreshGrants();
  await refreshClients();
  return null;
}

function templateForm(ctx, refresh) {
  const name = h('input', { id: 'template-name', required: true, maxlength: 64, pattern: '[A-Za-z0-9_.:\\-]+', placeholder: 'files.read' });
  const description = h('input', { id: 'template-description', maxlength: 1024, placeholder: 'what the consent page says' });
  const resources = h('input', { id: 'template-resources', placeholder: 'upstream names, comma separated (empty: every one)' });
  const ttl = h('input', { id: 'template-ttl', type: 'number', min: 5, max: 86400, placeholder: '900' });
  const mission = h('textarea', { id: 'template-mission', rows: 4, required: true, placeholder: '{"allowed_tools":["read_file"],"resource_scope":["/data/*"],"max_tool_calls":100}' });
  const error = h('p', { class: 'error', role: 'alert' });
  const submit = h('button', { type: 'submit', id: 'template-create' }, 'Create template');
  const form = h('form', { class: 'card', id: 'template-form' },
    h('h2', null, 'New mission template'),
    h('div', { class: 'row' }, h('label', null, 'Scope name', name), h('label', null, 'Token lifetime (s)', ttl)),
    h('label', null, 'Description', description),
    h('label', null, 'Offered on', resources),
    h('label', null, 'Mission (JSON: tools, argument constraints, resource scope, budget, approvals)', mission),
    error, submit);
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    error.textContent = '';
    let parsed;
    try { parsed = parseExact(mission.value); } catch (_) { error.textContent = 'mission: not JSON'; return; }
    const body = { name: name.value.trim(), mission: parsed };
    if (description.value.trim()) body.description = description.value.trim();
    const list = resources.value.split(',').map((s) => s.trim()).filter(Boolean);
    if (list.length) body.resources = list;
    if (ttl.value) body.ttl_s = Number(ttl.value);
    submit.disabled = true;
    try {
      await post('/mission-templates', body);
      ctx.notify(`Template ${body.name} created.`);
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
