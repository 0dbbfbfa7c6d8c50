extension ConsoleAssets {
    /// The page's script: plain ES2020, no framework. Values from the API go in as text only.
    static let script = #"""
'use strict';
// The Portcullis operators' console. Every value that comes from the API or from a pasted
// token is put into the page with textContent or text nodes: nothing is ever parsed as HTML.
(function () {
  const TOKEN_KEY = 'portcullis.console.adminToken';
  const PAGE_SIZE = 10;
  const $ = (id) => document.getElementById(id);

  // MARK: DOM helpers

  function el(tag, className, ...children) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  function button(label, className, onClick) {
    const b = el('button', className, label);
    b.type = 'button';
    b.addEventListener('click', onClick);
    return b;
  }

  function show(node, kind, ...children) {
    node.replaceChildren(...children.map((c) => (c instanceof Node ? c : document.createTextNode(String(c)))));
    node.className = node.className.replace(/\bmsg-\w+\b/g, '').trim() + ' msg-' + kind;
    node.hidden = false;
  }

  function hide(node) {
    node.hidden = true;
    node.replaceChildren();
  }

  // MARK: Formatting

  function duration(seconds) {
    let s = Math.max(0, Math.round(Number(seconds) || 0));
    const d = Math.floor(s / 86400); s -= d * 86400;
    const h = Math.floor(s / 3600); s -= h * 3600;
    const m = Math.floor(s / 60); s -= m * 60;
    if (d) return d + ' d ' + h + ' h';
    if (h) return h + ' h ' + m + ' min';
    if (m) return m + ' min ' + s + ' s';
    return s + ' s';
  }

  function utc(unix) {
    const date = new Date(unix * 1000);
    if (isNaN(date.getTime())) return String(unix);
    return date.toISOString().replace('T', ' ').replace(/(\.\d+)?Z$/, ' UTC');
  }

  function relative(unix) {
    const delta = unix - Date.now() / 1000;
    return delta >= 0 ? 'in ' + duration(delta) : duration(-delta) + ' ago';
  }

  // MARK: The token, kept in this tab's sessionStorage only

  function storedToken() {
    try { return sessionStorage.getItem(TOKEN_KEY); } catch (e) { return null; }
  }

  function setToken(value) {
    if (value) sessionStorage.setItem(TOKEN_KEY, value); else sessionStorage.removeItem(TOKEN_KEY);
    $('token-forget').disabled = !value;
  }

  // MARK: The admin API

  class ApiError extends Error {
    constructor(status, message) {
      super(message);
      this.status = status;
    }
  }

  async function call(method, path, body, options) {
    const needsToken = !(options && options.anonymous);
    const headers = {};
    if (needsToken) {
      const token = storedToken();
      if (!token) throw new ApiError(0, 'Paste an admin token first.');
      headers['Authorization'] = 'Bearer ' + token;
    }
    const init = { method, headers, cache: 'no-store', credentials: 'omit', redirect: 'error' };
    if (body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(path, init);
    } catch (e) {
      throw new ApiError(0, 'The admin listener did not answer (' + e.message + ').');
    }
    const text = await response.text();
    let data = null;
    if (text && (response.headers.get('Content-Type') || '').includes('json')) {
      try { data = JSON.parse(text); } catch (e) { data = null; }
    }
    return { status: response.status, data, text };
  }

  // The API's own words for a refusal ("Forbidden", "Missing or invalid admin token", ...).
  function failure(response) {
    const message = response.data && typeof response.data.message === 'string'
      ? response.data.message : 'HTTP ' + response.status;
    return new ApiError(response.status, message);
  }

  function errorText(error) {
    if (error instanceof ApiError && error.status) return error.message + ' (' + error.status + ')';
    return error.message || String(error);
  }

  function v1(path) { return '../v1/' + path; }

  async function lookupJti(jti) {
    const response = await call('GET', v1('revocations/' + encodeURIComponent(jti)));
    if (response.status === 200 && response.data) {
      return { revoked: true, ttl: response.data.ttl_seconds, reason: response.data.reason };
    }
    if (response.status === 404 && response.data && response.data.revoked === false) return { revoked: false };
    throw failure(response);
  }

  // MARK: Token bar

  async function checkToken() {
    const state = $('token-state');
    if (!storedToken()) {
      state.textContent = 'No token yet. Paste one above: it is kept in this tab only and sent as a bearer token with each call.';
      state.className = 'token-state';
      return;
    }
    try {
      const response = await call('GET', v1('revocations?limit=1'));
      if (response.status !== 200) throw failure(response);
      state.textContent = 'Token in use. It is kept in this tab only (sessionStorage) and forgotten when the tab closes.';
      state.className = 'token-state token-ok';
    } catch (e) {
      state.textContent = 'The token was not accepted: ' + errorText(e);
      state.className = 'token-state token-bad';
    }
  }

  function wireToken() {
    $('token-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const input = $('token-input');
      let value = input.value.trim().replace(/^Bearer\s+/i, '');
      input.value = '';
      if (!value) return;
      setToken(value);
      checkToken();
      revocations.load();
      audit.load();
    });
    $('token-forget').addEventListener('click', () => {
      setToken(null);
      checkToken();
      revocations.clear();
      audit.clear();
    });
    $('token-forget').disabled = !storedToken();
  }

  // MARK: Look up

  async function showLookup(jti) {
    const result = $('lookup-result');
    show(result, 'muted', 'Looking up…');
    try {
      const answer = await lookupJti(jti);
      const head = el('div', 'result-head',
        el('span', answer.revoked ? 'pill pill-bad' : 'pill pill-good', answer.revoked ? 'Revoked' : 'Not revoked'),
        el('code', 'jti', jti));
      const parts = [head];
      if (answer.revoked) {
        parts.push(el('p', 'detail', 'Kept for ' + duration(answer.ttl) + '.'));
        if (typeof answer.reason === 'string') {
          parts.push(el('p', 'detail', 'Reason: ', el('span', 'reason', answer.reason)));
        }
        parts.push(el('div', 'row', button('Undo revocation', 'ghost small', () => undoJti(jti, result))));
      }
      show(result, answer.revoked ? 'bad' : 'good', ...parts);
    } catch (e) {
      show(result, 'error', errorText(e));
    }
  }

  function wireLookup() {
    $('lookup-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const jti = $('lookup-jti').value.trim();
      if (jti) showLookup(jti);
    });
  }

  // MARK: Inspect a JWT (decoded here: base64url, then JSON)

  function base64url(part) {
    if (!/^[A-Za-z0-9_-]*$/.test(part)) throw new Error('not base64url');
    let b64 = part.replace(/-/g, '+').replace(/_/g, '/');
    while (b64.length % 4) b64 += '=';
    const binary = atob(b64);
    const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  }

  function decodeJWT(text) {
    const parts = text.split('.');
    if (parts.length !== 3) throw new Error('A JWT has three parts separated by dots; this has ' + parts.length + '.');
    const decoded = [0, 1].map((i) => {
      const name = i === 0 ? 'header' : 'claims';
      let json;
      try { json = base64url(parts[i]); } catch (e) { throw new Error('The ' + name + ' is not valid base64url.'); }
      let value;
      try { value = JSON.parse(json); } catch (e) { throw new Error('The ' + name + ' is not JSON.'); }
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        throw new Error('The ' + name + ' is not a JSON object.');
      }
      return value;
    });
    return { header: decoded[0], claims: decoded[1] };
  }

  let inspected = null;

  async function showInspect(raw) {
    const error = $('inspect-error');
    hide(error);
    let decoded;
    try {
      decoded = decodeJWT(raw);
    } catch (e) {
      $('inspect-result').hidden = true;
      inspected = null;
      show(error, 'error', e.message);
      return;
    }
    inspected = { raw, claims: decoded.claims };
    $('inspect-header').textContent = JSON.stringify(decoded.header, null, 2);
    $('inspect-claims').textContent = JSON.stringify(decoded.claims, null, 2);
    const times = $('inspect-times');
    times.replaceChildren();
    for (const [name, label] of [['iat', 'issued (iat)'], ['nbf', 'not before (nbf)'], ['exp', 'expires (exp)']]) {
      const value = decoded.claims[name];
      if (typeof value !== 'number') continue;
      const dd = el('dd', null, el('span', 'time', utc(value)), ' ', el('span', 'hint', relative(value)));
      dd.dataset.claim = name;
      times.append(el('dt', null, label), dd);
    }
    if (!times.childElementCount) times.append(el('dd', 'hint', 'No iat, nbf or exp claim.'));
    $('inspect-result').hidden = false;
    $('inspect-revoke-subject').hidden = typeof decoded.claims.sub !== 'string';
    await refreshInspectStatus();
  }

  async function refreshInspectStatus() {
    if (!inspected) return;
    const status = $('inspect-status');
    const detail = $('inspect-status-detail');
    const undo = $('inspect-undo');
    const claims = inspected.claims;
    const expired = typeof claims.exp === 'number' && claims.exp < Date.now() / 1000;
    undo.hidden = true;
    detail.textContent = expired ? 'Expired ' + relative(claims.exp) + '.' : '';
    if (typeof claims.jti !== 'string') {
      status.textContent = 'No jti';
      status.className = 'pill pill-muted';
      detail.textContent = 'Without a jti it can be revoked as a raw token (when revocation.token_key is set) or by subject.';
      return;
    }
    status.textContent = 'Checking…';
    status.className = 'pill pill-muted';
    try {
      const answer = await lookupJti(claims.jti);
      if (answer.revoked) {
        status.textContent = 'Revoked';
        status.className = 'pill pill-bad';
        const reason = typeof answer.reason === 'string' ? ' Reason: ' + answer.reason : '';
        detail.textContent = 'jti revoked, kept for ' + duration(answer.ttl) + '.' + reason;
        undo.hidden = false;
      } else {
        status.textContent = 'Not revoked';
        status.className = 'pill pill-good';
        detail.textContent = (expired ? 'Expired ' + relative(claims.exp) + '; ' : '')
          + 'its jti is not revoked (a subject cut-off is not shown here).';
      }
    } catch (e) {
      status.textContent = 'Status unknown';
      status.className = 'pill pill-warn';
      detail.textContent = errorText(e);
    }
  }

  function wireInspect() {
    $('inspect-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const raw = $('inspect-input').value.trim().replace(/^Bearer\s+/i, '');
      if (raw) showInspect(raw);
    });
    $('inspect-revoke').addEventListener('click', () => {
      if (inspected) prepareRevoke('token', inspected.raw);
    });
    $('inspect-revoke-subject').addEventListener('click', () => {
      if (inspected && typeof inspected.claims.sub === 'string') prepareRevoke('subject', inspected.claims.sub);
    });
    $('inspect-undo').addEventListener('click', () => {
      if (inspected && typeof inspected.claims.jti === 'string') undoJti(inspected.claims.jti, $('revoke-result'));
    });
  }

  // MARK: Revoke and undo

  const KIND_LABELS = { jti: 'jti', token: 'Token (JWT; its signature must verify)', subject: 'Subject (sub)' };

  function revokeKind() {
    return document.querySelector('input[name="revoke-kind"]:checked').value;
  }

  function updateRevokeLabel() {
    $('revoke-value-label').textContent = KIND_LABELS[revokeKind()];
  }

  function prepareRevoke(kind, value) {
    $('revoke-kind-' + kind).checked = true;
    updateRevokeLabel();
    $('revoke-value').value = value;
    $('revoke-card').scrollIntoView({ block: 'nearest', behavior: 'smooth' });
    $('revoke-reason').focus();
  }

  async function revoke(kind, value, reason) {
    const result = $('revoke-result');
    show(result, 'muted', 'Revoking…');
    try {
      let response;
      const body = {};
      if (reason) body.reason = reason;
      if (kind === 'subject') {
        response = await call('POST', v1('subjects/' + encodeURIComponent(value) + '/revocations'), body);
      } else {
        body[kind] = value;
        response = await call('POST', v1('revocations'), body);
      }
      if (response.status !== 201) throw failure(response);
      const answer = response.data || {};
      if (kind === 'subject') {
        show(result, 'good',
          el('p', null, 'Subject ', el('code', null, value), ' revoked: its tokens issued at or before ',
            utc(answer.revoked_before), ' are refused.'),
          el('div', 'row', button('Undo', 'ghost small', () => undoSubject(value, result))));
      } else if (typeof answer.jti === 'string') {
        show(result, 'good',
          el('p', null, 'Revoked jti ', el('code', null, answer.jti), ', kept for ', duration(answer.ttl_seconds), '.'),
          el('div', 'row', button('Undo', 'ghost small', () => undoJti(answer.jti, result))));
      } else {
        show(result, 'good', el('p', null, 'Token revoked (it has no jti; kept for ', duration(answer.ttl_seconds),
          '). A raw token cannot be undone from here.'));
      }
      $('revoke-value').value = '';
      $('revoke-reason').value = '';
      afterChange();
    } catch (e) {
      show(result, 'error', errorText(e));
    }
  }

  async function undoJti(jti, result) {
    try {
      const response = await call('DELETE', v1('revocations/' + encodeURIComponent(jti)));
      if (response.status !== 204) throw failure(response);
      show(result, 'good', el('p', null, 'Undone: jti ', el('code', null, jti), ' is accepted again.'));
      afterChange();
    } catch (e) {
      show(result, 'error', errorText(e));
    }
  }

  async function undoSubject(sub, result) {
    try {
      const response = await call('DELETE', v1('subjects/' + encodeURIComponent(sub) + '/revocations'));
      if (response.status !== 204) throw failure(response);
      show(result, 'good', el('p', null, 'Undone: subject ', el('code', null, sub), ' has no cut-off any more.'));
      afterChange();
    } catch (e) {
      show(result, 'error', errorText(e));
    }
  }

  function afterChange() {
    refreshInspectStatus();
    revocations.load();
    audit.load();
  }

  function wireRevoke() {
    for (const radio of document.querySelectorAll('input[name="revoke-kind"]')) {
      radio.addEventListener('change', updateRevokeLabel);
    }
    updateRevokeLabel();
    $('revoke-form').addEventListener('submit', (event) => {
      event.preventDefault();
      const value = $('revoke-value').value.trim();
      if (!value) return;
      revoke(revokeKind(), value, $('revoke-reason').value.trim());
    });
  }

  // MARK: Paged lists (revocations, audit): the API's cursors, kept to walk back

  function pagedList(options) {
    const body = $(options.id + '-table').tBodies[0];
    const message = $(options.id + '-msg');
    const prev = $(options.id + '-prev');
    const next = $(options.id + '-next');
    const page = $(options.id + '-page');
    let cursors = [null];
    let nextCursor = null;
    let generation = 0;

    async function load() {
      const mine = ++generation;
      if (!storedToken()) return clear();
      const cursor = cursors[cursors.length - 1];
      let query = '?limit=' + PAGE_SIZE;
      if (cursor) query += '&cursor=' + encodeURIComponent(cursor);
      try {
        const response = await call('GET', v1(options.path + query));
        if (mine !== generation) return;
        if (response.status === 404 && options.missing) throw new ApiError(404, options.missing);
        if (response.status !== 200 || !response.data || !Array.isArray(response.data.items)) throw failure(response);
        hide(message);
        const items = response.data.items;
        body.replaceChildren(...items.map(options.row));
        if (!items.length) {
          const cell = el('td', 'empty', cursors.length > 1 ? 'No more entries.' : options.empty);
          cell.colSpan = options.columns;
          body.append(el('tr', null, cell));
        }
        nextCursor = typeof response.data.next_cursor === 'string' && response.data.next_cursor
          ? response.data.next_cursor : null;
        next.disabled = !nextCursor;
        prev.disabled = cursors.length <= 1;
        page.textContent = 'Page ' + cursors.length;
      } catch (e) {
        if (mine !== generation) return;
        body.replaceChildren();
        show(message, 'error', errorText(e));
        next.disabled = true;
        prev.disabled = cursors.length <= 1;
      }
    }

    function clear() {
      cursors = [null];
      nextCursor = null;
      body.replaceChildren();
      const cell = el('td', 'empty', 'Paste an admin token to see this list.');
      cell.colSpan = options.columns;
      body.append(el('tr', null, cell));
      hide(message);
      next.disabled = true;
      prev.disabled = true;
      page.textContent = '';
    }

    next.addEventListener('click', () => { if (nextCursor) { cursors.push(nextCursor); load(); } });
    prev.addEventListener('click', () => { if (cursors.length > 1) { cursors.pop(); load(); } });
    $(options.id + '-refresh').addEventListener('click', load);
    return {
      load: () => { cursors = [null]; return load(); },
      clear,
    };
  }

  const revocations = pagedList({
    id: 'revocations',
    path: 'revocations',
    columns: 4,
    empty: 'Nothing is revoked.',
    row(item) {
      const jti = String(item.jti);
      return el('tr', null,
        el('td', 'jti', el('code', null, jti)),
        el('td', 'nowrap', duration(item.ttl_seconds)),
        el('td', 'nowrap hint', utc(Math.floor(Date.now() / 1000 + Number(item.ttl_seconds)))),
        el('td', 'actions',
          button('Look up', 'ghost small', () => { $('lookup-jti').value = jti; showLookup(jti); }),
          button('Undo', 'ghost small', () => undoJti(jti, $('revoke-result')))));
    },
  });

  const ACTIONS = {
    revoke: 'bad', logout: 'bad', revoke_subject: 'bad', unrevoke: 'good', unrevoke_subject: 'good',
  };

  const audit = pagedList({
    id: 'audit',
    path: 'audit',
    columns: 6,
    empty: 'No changes recorded yet.',
    missing: 'This gateway keeps no audit (GET /v1/audit is not served).',
    row(item) {
      const time = typeof item.time === 'number' ? item.time : Number(item.time);
      const timeCell = el('td', 'nowrap', utc(time));
      timeCell.title = relative(time);
      const action = String(item.action);
      const reason = typeof item.reason === 'string' ? el('td', 'reason', item.reason) : el('td', 'reason none', '—');
      return el('tr', null,
        timeCell,
        el('td', 'actor', String(item.actor)),
        el('td', null, el('span', 'tag tag-' + (ACTIONS[action] || 'muted'), action)),
        el('td', 'target', el('code', null, String(item.target))),
        reason,
        el('td', 'peer nowrap', item.peer == null ? '—' : String(item.peer)));
    },
  });

  // MARK: Readiness and the request counters from /metrics

  // `portcullis_requests_total{outcome="denied",reason="RevokedTokenError"} 3` → rows.
  function parseRequestCounters(text) {
    const rows = [];
    for (const line of text.split('\n')) {
      const match = /^portcullis_requests_total(?:\{(.*)\})?\s+(\S+)/.exec(line);
      if (!match) continue;
      const labels = {};
      const pattern = /(\w+)="((?:[^"\\]|\\.)*)"/g;
      let label;
      while ((label = pattern.exec(match[1] || '')) !== null) {
        labels[label[1]] = label[2].replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c));
      }
      rows.push({
        outcome: labels.outcome || '', reason: labels.reason || '', errorType: labels.error_type || '',
        count: Number(match[2]),
      });
    }
    return rows;
  }

  async function refreshHealth() {
    const pill = $('ready-state');
    const detail = $('ready-detail');
    try {
      const response = await call('GET', '../readyz', undefined, { anonymous: true });
      const ready = response.status === 200;
      pill.textContent = ready ? 'Ready' : 'Not ready';
      pill.className = 'pill ' + (ready ? 'pill-good' : 'pill-bad');
      detail.textContent = ready ? 'The revocation store answers and the signing keys are loaded.'
        : (response.data && response.data.message) || 'GET /readyz answered ' + response.status + '.';
    } catch (e) {
      pill.textContent = 'Unreachable';
      pill.className = 'pill pill-bad';
      detail.textContent = errorText(e);
    }
    const tbody = $('metrics-table').tBodies[0];
    const note = $('metrics-note');
    try {
      const response = await call('GET', '../metrics', undefined, { anonymous: true });
      if (response.status !== 200) throw failure(response);
      const rows = parseRequestCounters(response.text).filter((r) => r.count > 0);
      rows.sort((a, b) => b.count - a.count || a.outcome.localeCompare(b.outcome));
      const total = rows.reduce((sum, r) => sum + r.count, 0);
      tbody.replaceChildren(...rows.map((r) => el('tr', null,
        el('td', null, el('span', 'tag tag-' + (r.outcome === 'denied' ? 'bad' : r.outcome === 'fail_open' ? 'warn' : 'good'), r.outcome)),
        el('td', 'reason-code', r.reason || '—',
          r.errorType && r.errorType !== r.reason ? el('span', 'error-type', r.errorType) : null),
        el('td', 'num', r.count.toLocaleString('en-US')))));
      note.textContent = rows.length
        ? total.toLocaleString('en-US') + ' requests since the gateway started (portcullis_requests_total).'
        : 'No requests at the gate yet.';
    } catch (e) {
      tbody.replaceChildren();
      note.textContent = 'Metrics unavailable: ' + errorText(e);
    }
  }

  // MARK: Start

  function start() {
    wireToken();
    wireLookup();
    wireInspect();
    wireRevoke();
    $('health-refresh').addEventListener('click', refreshHealth);
    refreshHealth();
    setInterval(() => { if (!document.hidden) refreshHealth(); }, 15000);
    checkToken();
    if (storedToken()) {
      revocations.load();
      audit.load();
    } else {
      revocations.clear();
      audit.clear();
    }
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start); else start();
})();
"""#
}
