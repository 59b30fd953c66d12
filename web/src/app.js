// adclick's web dashboard: polls the public REST API once a second (reconciliation every 5 s)
// and renders each card; every card shows its own API error and an honest empty state. Text from
// the server is set as textContent, never as HTML.

import { call, query, setToken, token } from './api.js';
import { SOURCES, compact, lineChart, seriesChart } from './charts.js';

const $ = (id) => document.getElementById(id);
const POLL_MS = 1000;
const RECONCILE_EVERY = 5;

const state = {
  ad: '', // chosen by the user; empty: the busiest ad of the live top-K
  autoAd: '',
  filters: { region: '', device: '', ip: '' },
  rangeMinutes: 15,
  pipeline: null,
  windowSeconds: 60,
  tick: 0,
  updates: 0,
};

let charts = null;

// ── small helpers ────────────────────────────────────────────────────────────────────────────
function fmtInt(n) {
  return n == null ? '–' : Number(n).toLocaleString('en-US');
}
function fmtTime(seconds) {
  if (seconds == null) return 'none yet';
  return new Date(seconds * 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z').replace(/Z$/, ' UTC');
}
function fmtSeconds(s) {
  if (s == null) return '–';
  if (Math.abs(s) < 120) return `${s.toFixed(1)} s`;
  if (Math.abs(s) < 7200) return `${(s / 60).toFixed(1)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}
function showError(id, message) {
  const e = $(id);
  e.textContent = message || '';
  e.hidden = !message;
}
function showEmpty(id, message) {
  const e = $(id);
  e.textContent = message || '';
  e.hidden = !message;
}
function fillList(id, rows) {
  const dl = $(id);
  dl.replaceChildren();
  for (const [k, v, cls] of rows) {
    const dt = document.createElement('dt');
    dt.textContent = k;
    const dd = document.createElement('dd');
    dd.textContent = v;
    if (cls) dd.className = cls;
    dl.append(dt, dd);
  }
}
function cell(text, cls) {
  const td = document.createElement('td');
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}
/** An ad id as a button that shows that ad in the series chart. */
function adButton(adId) {
  const td = document.createElement('td');
  const b = document.createElement('button');
  b.type = 'button';
  b.className = 'link';
  b.textContent = adId;
  b.title = `show clicks per window of ad ${adId}`;
  b.addEventListener('click', () => chooseAd(adId));
  td.append(b);
  return td;
}
function banner(message) {
  const b = $('banner');
  b.textContent = message || '';
  b.hidden = !message;
}

// ── pipeline, throughput, watermark ──────────────────────────────────────────────────────────
async function refreshPipeline() {
  const [pipe, health] = await Promise.all([call('/v1/pipeline'), call('/healthz')]);
  if (health.ok) {
    const h = health.body;
    const label = h.status === 'ok' ? (h.ingest_ended ? 'ok · input ended' : 'ok · ingesting') : `${h.status}: ${h.reason || ''}`;
    $('health').textContent = label;
    $('health').dataset.status = h.status;
  } else {
    $('health').textContent = `unreachable: ${health.error}`;
    $('health').dataset.status = 'failed';
  }
  if (!pipe.ok) {
    showError('pipe-error', `/v1/pipeline: ${pipe.error}`);
    if (pipe.status === 401) banner('This server needs its API token (adclick serve --api-token): enter it above.');
    return false;
  }
  banner('');
  showError('pipe-error', '');
  const p = pipe.body;
  state.pipeline = p;
  state.windowSeconds = (p.config && p.config.window_seconds) || 60;
  $('window-label').textContent = state.windowSeconds === 60 ? 'minute' : `${state.windowSeconds}-second window`;
  renderPipeline(p);
  renderWatermark(p);
  return true;
}

function renderPipeline(p) {
  const c = p.counters || {};
  const ck = p.checkpoint;
  const b = p.batch;
  const rows = [
    ['source', p.source || '–'],
    ['state', p.stopping ? 'stopping' : p.ingest_ended ? 'input ended (serving what was ingested)' : p.processing_time == null ? 'no pipeline in this server' : 'ingesting'],
    ['received', fmtInt(c.received)],
    ['counted', fmtInt(c.counted)],
    ['quarantined (bad input)', fmtInt(c.quarantined), c.quarantined > 0 ? 'warn' : ''],
    ['open windows', fmtInt(p.state && p.state.open_windows)],
    ['last checkpoint', ck ? (ck.age_seconds == null ? 'none yet' : `${fmtSeconds(ck.age_seconds)} ago (#${fmtInt(ck.last_sequence)})`) : 'no store (--no-store)'],
  ];
  if (ck && (ck.paused || ck.failed)) rows.push(['store', ck.failed ? `FAILED: ${ck.pause_reason}` : `paused: ${ck.pause_reason}`, 'bad']);
  if (b) rows.push(['batch runs', b.running ? `running (${Math.round((b.current && b.current.progress || 0) * 100)} %)` : `${fmtInt(b.runs_completed)} completed${b.runs_failed ? `, ${b.runs_failed} failed` : ''}`]);
  if (p.source_status) {
    const s = p.source_status;
    rows.push(['kafka', `${s.connected ? 'connected' : 'DISCONNECTED'} · ${s.brokers_up}/${s.brokers_known} brokers · ${s.state}`, s.connected ? '' : 'bad']);
  }
  rows.push(['uptime', fmtSeconds(p.uptime_seconds)]);
  fillList('pipe-list', rows);

  const eps = p.events_per_second;
  $('tp-now').textContent = eps == null ? '–' : compact(eps);
  if (eps != null && p.server_time != null) charts.throughput.push(p.server_time, eps);
  showEmpty('tp-empty', charts.throughput.length < 2 ? 'Collecting samples: this chart starts when the page opens (one point a second).' : '');
}

function renderWatermark(p) {
  const lag = p.watermark_lag_seconds;
  $('wm-lag').textContent = lag == null ? '–' : lag.toFixed(1);
  if (lag != null && p.server_time != null) charts.lag.push(p.server_time, lag);
  const c = p.counters || {};
  const cfg = p.config || {};
  const lateSeen = (p.lateness || []).reduce((n, b) => n + (b.count || 0), 0);
  fillList('wm-list', [
    ['watermark', fmtTime(p.watermark)],
    ['processing time', fmtTime(p.processing_time)],
    ['bound / allowed lateness', `${cfg.watermark_bound_seconds ?? '–'} s / ${cfg.allowed_lateness_seconds ?? '–'} s`],
    ['late events dropped', fmtInt(c.late_dropped), c.late_dropped > 0 ? 'warn' : ''],
    ['late events updated', fmtInt(c.late_updated)],
    ['late arrivals (any delay)', fmtInt(lateSeen)],
    ['duplicates removed', fmtInt(c.duplicates)],
  ]);
  const tbody = $('wm-partitions').tBodies[0];
  tbody.replaceChildren();
  for (const part of p.partitions || []) {
    const tr = document.createElement('tr');
    tr.append(cell(String(part.partition)), cell(fmtTime(part.watermark)), cell(fmtInt(part.events), 'num'),
      cell(part.idle ? 'idle' : part.holds_watermark ? 'holds the watermark' : 'active'));
    tbody.append(tr);
  }
}

// ── top-K ────────────────────────────────────────────────────────────────────────────────────
async function refreshTopK() {
  const [exact, approx] = await Promise.all([
    call(`/v1/ads/top_k${query({ window_minutes: 1, k: 10 })}`),
    call(`/v1/ads/top_k${query({ window_minutes: 1, k: 10, approx: 'true' })}`),
  ]);
  const body = $('topk-exact').tBodies[0];
  if (!exact.ok) {
    showError('topk-error', `/v1/ads/top_k: ${exact.error}`);
  } else {
    showError('topk-error', '');
    const t = exact.body;
    body.replaceChildren();
    t.top_ads.forEach((a, i) => {
      const tr = document.createElement('tr');
      tr.append(cell(String(i + 1), 'num'), adButton(a.ad_id), cell(fmtInt(a.click_count), 'num'));
      body.append(tr);
    });
    $('topk-window').textContent = `${fmtTime(t.window_start)} – ${fmtTime(t.window_end)} · ${t.source}${t.total_clicks != null ? ` · ${fmtInt(t.total_clicks)} clicks in the window` : ''}`;
    showEmpty('topk-empty', t.top_ads.length ? '' : 'No data yet: no clicks in the last minute.');
    if (t.top_ads.length) state.autoAd = t.top_ads[0].ad_id;
    const list = $('ad-suggestions');
    list.replaceChildren(...t.top_ads.map((a) => Object.assign(document.createElement('option'), { value: a.ad_id })));
  }
  const abody = $('topk-approx').tBodies[0];
  if (!approx.ok) {
    abody.replaceChildren();
    $('approx-bound').textContent = '';
    // 503 is the honest "no live answer (yet)"; other statuses are errors.
    if (approx.status === 503) { showError('approx-error', ''); showEmpty('approx-empty', approx.error); }
    else { showEmpty('approx-empty', ''); showError('approx-error', `/v1/ads/top_k?approx=true: ${approx.error}`); }
    return;
  }
  showError('approx-error', '');
  const a = approx.body;
  const ap = a.approximation || {};
  const m = ap.measured_error || {};
  $('approx-bound').textContent = `Count-Min sketch: each estimate is at most ${fmtInt(ap.error_bound)} too high `
    + `(ε = ${ap.epsilon}, δ = ${ap.delta}, N = ${fmtInt(a.total_clicks)}); measured: max ${fmtInt(m.max_abs)}, `
    + `mean ${m.mean_abs == null ? '–' : m.mean_abs.toFixed(2)}, ${m.within_bound ? 'within the bound' : 'OUTSIDE the bound'}`;
  abody.replaceChildren();
  for (const e of a.top_ads) {
    const tr = document.createElement('tr');
    tr.append(adButton(e.ad_id), cell(fmtInt(e.click_count), 'num'), cell(fmtInt(e.exact_count), 'num'),
      cell(e.error ? `+${fmtInt(e.error)}` : '0', e.error > (ap.error_bound || 0) ? 'num bad' : 'num'));
    abody.append(tr);
  }
  showEmpty('approx-empty', a.top_ads.length ? '' : 'No data yet: no clicks in the last minute.');
}

// ── clicks per window of one ad ──────────────────────────────────────────────────────────────
function seriesRange() {
  const p = state.pipeline;
  const w = state.windowSeconds;
  const now = p && p.processing_time != null ? p.processing_time : Date.now() / 1000;
  const to = Math.ceil((now + 1e-3) / w) * w; // through the current (open) window
  return { from: to - state.rangeMinutes * 60, to };
}

async function refreshSeries() {
  const ad = state.ad || state.autoAd;
  const chart = $('series-chart');
  if (!ad) {
    showEmpty('series-empty', 'No data yet: waiting for the first clicks to choose the busiest ad (or enter an ad id).');
    return;
  }
  const { from, to } = seriesRange();
  const f = state.filters;
  const path = `/v1/ads/${encodeURIComponent(ad)}/series${query({ from, to, filter_region: f.region, filter_user_agent: f.device, filter_ip: f.ip })}`;
  const started = performance.now();
  const r = await call(path, { timeoutMs: f.ip ? 30000 : 8000 });
  if (!r.ok) {
    showError('series-error', `${path}: ${r.error}`);
    return;
  }
  showError('series-error', '');
  const s = r.body;
  const points = s.points || [];
  const total = points.reduce((n, p) => n + p.click_count, 0);
  charts.series.setData(points, s.effective_from ?? from, s.effective_to ?? to);
  chart.dataset.ad = s.ad_id;
  chart.dataset.query = path;
  chart.dataset.total = String(s.click_count);
  chart.dataset.points = String(points.length);
  chart.dataset.updates = String(Number(chart.dataset.updates || 0) + 1);
  chart.dataset.ms = String(Math.round(performance.now() - started));
  $('series-total').textContent = fmtInt(s.click_count);
  $('series-total').dataset.value = String(s.click_count);
  const filterText = [f.region && `region ${f.region.toUpperCase()}`, f.device, f.ip && `IP ${f.ip}`].filter(Boolean).join(', ');
  $('series-range').textContent = `clicks of ad ${s.ad_id}${state.ad ? '' : ' (busiest now)'}${filterText ? ` · ${filterText}` : ''} · ${fmtTime(s.effective_from)} – ${fmtTime(s.effective_to)} · ${s.path}`;
  const pv = s.provenance || {};
  const parts = SOURCES.map((x) => [x.label, pv[{ batch: 'batch', 'speed-final': 'speed_final', open: 'open', 'raw-log': 'raw_log' }[x.key]]])
    .filter(([, n]) => n > 0).map(([l, n]) => `${n} ${l}`);
  $('series-notes').textContent = [`windows: ${parts.join(', ') || 'none'}`, ...(s.notes || [])].join(' · ');
  showEmpty('series-empty', total === 0 ? `No clicks of ad ${s.ad_id} in this range${filterText ? ' with these filters' : ''} (yet).` : '');
  const tbody = $('series-table').tBodies[0];
  tbody.replaceChildren();
  for (const p of points.slice().reverse()) {
    const tr = document.createElement('tr');
    tr.dataset.start = String(p.start);
    tr.dataset.source = p.source;
    tr.append(cell(fmtTime(p.start)), cell(fmtInt(p.click_count), 'num'), cell(p.source));
    tbody.append(tr);
  }
}

function chooseAd(ad) {
  state.ad = ad;
  $('ad-input').value = ad;
  refreshSeries();
  $('series-chart').scrollIntoView({ block: 'nearest', behavior: 'smooth' });
}

// ── speed vs batch ───────────────────────────────────────────────────────────────────────────
async function refreshReconciliation() {
  const p = state.pipeline;
  const now = p && p.processing_time != null ? Math.floor(p.processing_time) : Math.floor(Date.now() / 1000);
  const r = await call(`/v1/reconciliation${query({ from: now - 3600, to: now, limit: 5 })}`, { timeoutMs: 20000 });
  if (!r.ok) {
    fillList('rec-list', []);
    $('rec-unexplained').textContent = '–';
    if (r.status === 503) { showError('rec-error', ''); showEmpty('rec-empty', `Nothing to compare yet: ${r.error}`); }
    else { showEmpty('rec-empty', ''); showError('rec-error', `/v1/reconciliation: ${r.error}`); }
    return;
  }
  showError('rec-error', '');
  const rep = r.body;
  const t = rep.totals || {};
  const runs = rep.runs || [];
  if (!runs.length) {
    $('rec-unexplained').textContent = '–';
    showEmpty('rec-empty', 'Batch never ran over the last hour: there is no exact recount to compare the speed layer with yet. '
      + `Speed layer: ${fmtInt(rep.uncovered_speed ?? t.speed)} clicks uncovered.`);
    fillList('rec-list', []);
    return;
  }
  showEmpty('rec-empty', '');
  $('rec-unexplained').textContent = fmtInt(t.unexplained);
  $('rec-unexplained').className = t.unexplained ? 'big bad' : 'big';
  fillList('rec-list', [
    ['speed layer', fmtInt(t.speed)],
    ['batch (exact)', fmtInt(t.batch)],
    ['gap (batch − speed)', fmtInt(t.gap)],
    ['explained: late events', fmtInt(t.late)],
    ['explained: duplicates', fmtInt(t.duplicates)],
    ['explained: after the run', fmtInt(t.after_run)],
    ['unexplained', fmtInt(t.unexplained), t.unexplained ? 'bad' : ''],
    ['batch runs in range', `${runs.length} (${fmtInt(rep.covered_minutes)} minutes covered)`],
    ['not covered by a run', `${fmtInt(rep.uncovered_speed)} speed clicks`],
  ]);
}

async function runBatch() {
  const p = state.pipeline;
  const now = p && p.processing_time != null ? Math.floor(p.processing_time) : Math.floor(Date.now() / 1000);
  const w = state.windowSeconds;
  // Up to the last closed window: the batch layer recounts what the raw log holds.
  const to = Math.floor((p && p.watermark != null ? p.watermark : now) / w) * w;
  $('batch-status').textContent = 'starting…';
  const r = await call('/v1/batch/runs', { method: 'POST', body: { from: to - 3600, to } });
  $('batch-status').textContent = r.ok ? `run ${r.body.id ?? ''} accepted: the comparison updates when it completes` : `not started: ${r.error}`;
  state.tick = RECONCILE_EVERY - 1;
}

// ── the loop ─────────────────────────────────────────────────────────────────────────────────
let busy = false;
async function tick() {
  if (busy) return; // a slow answer: skip this beat rather than pile requests up
  busy = true;
  const started = performance.now();
  try {
    const ok = await refreshPipeline();
    if (ok) {
      const work = [refreshTopK(), refreshSeries()];
      if (state.tick % RECONCILE_EVERY === 0) work.push(refreshReconciliation());
      await Promise.all(work);
    }
    state.tick += 1;
    state.updates += 1;
    document.body.dataset.updates = String(state.updates);
    document.body.dataset.tickMs = String(Math.round(performance.now() - started));
    $('updated').textContent = `updated ${new Date().toLocaleTimeString()} (${document.body.dataset.tickMs} ms)`;
  } catch (e) {
    banner(`The page failed: ${e.message}`);
  } finally {
    busy = false;
  }
}

function wireControls() {
  $('token-input').value = token();
  $('token-form').addEventListener('submit', (e) => {
    e.preventDefault();
    setToken($('token-input').value.trim());
    tick();
  });
  $('token-clear').addEventListener('click', () => { setToken(''); $('token-input').value = ''; tick(); });
  $('series-form').addEventListener('submit', (e) => {
    e.preventDefault();
    state.ad = $('ad-input').value.trim();
    state.filters = { region: $('region-input').value.trim(), device: $('device-input').value, ip: $('ip-input').value.trim() };
    state.rangeMinutes = Number($('range-input').value);
    refreshSeries();
  });
  for (const id of ['device-input', 'range-input']) $(id).addEventListener('change', () => $('series-form').requestSubmit());
  $('batch-run').addEventListener('click', runBatch);
}

function start() {
  charts = {
    series: seriesChart($('series-chart')),
    throughput: lineChart($('tp-chart'), { label: 'events/s', color: '#0f766e' }),
    lag: lineChart($('lag-chart'), { label: 'lag (s)', color: '#b45309' }),
  };
  wireControls();
  tick();
  setInterval(tick, POLL_MS);
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
else start();
