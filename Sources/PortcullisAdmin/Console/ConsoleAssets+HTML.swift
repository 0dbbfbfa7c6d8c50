extension ConsoleAssets {
    /// The page. Static markup only: everything that comes from the API is put in by
    /// console.js as text nodes, never parsed as HTML.
    static let html = #"""
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Portcullis · operators' console</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="console.css">
<script src="console.js" defer></script>
</head>
<body>
<header class="topbar">
  <div class="brand">
    <span class="mark" aria-hidden="true"></span>
    <span class="name">Portcullis</span>
    <span class="sub">operators' console</span>
  </div>
  <div class="status-line">
    <span id="ready-state" class="pill pill-muted" title="GET /readyz">checking…</span>
  </div>
  <form id="token-form" class="token-form" autocomplete="off">
    <label class="visually-hidden" for="token-input">Admin token</label>
    <input id="token-input" type="password" placeholder="Paste an admin token" autocomplete="off" spellcheck="false">
    <button id="token-save" type="submit">Use token</button>
    <button id="token-forget" type="button" class="ghost" disabled>Forget</button>
  </form>
</header>
<p id="token-state" class="token-state" role="status">No token yet. Paste one above: it is kept in this tab only and sent as a bearer token with each call.</p>

<main>
  <div class="grid">
    <section class="card" id="lookup-card" aria-labelledby="lookup-title">
      <h2 id="lookup-title">Look up a jti</h2>
      <form id="lookup-form" class="row">
        <label class="visually-hidden" for="lookup-jti">jti</label>
        <input id="lookup-jti" type="text" placeholder="jti, e.g. 6f1c2b9e-…" spellcheck="false" required>
        <button id="lookup-go" type="submit">Look up</button>
      </form>
      <div id="lookup-result" class="result" aria-live="polite" hidden></div>
    </section>

    <section class="card" id="revoke-card" aria-labelledby="revoke-title">
      <h2 id="revoke-title">Revoke</h2>
      <form id="revoke-form" class="stack">
        <div class="segmented" role="radiogroup" aria-label="What to revoke">
          <label><input type="radio" name="revoke-kind" id="revoke-kind-jti" value="jti" checked><span>jti</span></label>
          <label><input type="radio" name="revoke-kind" id="revoke-kind-token" value="token"><span>token</span></label>
          <label><input type="radio" name="revoke-kind" id="revoke-kind-subject" value="subject"><span>subject</span></label>
        </div>
        <label for="revoke-value" id="revoke-value-label">jti</label>
        <input id="revoke-value" type="text" spellcheck="false" required>
        <label for="revoke-reason">Reason <span class="hint">(recorded in the audit)</span></label>
        <input id="revoke-reason" type="text" maxlength="1024" placeholder="e.g. laptop reported stolen">
        <div class="row end">
          <button id="revoke-go" type="submit" class="danger">Revoke</button>
        </div>
      </form>
      <div id="revoke-result" class="result" aria-live="polite" hidden></div>
    </section>

    <section class="card" id="health-card" aria-labelledby="health-title">
      <div class="card-head">
        <h2 id="health-title">Gateway</h2>
        <button id="health-refresh" type="button" class="ghost small">Refresh</button>
      </div>
      <p id="ready-detail" class="hint"></p>
      <h3>Requests at the gate</h3>
      <table id="metrics-table" class="data compact">
        <thead><tr><th>Outcome</th><th>Reason</th><th class="num">Requests</th></tr></thead>
        <tbody></tbody>
      </table>
      <p id="metrics-note" class="hint"></p>
    </section>
  </div>

  <section class="card" id="inspect-card" aria-labelledby="inspect-title">
    <h2 id="inspect-title">Inspect a token</h2>
    <form id="inspect-form" class="row">
      <label class="visually-hidden" for="inspect-input">JWT</label>
      <textarea id="inspect-input" rows="2" placeholder="Paste a JWT (header.claims.signature): it is decoded in this page, and only its jti is sent, to ask whether it is revoked" spellcheck="false" required></textarea>
      <button id="inspect-go" type="submit">Decode</button>
    </form>
    <div id="inspect-error" class="msg msg-error" role="alert" hidden></div>
    <div id="inspect-result" class="inspect" hidden>
      <div class="inspect-status">
        <span id="inspect-status" class="pill pill-muted"></span>
        <span id="inspect-status-detail" class="hint"></span>
        <span class="spacer"></span>
        <button id="inspect-revoke" type="button" class="danger small">Revoke this token…</button>
        <button id="inspect-revoke-subject" type="button" class="ghost small">Revoke its subject…</button>
        <button id="inspect-undo" type="button" class="ghost small" hidden>Undo revocation</button>
      </div>
      <div class="inspect-grid">
        <div>
          <h3>Header</h3>
          <pre id="inspect-header" class="code"></pre>
        </div>
        <div>
          <h3>Claims</h3>
          <pre id="inspect-claims" class="code"></pre>
        </div>
        <div>
          <h3>Times</h3>
          <dl id="inspect-times" class="times"></dl>
          <p class="hint">Decoded here without checking the signature; the gateway checks it when you revoke by token.</p>
        </div>
      </div>
    </div>
  </section>

    <section class="card" id="revocations-card" aria-labelledby="revocations-title">
      <div class="card-head">
        <h2 id="revocations-title">Revocations</h2>
        <button id="revocations-refresh" type="button" class="ghost small">Refresh</button>
      </div>
      <div id="revocations-msg" class="msg" role="status" hidden></div>
      <div class="table-wrap">
        <table id="revocations-table" class="data">
          <thead><tr><th>jti</th><th>Kept for</th><th>Until</th><th></th></tr></thead>
          <tbody></tbody>
        </table>
      </div>
      <div class="pager">
        <button id="revocations-prev" type="button" class="ghost small" disabled>‹ Previous</button>
        <span id="revocations-page" class="hint"></span>
        <button id="revocations-next" type="button" class="ghost small" disabled>Next ›</button>
      </div>
    </section>

    <section class="card" id="audit-card" aria-labelledby="audit-title">
      <div class="card-head">
        <h2 id="audit-title">Audit</h2>
        <button id="audit-refresh" type="button" class="ghost small">Refresh</button>
      </div>
      <div id="audit-msg" class="msg" role="status" hidden></div>
      <div class="table-wrap">
        <table id="audit-table" class="data">
          <thead><tr><th>Time</th><th>Actor</th><th>Action</th><th>Target</th><th>Reason</th><th>Peer</th></tr></thead>
          <tbody></tbody>
        </table>
      </div>
      <div class="pager">
        <button id="audit-prev" type="button" class="ghost small" disabled>‹ Newer</button>
        <span id="audit-page" class="hint"></span>
        <button id="audit-next" type="button" class="ghost small" disabled>Older ›</button>
      </div>
    </section>
</main>
<footer class="foot">Every action is an ordinary call to this listener's <code>/v1/</code> API with your token; its role (read, revoke, admin) decides what is allowed.</footer>
</body>
</html>
"""#
}
