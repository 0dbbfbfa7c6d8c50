extension ConsoleAssets {
    /// The page's stylesheet: system fonts only, nothing loaded from elsewhere.
    static let stylesheet = #"""
:root {
  --bg: #f3f5f8;
  --card: #ffffff;
  --ink: #172033;
  --muted: #5f6b7e;
  --line: #e2e6ec;
  --soft: #f7f8fa;
  --accent: #2f5bd3;
  --accent-ink: #ffffff;
  --good: #1f7a45;
  --good-bg: #e6f4ec;
  --bad: #b42318;
  --bad-bg: #fdecea;
  --warn: #9a6700;
  --warn-bg: #fff4d6;
  --top: #141a26;
  --radius: 10px;
  --mono: ui-monospace, "SFMono-Regular", "Cascadia Mono", Menlo, Consolas, "DejaVu Sans Mono", "Liberation Mono", monospace;
  --sans: system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "Helvetica Neue", Arial, "Liberation Sans", sans-serif;
}

* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body {
  margin: 0;
  background: var(--bg);
  color: var(--ink);
  font: 14px/1.45 var(--sans);
}
code, pre, .code, input, textarea { font-family: var(--mono); }
code { font-size: 12.5px; overflow-wrap: anywhere; }
h2 { font-size: 15px; margin: 0 0 10px; letter-spacing: .01em; }
h3 { font-size: 12px; margin: 0 0 6px; color: var(--muted); text-transform: uppercase; letter-spacing: .06em; }
p { margin: 6px 0; }
[hidden] { display: none !important; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
.hint { color: var(--muted); font-size: 12.5px; }
.nowrap { white-space: nowrap; }
.spacer { flex: 1; }

/* Top bar: brand, readiness, the token */
.topbar {
  display: flex; align-items: center; gap: 16px; flex-wrap: wrap;
  background: var(--top); color: #fff; padding: 10px 24px;
}
.brand { display: flex; align-items: baseline; gap: 10px; }
.brand .name { font-weight: 650; font-size: 17px; letter-spacing: .02em; }
.brand .sub { color: #a9b3c6; font-size: 13px; }
.mark {
  align-self: center; width: 18px; height: 18px; border-radius: 4px; display: inline-block;
  background:
    repeating-linear-gradient(90deg, #fff 0 2px, transparent 2px 5px) top / 100% 100%,
    linear-gradient(#5b82f0, #2f5bd3);
  box-shadow: inset 0 -5px 0 rgba(0,0,0,.25);
}
.status-line { flex: 1; }
.token-form { display: flex; gap: 8px; align-items: center; }
.token-form input {
  width: 300px; background: #222a3a; border-color: #39435a; color: #fff;
}
.token-form input::placeholder { color: #8d98ad; }
.token-form .ghost { color: #dfe5f0; border-color: #39435a; background: transparent; }
.token-form .ghost:disabled { color: #6b768c; }
.token-state {
  margin: 0; padding: 6px 24px; font-size: 12.5px; color: var(--muted);
  background: #e9edf3; border-bottom: 1px solid var(--line);
}
.token-state.token-ok { color: var(--good); background: var(--good-bg); }
.token-state.token-bad { color: var(--bad); background: var(--bad-bg); }

/* Layout */
main { max-width: 1400px; margin: 0 auto; padding: 16px 24px 8px; display: flex; flex-direction: column; gap: 16px; }
.grid { display: grid; gap: 16px; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); align-items: start; }
.grid.two { grid-template-columns: minmax(0, 1fr) minmax(0, 1.35fr); }
.card {
  background: var(--card); border: 1px solid var(--line); border-radius: var(--radius);
  padding: 14px 16px; box-shadow: 0 1px 2px rgba(16,24,40,.04); min-width: 0;
}
.card-head { display: flex; align-items: center; justify-content: space-between; gap: 8px; margin-bottom: 6px; }
.card-head h2 { margin: 0; }
.row { display: flex; gap: 8px; align-items: flex-start; flex-wrap: wrap; }
.row > input, .row > textarea { flex: 1; min-width: 0; }
.row.end { justify-content: flex-end; }
.stack { display: flex; flex-direction: column; gap: 6px; }
.stack label { font-size: 12.5px; font-weight: 600; color: var(--muted); }
.foot { max-width: 1400px; margin: 0 auto; padding: 4px 24px 24px; color: var(--muted); font-size: 12px; }

/* Controls */
input[type=text], input[type=password], textarea {
  font-size: 13px; padding: 7px 9px; border: 1px solid #cfd5de; border-radius: 7px;
  background: #fff; color: var(--ink); outline: none; width: 100%;
}
textarea { resize: vertical; min-height: 38px; word-break: break-all; }
input:focus, textarea:focus { border-color: var(--accent); box-shadow: 0 0 0 3px rgba(47,91,211,.18); }
button {
  font: 600 13px var(--sans); padding: 7px 14px; border-radius: 7px; cursor: pointer;
  border: 1px solid var(--accent); background: var(--accent); color: var(--accent-ink); white-space: nowrap;
}
button:hover { filter: brightness(1.07); }
button:disabled { cursor: default; opacity: .55; filter: none; }
button.danger { background: var(--bad); border-color: var(--bad); }
button.ghost { background: #fff; color: var(--ink); border-color: #cfd5de; }
button.ghost:hover { background: var(--soft); }
button.small { padding: 4px 10px; font-size: 12px; }
.segmented { display: inline-flex; border: 1px solid #cfd5de; border-radius: 7px; overflow: hidden; align-self: flex-start; }
.segmented label { margin: 0; }
.segmented input { position: absolute; opacity: 0; pointer-events: none; }
.segmented span { display: block; padding: 5px 14px; font: 600 12.5px var(--sans); color: var(--muted); cursor: pointer; }
.segmented label + label span { border-left: 1px solid #cfd5de; }
.segmented input:checked + span { background: var(--accent); color: #fff; }
.segmented input:focus-visible + span { outline: 2px solid var(--accent); outline-offset: -2px; }

/* Status */
.pill {
  display: inline-block; padding: 2px 10px; border-radius: 999px; font-size: 12px; font-weight: 650;
  background: #e7eaf0; color: var(--muted); white-space: nowrap;
}
.pill-good { background: var(--good-bg); color: var(--good); }
.pill-bad { background: var(--bad-bg); color: var(--bad); }
.pill-warn { background: var(--warn-bg); color: var(--warn); }
.topbar .pill { background: #263045; color: #c8d0de; }
.topbar .pill-good { background: #174d31; color: #b9f0cf; }
.topbar .pill-bad { background: #5c1d18; color: #ffc9c2; }
.tag { font: 600 11.5px var(--mono); padding: 1px 7px; border-radius: 5px; background: #eef0f4; color: var(--muted); white-space: nowrap; }
.tag-good { background: var(--good-bg); color: var(--good); }
.tag-bad { background: var(--bad-bg); color: var(--bad); }
.tag-warn { background: var(--warn-bg); color: var(--warn); }

.msg, .result { margin-top: 10px; padding: 9px 11px; border-radius: 8px; border: 1px solid var(--line); background: var(--soft); overflow-wrap: anywhere; }
.msg-good { border-color: #b7e0c6; background: #f3fbf6; }
.msg-bad { border-color: #f3c1bb; background: #fff7f6; }
.msg-error { border-color: #f3c1bb; background: var(--bad-bg); color: var(--bad); font-weight: 600; }
.msg-muted { color: var(--muted); }
.msg p, .result p { margin: 3px 0; }
.result-head { display: flex; align-items: center; gap: 8px; flex-wrap: wrap; }
.result .row { margin-top: 6px; }
.reason { white-space: pre-wrap; overflow-wrap: anywhere; }

/* Inspect */
.inspect { margin-top: 12px; }
.inspect-status { display: flex; align-items: center; gap: 10px; flex-wrap: wrap; padding-bottom: 10px; border-bottom: 1px solid var(--line); margin-bottom: 10px; }
.inspect-grid { display: grid; gap: 14px; grid-template-columns: minmax(200px, 1fr) minmax(260px, 1.5fr) minmax(260px, 1.3fr); }
.code {
  margin: 0; padding: 9px 11px; background: #0f1522; color: #dbe4f5; border-radius: 8px;
  font-size: 12.5px; line-height: 1.5; overflow: auto; max-height: 260px; white-space: pre-wrap; overflow-wrap: anywhere;
}
.times { margin: 0; display: grid; grid-template-columns: auto 1fr; gap: 4px 12px; font-size: 13px; }
.times dt { color: var(--muted); }
.times dd { margin: 0; }
.times .time { font-family: var(--mono); font-size: 12.5px; }

/* Tables */
.table-wrap { overflow-x: auto; }
table.data { width: 100%; border-collapse: collapse; font-size: 13px; }
table.data th { text-align: left; font-size: 11.5px; text-transform: uppercase; letter-spacing: .05em; color: var(--muted); font-weight: 650; padding: 6px 8px; border-bottom: 1px solid var(--line); }
table.data td { padding: 6px 8px; border-bottom: 1px solid #eef1f5; vertical-align: top; }
table.data tbody tr:hover td { background: #fafbfc; }
table.data td.empty { color: var(--muted); text-align: center; padding: 14px; }
table.data td.actions { text-align: right; white-space: nowrap; }
table.data td.actions button + button { margin-left: 6px; }
table.data td.none { color: #a0a8b6; }
table.data td.jti code, table.data td.target code { font-size: 12px; }
table.data td.jti code { white-space: nowrap; }
#health-card h3 { margin-top: 10px; }
table.compact td, table.compact th { padding: 4px 6px; }
.num { text-align: right; font-variant-numeric: tabular-nums; }
table.data th.num { text-align: right; }
.reason-code { font-family: var(--mono); font-size: 12px; }
.error-type { display: block; font-size: 11px; color: var(--muted); }
.pager { display: flex; align-items: center; justify-content: space-between; margin-top: 8px; }

@media (max-width: 980px) {
  .grid.two { grid-template-columns: 1fr; }
  .inspect-grid { grid-template-columns: 1fr; }
}
@media (max-width: 640px) {
  .topbar { padding: 10px 14px; }
  .token-form { width: 100%; }
  .token-form input { width: auto; flex: 1; min-width: 0; }
  main { padding: 12px 12px 8px; }
  .token-state { padding: 6px 14px; }
}
"""#
}
