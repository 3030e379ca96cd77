// df2redis dashboard: polls ./status every second and draws it. Plain browser JavaScript, no
// build step; charts by uPlot (served by df2redis from its npm package as ./uplot.js).
// Nothing secret reaches this page: /status masks URL passwords and never holds the HTTP token.
'use strict';

(function () {
  const WINDOW_SEC = 600; // charts keep the last 10 minutes
  const POLL_MS = 1000;

  // A token given as ?token= was exchanged for a cookie by the server: drop it from the address bar.
  if (new URLSearchParams(location.search).has('token')) history.replaceState(null, '', location.pathname);

  const $ = (id) => document.getElementById(id);
  const fmtInt = (n) => (n === null || n === undefined ? '–' : Number(n).toLocaleString('en-US'));
  const fmtBytes = (n) => {
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let v = Number(n);
    let i = 0;
    while (v >= 1024 && i < units.length - 1) {
      v /= 1024;
      i++;
    }
    return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
  };
  const fmtDuration = (ms) => {
    const s = Math.floor(ms / 1000);
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    return h > 0 ? `${h} h ${m} min` : m > 0 ? `${m} min ${s % 60} s` : `${s} s`;
  };

  function cell(row, text, cls) {
    const td = document.createElement('td');
    td.textContent = text;
    if (cls) td.className = cls;
    row.appendChild(td);
  }

  function fillPairs(tableId, pairs) {
    const body = $(tableId).tBodies[0];
    body.replaceChildren();
    if (pairs.length === 0) {
      const tr = body.insertRow();
      cell(tr, 'none', 'muted');
      return;
    }
    for (const [k, v] of pairs) {
      const tr = body.insertRow();
      cell(tr, k);
      cell(tr, typeof v === 'string' ? v : fmtInt(v), 'num');
    }
  }

  const times = [];
  const series = { ops: [], keys: [], lagRecords: [], lagSec: [] };

  // The second series gets its own scale and right-hand axis when `isSecondScale` (other units).
  function makeChart(el, labels, colors, isSecondScale) {
    return new uPlot(
      {
        width: Math.max(320, el.clientWidth || 560),
        height: 220,
        scales: { x: { time: true } },
        series: [{}].concat(labels.map((label, i) => ({ label, stroke: colors[i], width: 2, scale: isSecondScale && i === 1 ? 'right' : 'y' }))),
        axes: isSecondScale ? [{}, { scale: 'y' }, { scale: 'right', side: 1, grid: { show: false } }] : [{}, {}],
      },
      [[]].concat(labels.map(() => [])),
      el,
    );
  }
  const throughputChart = makeChart($('chart-throughput'), ['records/s', 'snapshot keys/s'], ['#1f77b4', '#2ca02c'], false);
  const lagChart = makeChart($('chart-lag'), ['lag records', 'lag seconds (right axis)'], ['#d62728', '#9467bd'], true);

  function render(s) {
    document.body.dataset.phase = s.phase;
    $('phase').textContent = s.phase;
    $('phase').className = `phase phase-${s.phase}`;
    $('updated').textContent = `updated ${s.at}`;
    const lagRecords = s.flows.reduce((n, f) => n + f.lagRecords, 0);
    const lagMs = s.flows.reduce((n, f) => Math.max(n, f.lagMs), 0);
    const keys = s.flows.reduce((n, f) => n + f.snapshotKeys, 0);
    $('ops-applied').textContent = fmtInt(s.opsApplied);
    $('snapshot-keys').textContent = fmtInt(keys);
    $('ops-per-sec').textContent = fmtInt(s.throughput.opsPerSec);
    $('bytes-per-sec').textContent = `${fmtBytes(s.throughput.bytesPerSec)}/s`;
    $('lag-records').textContent = fmtInt(lagRecords);
    $('lag-ms').textContent = `${fmtInt(lagMs)} ms`;
    $('uptime').textContent = fmtDuration(s.uptimeMs);

    const body = $('flows').tBodies[0];
    body.replaceChildren();
    for (const f of s.flows) {
      const tr = body.insertRow();
      tr.dataset.flow = String(f.id);
      cell(tr, String(f.id), 'flow-id');
      cell(tr, f.phase, 'flow-phase');
      cell(tr, fmtInt(f.lsn), 'num flow-lsn');
      cell(tr, fmtInt(f.receivedLsn), 'num flow-received-lsn');
      cell(tr, fmtInt(f.masterLsn), 'num flow-master-lsn');
      cell(tr, fmtInt(f.lagRecords), 'num flow-lag-records');
      cell(tr, fmtInt(f.lagMs), 'num flow-lag-ms');
      cell(tr, fmtInt(f.snapshotKeys), 'num flow-snapshot-keys');
      cell(tr, fmtBytes(f.snapshotBytes), 'num flow-bytes');
      cell(tr, fmtInt(f.pausedMs), 'num flow-paused');
    }

    const t = s.target;
    fillPairs('target', [
      ['nodes', t.nodes.length],
      ['commands sent', t.nodes.reduce((n, x) => n + x.commandsSent, 0)],
      ['in flight (bytes)', t.nodes.reduce((n, x) => n + x.inflightBytes, 0)],
      ['MOVED', t.moved],
      ['ASK', t.asked],
      ['retried', t.retried],
      ['resent after loss', t.resentAfterLoss],
      ['delivery', s.delivery ?? '–'],
      ['reconnects', s.reconnects ?? 0],
      ['full / partial syncs', `${s.resyncs.full} / ${s.resyncs.partial}`],
      ['resumed from LSN', s.resumedFrom ? s.resumedFrom.join(', ') : '–'],
    ]);
    const errors = {};
    for (const node of t.nodes) for (const [p, n] of Object.entries(node.errorReplies)) errors[p] = (errors[p] || 0) + n;
    fillPairs('errors', Object.entries(errors));
    const tr = [];
    for (const [k, n] of Object.entries(s.dropped)) tr.push([`dropped ${k}`, n]);
    for (const [k, n] of Object.entries(s.lossy)) tr.push([`lossy ${k}`, n]);
    for (const [k, n] of Object.entries(s.repaired)) tr.push([`repaired ${k}`, n]);
    for (const [k, n] of Object.entries(s.skipped)) if (n > 0) tr.push([`skipped keys: ${k}`, n]);
    if (s.skippedOtherDbs > 0) tr.push(['skipped: other databases', s.skippedOtherDbs]);
    fillPairs('translations', tr);

    times.push(Date.parse(s.at) / 1000);
    series.ops.push(s.throughput.opsPerSec);
    series.keys.push(s.throughput.keysPerSec);
    series.lagRecords.push(lagRecords);
    series.lagSec.push(lagMs / 1000);
    while (times.length > 0 && times[0] < times[times.length - 1] - WINDOW_SEC) {
      times.shift();
      for (const k of Object.keys(series)) series[k].shift();
    }
    throughputChart.setData([times, series.ops, series.keys]);
    lagChart.setData([times, series.lagRecords, series.lagSec]);
  }

  async function poll() {
    try {
      const r = await fetch('status', { cache: 'no-store' });
      if (!r.ok) throw new Error(`HTTP ${r.status}`);
      render(await r.json());
      $('conn').textContent = '';
    } catch (err) {
      $('conn').textContent = `not reachable: ${err.message}`;
    }
    setTimeout(poll, POLL_MS);
  }
  poll();
})();
