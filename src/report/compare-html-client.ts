import { CHART_KIT } from './chart-kit.js';

/**
 * The browser script of the comparison report (plain ES2017, no modules): reads the chart model
 * from `<script type="application/json" id="portstorm-compare-data">` (built by
 * `compareChartModel` in compare-html.ts), draws one uPlot chart per metric with every run
 * overlaid on one relative time axis (seconds since each run's start), cursor-synced, each run's
 * exhaustion onset as a vertical line in its colour, and sets
 * `window.__portstormCompare = { charts, markers, ready: true }`.
 *
 * Kept as a string so `renderCompareHtml` can inline it; it must not contain a closing script tag.
 */
export const COMPARE_CLIENT_SCRIPT = String.raw`
(function () {
  'use strict';
  var model = JSON.parse(document.getElementById('portstorm-compare-data').textContent);
  var runs = Array.isArray(model.runs) ? model.runs : [];
  var xs = Array.isArray(model.x) ? model.x : [];
  var defs = Array.isArray(model.charts) ? model.charts : [];
  var charts = [];
  var SYNC_KEY = 'portstorm-compare';

  // ---- values -------------------------------------------------------------------------------
${CHART_KIT}

  // ---- markers: each run's exhaustion onset, in the run's colour --------------------------------
  var markers = [];
  runs.forEach(function (r, i) {
    var t = num(r.onsetS);
    if (t !== null) markers.push({ id: 'onset-' + i, run: i, label: 'onset · ' + r.label, t: t, color: r.color });
  });
  // Chronological, so the label rows step down from left to right.
  markers.sort(function (a, b) { return a.t - b.t || a.run - b.run; });
  var markerStrip = markerStripFor(markers);

  // ---- series and axes ----------------------------------------------------------------------------
  function runSeries(r, unit) {
    return {
      label: r.label,
      stroke: r.color,
      width: r.role === 'baseline' ? 2.5 : 2,
      spanGaps: false,
      points: { size: 6, filter: isolatedPoints },
      value: function (u, v) { return v === null || v === undefined ? '–' : fmt(v) + (unit || ''); },
    };
  }
  var X_INCRS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 28800, 86400];
  var AXIS_SIZE = 60, AXIS_LABEL = 22;
  function axisNum(v) { return v === null ? '' : (Math.abs(v) >= 10000 ? (v / 1000) + 'k' : String(+v.toPrecision(6))); }
  function isPow10(v) { var l = Math.log10(v); return Math.abs(l - Math.round(l)) < 1e-9; }
  function yAxis(label, log, unit) {
    var a = { label: label, labelSize: AXIS_LABEL, stroke: '#444', grid: { stroke: '#eee' }, size: AXIS_SIZE, scale: 'y', side: 3,
      values: function (u, vals) { return vals.map(function (v) { return v === null ? '' : axisNum(v) + (unit || ''); }); } };
    if (log) {
      // Grid lines and ticks on powers of ten only: the 2..9 steps make a log grid hard to read.
      var only10 = function (u, splits) { return splits.map(function (v) { return v > 0 && isPow10(v) ? v : null; }); };
      a.grid.filter = only10;
      a.ticks = { filter: only10 };
      a.filter = only10;
    }
    return a;
  }
  function maxOf(data) {
    var m = null;
    data.forEach(function (arr) { arr.forEach(function (v) { if (v !== null && (m === null || v > m)) m = v; }); });
    return m;
  }

  var container = document.getElementById('charts');
  /** Plot height plus the marker tag strip, so markers never shrink the plot. */
  var CHART_H = 240 + markerStrip;
  function chartWidth() { return Math.max(320, Math.min(container.clientWidth, 1400) - 4); }

  function makeChart(def) {
    var data = runs.map(function (r, i) {
      var arr = Array.isArray(def.data) && Array.isArray(def.data[i]) ? def.data[i] : [];
      return xs.map(function (_, j) { var v = num(arr[j]); return def.log && v !== null && v <= 0 ? null : v; });
    });
    var anyData = data.some(hasData);
    var log = !!def.log && anyData;
    var box = document.createElement('section');
    box.className = 'chart';
    box.id = 'chart-' + def.id;
    var h = document.createElement('h3');
    h.textContent = def.title + (def.log ? (anyData ? ' (log scale)' : '') : '');
    box.appendChild(h);
    var missing = runs.filter(function (r, i) { return !hasData(data[i]); }).map(function (r) { return r.label; });
    if (missing.length) {
      var note = document.createElement('p');
      note.className = 'chart-note';
      note.textContent = 'No data for ' + missing.join(', ') + (def.missingNote ? ' (' + def.missingNote + ')' : '') + '.';
      box.appendChild(note);
    }
    container.appendChild(box);
    var top = maxOf(data);
    var yScale;
    if (log) yScale = { distr: 3, log: 10 };
    else if (def.pct) yScale = { range: [0, Math.max(100, top === null ? 100 : top * 1.05)] };
    else yScale = { range: function (u, min, max) { return [0, Math.max(1, max === null ? 1 : max * 1.08)]; } };
    var opts = {
      width: chartWidth(),
      height: CHART_H,
      cursor: { sync: { key: SYNC_KEY, setSeries: false }, drag: { x: true, y: false } },
      scales: { x: { time: false }, y: yScale },
      padding: [markerStrip ? markerStrip + 8 : null, null, null, null],
      axes: [
        { label: 'seconds since each run\u2019s start', labelSize: 20, stroke: '#444', grid: { stroke: '#eee' }, incrs: X_INCRS },
        yAxis(def.axis, log, def.pct ? ' %' : ''),
      ],
      series: [{ label: 't (s)', value: function (u, v) { return v === null || v === undefined ? '–' : v + ' s'; } }]
        .concat(runs.map(function (r) { return runSeries(r, def.unit); })),
      legend: { live: true },
      plugins: [markersPlugin(markers, markerStrip, function (m) { return m.label + ' · ' + fmt(m.t, 1) + ' s'; })],
    };
    var u = new uPlot(opts, [xs].concat(data), box);
    u.root.setAttribute('data-chart', def.id);
    if (def.host) u.root.setAttribute('data-host', def.host);
    charts.push(u);
    return u;
  }

  defs.forEach(makeChart);

  // ---- layout -----------------------------------------------------------------------------------
  followWindowWidth(charts, chartWidth, CHART_H);

  // ---- marker legend (including onsets outside the time axis) ------------------------------------
  if (markers.length) {
    var p = document.createElement('p');
    p.id = 'marker-legend';
    var x0 = xs.length ? xs[0] : 0, x1 = xs.length ? xs[xs.length - 1] : 0;
    p.textContent = 'Exhaustion onset: ' + markers.map(function (m) {
      return runs[m.run].label + ' at ' + fmt(m.t, 1) + ' s' + (m.t < x0 || m.t > x1 ? ' (outside the timeline, not drawn)' : '');
    }).join(' · ');
    container.insertBefore(p, container.firstChild);
  }

  window.__portstormCompare = { charts: charts, markers: markers, ready: true };
  document.documentElement.setAttribute('data-ready', 'true');
})();
`;
