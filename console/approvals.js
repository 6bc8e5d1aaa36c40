// Pending human approvals with the exact arguments the agent sent; grant or deny.
import { get, post } from './api.js';
import { h, clear, badge, time } from './dom.js';

export async function render(root, ctx) {
  const list = h('div', { id: 'approvals-list' });
  root.append(list);
  async function refresh() {
    const { approvals } = await get('/approvals');
    clear(list);
    if (approvals.length === 0) { list.append(h('p', { class: 'muted' }, 'Nothing waits for approval.')); return; }
    for (const a of approvals) {
      const decide = (action) => async () => {
        try {
          await post(`/approvals/${encodeURIComponent(a.approval_id)}/${action}`);
          ctx.notify(`Approval ${action === 'grant' ? 'granted' : 'denied'}.`);
        } catch (e) { ctx.notify(String(e.message || e), 'error'); }
        await refresh();
      };
      const name = ctx.agentName(a.agent_id);
      list.append(h('article', { class: 'card approval', dataset: { approval: a.approval_id } },
        h('h2', null, h('span', { class: 'tool' }, a.tool), ' ', badge(a.status)),
        h('p', null, 'Agent ', name ? h('span', { class: 'agent-name' }, name) : null, ' ', h('code', null, a.agent_id),
          ` · ${a.granted_by.length} of ${a.min_approvals} approvals · expires ${time(a.expires_at)}`),
        h('p', { class: 'small muted' }, `Approvers: ${a.approvers.join(', ')} · arguments digest ${a.arguments_digest}`),
        h('pre', { class: 'arguments' }, JSON.stringify(a.arguments, null, 2)),
        h('p', { class: 'actions' },
          h('button', { type: 'button', class: 'grant', onclick: decide('grant') }, 'Grant'),
          h('button', { type: 'button', class: 'danger deny', onclick: decide('deny') }, 'Deny'))));
    }
  }
  await refresh();
  const timer = setInterval(() => refresh().catch((e) => ctx.notify(String(e.message || e), 'error')), 5000);
  return () => clearInterval(timer);
}
