// The console shell: sign-in, navigation, and one view at a time. Each view module exports
// render(root, context) and may return a function that stops whatever it started (timers,
// the live feed's stream) when the operator leaves it.
import * as api from './api.js';
import { h, clear, visible } from './dom.js';
import * as overview from './overview.js';
import * as agents from './agents.js';
import * as sessions from './sessions.js';
import * as feed from './feed.js';
import * as receipts from './receipts.js';
import * as approvals from './approvals.js';
import * as iam from './iam.js';
import * as oauth from './oauth.js';

const views = [
  { id: 'overview', title: 'Overview', module: overview, needs: null },
  { id: 'agents', title: 'Agents', module: agents, needs: 'agents:read' },
  { id: 'sessions', title: 'Sessions', module: sessions, needs: 'sessions:read' },
  { id: 'feed', title: 'Decision feed', module: feed, needs: 'receipts:read' },
  { id: 'receipts', title: 'Receipts', module: receipts, needs: 'receipts:read' },
  { id: 'approvals', title: 'Approvals', module: approvals, needs: 'approvals:grant' },
  { id: 'oauth', title: 'OAuth', module: oauth, needs: null },
  { id: 'iam', title: 'IAM', module: iam, needs: null },
];

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const who = document.getElementById('who');
const signOutButton = document.getElementById('signout');
const notice = document.getElementById('notice');

let me = null;          // GET /api/v1/console/overview of the signed-in identity
let stop = null;        // the current view's cleanup
let agentNames = new Map();
let noticeTimer = null;
let signInMessage = '';  // why the console is at sign-in (kept until the next sign-in)

function notify(message, kind = 'info') {
  clear(notice);
  notice.className = `notice ${kind}`;
  notice.append(h('span', null, message));
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => { clear(notice); notice.className = ''; }, kind === 'error' ? 10000 : 4000);
}

const context = {
  notify,
  get me() { return me; },
  can: (capability) => !!me && me.capabilities.includes(capability),
  agentName: (id) => agentNames.get(id),
  async refreshAgents() {
    if (!context.can('agents:read')) return;
    try {
      const answer = await api.get('/api/v1/console/agents');
      agentNames = new Map(answer.agents.map((a) => [a.id, a.name]));
    } catch (_) { /* the names are a convenience */ }
  },
  go(hash) { location.hash = hash; },
};

function route() {
  const [path, query] = location.hash.replace(/^#\/?/, '').split('?');
  return { id: path || 'overview', params: new URLSearchParams(query || '') };
}

async function show() {
  if (stop) { try { stop(); } catch (_) { /* already stopped */ } stop = null; }
  if (!me) { renderSignIn(signInMessage); return; }
  const { id, params } = route();
  const view = views.find((v) => v.id === id) || views[0];
  for (const link of nav.querySelectorAll('a')) link.classList.toggle('current', link.dataset.view === view.id);
  clear(main);
  const root = h('section', { class: 'view', id: `view-${view.id}`, 'aria-labelledby': `title-${view.id}` }, h('h1', { id: `title-${view.id}` }, view.title));
  main.append(root);
  if (view.needs && !context.can(view.needs)) {
    root.append(h('p', { class: 'muted' }, `Your role does not include ${view.needs} in workspace ${me.workspace}.`));
    return;
  }
  try {
    stop = (await view.module.render(root, { ...context, params })) || null;
  } catch (error) {
    root.append(h('p', { class: 'error', role: 'alert' }, String(error.message || error)));
  }
}

function renderNav() {
  clear(nav);
  for (const view of views) {
    if (view.needs && !context.can(view.needs)) continue;
    nav.append(h('a', { href: `#/${view.id}`, dataset: { view: view.id } }, view.title));
  }
  clear(who);
  who.append(h('span', { class: 'user' }, me.username), ' in ', h('span', { class: 'workspace' }, me.workspace));
  signOutButton.hidden = false;
}

async function signIn(token) {
  api.setToken(token);
  try {
    me = await api.get('/api/v1/console/overview');
  } catch (error) {
    api.setToken(null);
    me = null;
    throw error;
  }
  signInMessage = '';
  await context.refreshAgents();
  renderNav();
  if (!location.hash || location.hash === '#/' || location.hash === '#/signin') location.hash = '#/overview';
  else show();
}

function signOut(message) {
  signInMessage = message || '';
  api.setToken(null);
  me = null;
  agentNames = new Map();
  clear(nav);
  clear(who);
  signOutButton.hidden = true;
  if (stop) { try { stop(); } catch (_) { /* stopped */ } stop = null; }
  renderSignIn(message);
}

function renderSignIn(message) {
  clear(main);
  const error = h('p', { class: 'error', role: 'alert', id: 'signin-error' }, message || '');
  const username = h('input', { id: 'signin-username', name: 'username', autocomplete: 'username', required: true });
  const password = h('input', { id: 'signin-password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const workspace = h('input', { id: 'signin-workspace', name: 'workspace', placeholder: 'your default' });
  const key = h('input', { id: 'signin-apikey', name: 'apikey', type: 'password', autocomplete: 'off', placeholder: 'tg_…' });
  const busy = async (button, work) => {
    button.disabled = true;
    error.textContent = '';
    try { await work(); } catch (e) { error.textContent = e.status === 401 ? 'Sign-in failed: wrong credentials (or the account is disabled).' : visible(e.message || e); } finally { button.disabled = false; }
  };
  const passwordButton = h('button', { type: 'submit', id: 'signin-submit' }, 'Sign in');
  const keyButton = h('button', { type: 'submit', id: 'signin-key-submit' }, 'Use API key');
  const passwordForm = h('form', { class: 'card', id: 'signin-form' },
    h('h2', null, 'Username and password'),
    h('label', null, 'Username', username),
    h('label', null, 'Password', password),
    h('label', null, 'Workspace (optional)', workspace),
    passwordButton);
  passwordForm.addEventListener('submit', (event) => {
    event.preventDefault();
    busy(passwordButton, async () => {
      const jwt = await api.login(username.value, password.value, workspace.value.trim());
      password.value = '';
      await signIn(jwt);
    });
  });
  const keyForm = h('form', { class: 'card', id: 'signin-key-form' },
    h('h2', null, 'API key'),
    h('label', null, 'API key', key),
    keyButton);
  keyForm.addEventListener('submit', (event) => {
    event.preventDefault();
    busy(keyButton, async () => {
      const value = key.value.trim();
      key.value = '';
      await signIn(value);
    });
  });
  main.append(h('section', { class: 'view signin', id: 'view-signin' },
    h('h1', null, 'Sign in to Tessera'),
    h('p', { class: 'muted' }, 'The console uses the same API and permissions as the CLI. Your token stays in this tab\'s memory only.'),
    error,
    h('div', { class: 'columns' }, passwordForm, keyForm)));
  username.focus();
}

api.whenUnauthorized(() => signOut('Your sign-in expired or was revoked. Sign in again.'));
signOutButton.addEventListener('click', () => signOut('Signed out.'));
window.addEventListener('hashchange', show);
show();
