import { CHART_KIT } from './chart-kit.js';

/**
 * The browser script of the HTML report (plain ES2017, no modules): reads the record from
 * `<script type="application/json" id="portstorm-data">`, builds the uPlot charts on one shared,
 * cursor-synced time axis, draws the exhaustion markers and sets
 * `window.__portstorm = { charts, ready: true }`.
 *
 * Kept as a string so `renderHtml` can inline it; it must not contain a closing script tag.
 */
export const HTML_CLIENT_SCRIPT = String.raw`
(function () {
  'use strict';
  var rec = JSON.parse(document.getElementById('portstorm-data').textContent);
  var tl = Array.isArray(rec.timeline) ? rec.timeline : [];
  var xs = tl.map(function (e) { return e.t; });
  var charts = [];
  var SYNC_KEY = 'portstorm-' + String(rec.runId);

  // ---- values -------------------------------------------------------------------------------
${CHART_KIT}
  /** A latency value for a log scale: absent, zero or negative is a gap. */
  function pos(v) { v = num(v); return v !== null && v > 0 ? v : null; }
  function sock(e, k) { return e.sockets ? num(e.sockets[k]) : null; }

  // ---- markers (exhaustion timing) ------------------------------------------------------------
  var ex = rec.exhaustion || null;
  var markers = [];
  if (ex) {
    if (num(ex.earlyWarningAtS) !== null) markers.push({ id: 'early-warning', label: 'early warning', t: ex.earlyWarningAtS, color: '#b35c00' });
    if (num(ex.predictedAtS) !== null) markers.push({ id: 'predicted', label: 'predicted', t: ex.predictedAtS, color: '#5f3dc4' });
    if (num(ex.firstAtS) !== null) markers.push({ id: 'onset', label: 'onset', t: ex.firstAtS, color: '#c92a2a' });
  }
  var labTopo = rec.lab && rec.lab.topology && typeof rec.lab.topology === 'object' ? rec.lab.topology : null;
  var labPrediction = labTopo && labTopo.prediction && typeof labTopo.prediction === 'object' ? labTopo.prediction : null;
  if (labPrediction && num(labPrediction.predictedAtS) !== null) {
    markers.push({ id: 'lab-predicted', label: 'model: ' + String(labPrediction.host), t: labPrediction.predictedAtS, color: '#5f3dc4' });
  }
  if (markers.length > 1) {
    // Chronological, so the label rows step down from left to right.
    markers.sort(function (a, b) { return a.t - b.t; });
  }
  var markerStrip = markerStripFor(markers);
  /** The most severe problem verdict: its host's socket chart is outlined in its severity's colour. */
  var hot = null;
  (Array.isArray(rec.diagnosis) ? rec.diagnosis : []).some(function (v) {
    if (v && v.severity !== 'info' && v.verdict !== 'healthy') { hot = { host: typeof v.host === 'string' ? v.host : 'client', verdict: String(v.verdict), severity: String(v.severity) }; return true; }
    return false;
  });

  // ---- series helpers ---------------------------------------------------------------------------
  function series(label, color, opts) {
    opts = opts || {};
    var s = {
      label: label,
      stroke: color,
      width: opts.width || 2,
      scale: opts.scale || 'y',
      spanGaps: false,
      points: { size: 6, filter: isolatedPoints },
      value: function (u, v) { return v === null || v === undefined ? '–' : fmt(v) + (opts.unit || ''); },
    };
    if (opts.dash) s.dash = opts.dash;
    if (opts.fill) s.fill = opts.fill;
    return s;
  }

  var BAND_W = 7, TW_BAND = '#74c0fc', FAILED_BAND = '#ffa8a8', GAP_FILL = 'rgba(134,142,150,0.16)';
  var container = document.getElementById('charts');
  /** Plot height plus the marker label strip, so markers never shrink the plot. */
  var CHART_H = 280 + markerStrip;
  function chartWidth() { return Math.max(320, Math.min(container.clientWidth, 1400) - 4); }

  function makeChart(id, title, def) {
    var box = document.createElement('section');
    box.className = 'chart';
    box.id = 'chart-' + id;
    var h = document.createElement('h3');
    h.textContent = title;
    box.appendChild(h);
    if (def.host && hot && multiHost && hot.host === def.host && /^sockets/.test(id)) {
      box.className += ' hot sev-' + hot.severity;
      box.setAttribute('data-verdict', hot.verdict);
      var tag = document.createElement('p');
      tag.className = 'chart-verdict';
      var badge = document.createElement('span');
      badge.className = 'badge sev-' + hot.severity;
      badge.textContent = hot.severity;
      tag.appendChild(badge);
      tag.appendChild(document.createTextNode(' ' + hot.verdict + ' on this host'));
      box.appendChild(tag);
    }
    var note = def.note ? document.createElement('p') : null;
    if (note) { note.className = 'chart-note'; note.textContent = def.note; box.appendChild(note); }
    if (def.legendNote) {
      var ln = document.createElement('p');
      ln.className = 'chart-legend-note';
      ln.textContent = def.legendNote;
      box.appendChild(ln);
    }
    container.appendChild(box);
    var opts = {
      width: chartWidth(),
      height: CHART_H,
      cursor: { sync: { key: SYNC_KEY, setSeries: false }, drag: { x: true, y: false } },
      scales: Object.assign({ x: { time: false } }, def.scales || {}),
      padding: [markerStrip ? markerStrip + 8 : null, null, null, null],
      axes: [{ label: 'run time (s)', labelSize: 20, stroke: '#444', grid: { stroke: '#eee' }, incrs: X_INCRS }]
        .concat(def.axes)
        // A blank right axis where a chart has none, so every plot area lines up under the others.
        .concat(def.axes.length < 2 ? [{ side: 1, scale: def.axes[0].scale, size: AXIS_SIZE, labelSize: AXIS_LABEL, label: '', grid: { show: false }, ticks: { show: false }, values: function (u, vals) { return vals.map(function () { return ''; }); } }] : []),
      series: [{ label: 't (s)', value: function (u, v) { return v === null || v === undefined ? '–' : v + ' s'; } }].concat(def.series),
      legend: { live: true },
      plugins: [markersPlugin(markers, markerStrip, function (m) { return m.label + ' ' + fmt(m.t, 1) + ' s'; })].concat(def.plugins || []),
    };
    var u = new uPlot(opts, [xs].concat(def.data), box);
    u.root.setAttribute('data-chart', id);
    if (def.host) u.root.setAttribute('data-host', def.host);
    lineMarkers(u);
    charts.push(u);
    return u;
  }
  var X_INCRS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 28800, 86400];
  var AXIS_SIZE = 60, AXIS_LABEL = 22;
  function axis(label, scale, side, fmtFn) {
    var a = { label: label, labelSize: AXIS_LABEL, stroke: '#444', grid: { stroke: '#eee', show: side !== 1 }, size: AXIS_SIZE };
    if (scale) a.scale = scale;
    if (side !== undefined) a.side = side;
    if (fmtFn) a.values = function (u, vals) { return vals.map(fmtFn); };
    return a;
  }
  function isPow10(v) { var l = Math.log10(v); return Math.abs(l - Math.round(l)) < 1e-9; }
  /** Grid lines and ticks on powers of ten only: the 2..9 steps make a log grid hard to read. */
  function logAxis(a) {
    var only10 = function (u, splits) { return splits.map(function (v) { return v > 0 && isPow10(v) ? v : null; }); };
    a.grid.filter = only10;
    a.ticks = { filter: only10 };
    a.filter = only10;
    return a;
  }
  function axisNum(v) { return v === null ? '' : (Math.abs(v) >= 10000 ? (v / 1000) + 'k' : String(+v.toPrecision(6))); }

  // ---- a. request rate and errors by code -----------------------------------------------------
  var codes = {};
  tl.forEach(function (e) { Object.keys(e.errors || {}).forEach(function (c) { codes[c] = true; }); });
  var codeList = Object.keys(codes).sort();
  var codeColors = ['#9c36b5', '#1864ab', '#087f5b', '#5c940d', '#862e9c', '#364fc7', '#a61e4d', '#495057'];
  // failed/s is the sum of the codes: with one code it is that code's line exactly, so it is drawn
  // first as a wide pale band and each code's dashed line runs on it (both stay visible).
  var reqSeries = [
    series('completed/s', '#2b8a3e'),
    series('failed/s', FAILED_BAND, { width: BAND_W }),
    series('dropped/s', '#f08c00', { dash: [2, 3] }),
  ];
  var reqData = [
    tl.map(function (e) { return num(e.completed); }),
    tl.map(function (e) { return num(e.failed); }),
    tl.map(function (e) { return num(e.dropped); }),
  ];
  codeList.forEach(function (c, i) {
    reqSeries.push(series(c + '/s', codeColors[i % codeColors.length], { dash: [8, 4], width: 2 }));
    reqData.push(tl.map(function (e) { return num((e.errors || {})[c]) === null ? 0 : e.errors[c]; }));
  });
  // HTTPS runs: handshakes completed per second, beside the requests they carried.
  var handshakes = tl.map(function (e) { return num(e.tlsHandshakes); });
  if (hasData(handshakes)) {
    reqSeries.push(series('TLS handshakes/s', '#0b7285', { width: 1.5, dash: [3, 3] }));
    reqData.push(handshakes);
  }
  makeChart('requests', 'Requests per second and errors by code', {
    legendNote: codeList.length ? 'failed/s is the wide pale band; each error code\u2019s dashed line runs on it (with one code they coincide).' : null,
    series: reqSeries,
    data: reqData,
    scales: { y: { range: function (u, min, max) { return [0, Math.max(1, max === null ? 1 : max * 1.08)]; } } },
    axes: [axis('per second', 'y', 3, axisNum)],
  });

  // ---- b. latency percentiles -------------------------------------------------------------------
  var latData = [
    tl.map(function (e) { return e.latencyMs ? pos(e.latencyMs.p50) : null; }),
    tl.map(function (e) { return e.latencyMs ? pos(e.latencyMs.p90) : null; }),
    tl.map(function (e) { return e.latencyMs ? pos(e.latencyMs.p99) : null; }),
    tl.map(function (e) { return e.latencyMs ? pos(e.latencyMs.max) : null; }),
    tl.map(function (e) { return e.connectMs ? pos(e.connectMs.p50) : null; }),
    tl.map(function (e) { return e.connectMs ? pos(e.connectMs.p99) : null; }),
  ];
  var latSeries = [
    series('p50', '#1c7ed6', { unit: ' ms' }),
    series('p90', '#7048e8', { unit: ' ms' }),
    series('p99', '#d6336c', { unit: ' ms' }),
    series('max', '#868e96', { unit: ' ms', width: 1.5 }),
    series('connect p50', '#0ca678', { unit: ' ms', dash: [6, 3], width: 1.5 }),
    series('connect p99', '#e8590c', { unit: ' ms', dash: [6, 3], width: 1.5 }),
  ];
  // HTTPS: the handshake's p50 and p99; dns: per-connection: the lookup's p99. Only where the run has them.
  [
    ['handshake p50', '#0b7285', [2, 3], function (e) { return e.tlsMs ? pos(e.tlsMs.p50) : null; }],
    ['handshake p99', '#5c940d', [2, 3], function (e) { return e.tlsMs ? pos(e.tlsMs.p99) : null; }],
    ['lookup p99', '#a61e4d', [1, 3], function (e) { return e.dnsMs ? pos(e.dnsMs.p99) : null; }],
  ].forEach(function (d) {
    var values = tl.map(d[3]);
    if (!hasData(values)) return;
    latSeries.push(series(d[0], d[1], { unit: ' ms', dash: d[2], width: 2 }));
    latData.push(values);
  });
  var anyLat = latData.some(hasData);
  makeChart('latency', 'Latency (ms, ' + (anyLat ? 'log scale' : 'no completed requests') + ')', {
    series: latSeries,
    data: latData,
    scales: anyLat ? { y: { distr: 3, log: 10 } } : { y: { range: [0, 1] } },
    axes: [anyLat ? logAxis(axis('ms', 'y', 3, axisNum)) : axis('ms', 'y', 3, axisNum)],
  });

  // ---- c. sockets and port utilization, one chart per host ---------------------------------------
  // Every host's chart shares the run's time axis (xs) and cursor; a second a host was not seen is
  // null (a gap, shaded), never a zero. The client's figures are the record's top-level timeline.
  var hostMap = rec.hosts && typeof rec.hosts === 'object' ? rec.hosts : {};
  var hostNames = Object.keys(hostMap).filter(function (n) { return n !== 'client' && hostMap[n] && typeof hostMap[n] === 'object'; });
  var multiHost = hostNames.length > 0;
  var monitorOff = rec.monitor && rec.monitor.enabled === false;

  /** Shades the seconds in which the host was not seen (drawn under the series). */
  function gapsPlugin(seen) {
    return {
      hooks: {
        drawClear: [function (u) {
          var ctx = u.ctx, bb = u.bbox, shaded = [];
          ctx.save();
          ctx.fillStyle = GAP_FILL;
          for (var i = 0; i < seen.length; i++) {
            if (seen[i]) continue;
            var x0 = Math.max(bb.left, u.valToPos(xs[i] - 0.5, 'x', true));
            var x1 = Math.min(bb.left + bb.width, u.valToPos(xs[i] + 0.5, 'x', true));
            if (x1 > x0) ctx.fillRect(x0, bb.top, x1 - x0, bb.height);
            shaded.push(xs[i]);
          }
          ctx.restore();
          u.root.setAttribute('data-gaps', shaded.join(' '));
        }],
      },
    };
  }

  /**
   * One host's socket chart. entries[i] is the host's second at xs[i] (undefined or with null
   * sockets where it was not seen); own: the client's figures toward the run's own destinations.
   */
  function socketsChart(id, title, host, entries, usable, note) {
    var ownFigures = entries.some(function (e) { return e && sock(e, 'ownInUse') !== null; });
    var col = function (k) { return entries.map(function (e) { return e ? sock(e, k) : null; }); };
    // TIME_WAIT is first, a wide pale band; ports in use (equal to it once every port waits) is the
    // solid line on it; utilization (on the usable-ports line at 100 %) is dashed on top of both.
    var sockData = ownFigures
      ? [col('ownTimeWait'), col('ownInUse'), col('ownServerTimeWait'), col('timeWait')]
      : [col('timeWait'), col('ephemeralInUse'), col('serverTimeWait')];
    var sockSeries = ownFigures ? [
      series('TIME_WAIT toward the target', TW_BAND, { width: BAND_W }),
      series('ports in use toward the target', '#2f9e44', { width: 2.5 }),
      series('TIME_WAIT on the target side', '#ae3ec9', { width: 1.5 }),
      series('TIME_WAIT, whole host', '#868e96', { dash: [4, 4], width: 1 }),
    ] : [
      series(multiHost ? 'TIME_WAIT (client and server side)' : 'TIME_WAIT', TW_BAND, { width: BAND_W }),
      series('ephemeral ports in use', '#2f9e44', { width: 2.5 }),
      series('server TIME_WAIT', '#ae3ec9', { width: 1.5 }),
    ];
    if (usable !== null) {
      sockSeries.push(series('usable ports', '#c92a2a', { dash: [8, 6], width: 1.5 }));
      sockData.push(entries.map(function () { return usable; }));
    }
    sockSeries.push(series('utilization', '#e67700', { scale: 'pct', unit: ' %', width: 1.5, dash: [2, 6], fill: 'rgba(240,140,0,0.10)' }));
    sockData.push(entries.map(function (e) { var v = e ? sock(e, 'utilization') : null; return v === null ? null : +(v * 100).toFixed(2); }));
    var sockMax = 0;
    sockData.forEach(function (arr, i) {
      if (sockSeries[i].scale === 'pct') return;
      arr.forEach(function (v) { if (v !== null && v > sockMax) sockMax = v; });
    });
    var sockTop = Math.max(10, sockMax * 1.08);
    var seen = entries.map(function (e) { return !!(e && e.sockets); });
    var anySockets = seen.some(function (x) { return x; });
    return makeChart(id, title, {
      host: host,
      note: anySockets ? null : note,
      legendNote: anySockets ? 'TIME_WAIT is the wide pale band, ports in use the solid green line on it, utilization the dotted orange line over the shaded area' + (usable !== null ? ' (100 % lies on the usable-ports line)' : '') + (seen.some(function (x) { return !x; }) ? '; shaded seconds: the host was not seen (no data, not zero).' : '.') : null,
      series: sockSeries,
      data: sockData,
      plugins: anySockets ? [gapsPlugin(seen)] : [],
      scales: {
        y: { range: [0, sockTop] },
        // With a known port budget, 100 % sits exactly on the usable-ports line.
        pct: { range: [0, usable !== null && usable > 0 ? (sockTop / usable) * 100 : 100] },
      },
      axes: [axis('sockets', 'y', 3, axisNum), axis('utilization %', 'pct', 1, function (v) { return v === null ? '' : v + ' %'; })],
    });
  }

  var clientUsable = rec.ports && num(rec.ports.usable) !== null ? rec.ports.usable : (rec.host ? num(rec.host.usablePorts) : null);
  var clientOwn = tl.some(function (e) { return sock(e, 'ownInUse') !== null; });
  var clientTitle = clientOwn ? 'Sockets and port utilization toward the target' : 'Sockets and port utilization';
  // A merged record's top-level seconds are the fleet's: sockets summed, utilization the highest shard's.
  var clientLabel = rec.shards ? 'all shards (sockets summed, utilization the highest shard\'s): ' : 'client (client): ';
  socketsChart('sockets', multiHost ? clientLabel + clientTitle : clientTitle, 'client', tl, clientUsable,
    monitorOff ? 'The monitor was off for this run: there is no socket data.' : 'No socket source worked during this run: there is no socket data.');
  hostNames.forEach(function (name) {
    var h = hostMap[name];
    var byT = {};
    (Array.isArray(h.timeline) ? h.timeline : []).forEach(function (e) { if (e && num(e.t) !== null) byT[e.t] = e; });
    var usable = h.ports && num(h.ports.usable) !== null ? h.ports.usable : (h.host ? num(h.host.usablePorts) : null);
    socketsChart('sockets-' + name, name + ' (' + String(h.role) + '): Sockets and port utilization', name,
      xs.map(function (t) { return byT[t]; }), usable, 'The host was never seen during this run: there is no socket data.');
  });

  // ---- d. CPU (cores), where the monitor measured it ----------------------------------------------
  var cpuProcess = tl.map(function (e) { return e.cpu ? num(e.cpu.process) : null; });
  var cpuHost = tl.map(function (e) { return e.cpu ? num(e.cpu.host) : null; });
  if (tl.some(function (e) { return e.cpu !== undefined && e.cpu !== null; })) {
    var cpus = rec.host ? num(rec.host.cpus) : null;
    var cpuSeries = [
      series('portstorm process', '#1864ab', { unit: ' cores' }),
      series('whole host', '#868e96', { unit: ' cores', width: 1.5 }),
    ];
    var cpuData = [cpuProcess, cpuHost];
    if (cpus !== null && cpus > 0) {
      cpuSeries.push(series('host CPUs', '#c92a2a', { unit: ' cores', dash: [10, 4], width: 1.5 }));
      cpuData.push(tl.map(function () { return cpus; }));
    }
    var cpuTop = Math.max(1, cpus || 0);
    cpuData.forEach(function (arr) { arr.forEach(function (v) { if (v !== null && v > cpuTop) cpuTop = v; }); });
    makeChart('cpu', 'CPU in use (cores)', {
      note: hasData(cpuProcess) || hasData(cpuHost) ? null : 'The monitor could not read the CPU during this run.',
      series: cpuSeries,
      data: cpuData,
      scales: { y: { range: [0, cpuTop * 1.08] } },
      axes: [axis('cores', 'y', 3, axisNum)],
    });
  }

  // ---- layout -----------------------------------------------------------------------------------
  followWindowWidth(charts, chartWidth, CHART_H);

  // ---- marker legend (including markers outside the run's time range) ------------------------------
  if (markers.length) {
    var p = document.createElement('p');
    p.id = 'marker-legend';
    var x0 = xs.length ? xs[0] : 0, x1 = xs.length ? xs[xs.length - 1] : 0;
    p.textContent = 'Markers: ' + markers.map(function (m) {
      return m.label + ' at ' + fmt(m.t, 1) + ' s' + (m.t < x0 || m.t > x1 ? ' (outside the timeline, not drawn)' : '');
    }).join(' · ');
    container.insertBefore(p, container.firstChild);
  }

  window.__portstorm = { charts: charts, markers: markers, hosts: ['client'].concat(hostNames), ready: true };
  document.documentElement.setAttribute('data-ready', 'true');
})();
`;
