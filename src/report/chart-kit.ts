/**
 * Browser helpers shared by the run report and the comparison report (plain ES2017, inlined into
 * each page's script): number formatting, gap handling, exhaustion markers, isolated points.
 * The page cannot import vocab/format.ts, so `num` is inlined from its compiled source (one
 * definition; test/unit/report-render.test.ts checks the page's figures agree with it).
 */
import { num as formatNum } from '../vocab/format.js';

/** The shared browser helpers, as script text. */
export const CHART_KIT = String.raw`
  function num(v) { return typeof v === 'number' && isFinite(v) ? v : null; }
  /* vocab/format.ts num(), its compiled source inlined: the page groups thousands as every report does. */
  var groupedInt = ${formatNum.toString()};
  function hasData(arr) { for (var i = 0; i < arr.length; i++) if (arr[i] !== null) return true; return false; }
  function fmt(v, digits) {
    if (v === null || v === undefined) return '–';
    if (Math.abs(v) >= 1000) return groupedInt(v);
    if (Math.abs(v) >= 100) return v.toFixed(0);
    if (Math.abs(v) >= 10) return v.toFixed(digits === undefined ? 1 : Math.min(digits, 1));
    return v.toFixed(digits === undefined ? 2 : digits);
  }
  var LABEL_H = 16, LABEL_GAP = 3;
  /** Space above the plot for marker tags: one row per marker. */
  function markerStripFor(markers) { return markers.length ? markers.length * (LABEL_H + LABEL_GAP) + 4 : 0; }

  /** Dashed vertical lines, each with a tag in a strip of strip px above the plot (one row per
   * marker, so tags never overlap the data or each other). Records the ids it drew in data-markers. */
  function markersPlugin(markers, strip, tagText) {
    return {
      hooks: {
        draw: [function (u) {
          var ctx = u.ctx, px = uPlot.pxRatio || 1, bb = u.bbox, drawn = [];
          var xmin = u.scales.x.min, xmax = u.scales.x.max;
          ctx.save();
          ctx.font = (11 * px) + 'px system-ui, sans-serif';
          ctx.textBaseline = 'middle';
          ctx.textAlign = 'left';
          markers.forEach(function (m, row) {
            if (xmin === null || xmax === null || m.t < xmin || m.t > xmax) return;
            var x = Math.round(u.valToPos(m.t, 'x', true)) + 0.5;
            var h = LABEL_H * px, text = tagText(m);
            // Labels are user text: cap the tag so a long one cannot cover the chart.
            if (text.length > 60) text = text.slice(0, 57) + '…';
            var w = ctx.measureText(text).width + 8 * px;
            var y = bb.top - strip * px + 2 * px + row * (LABEL_H + LABEL_GAP) * px;
            ctx.strokeStyle = m.color;
            ctx.lineWidth = 1.5 * px;
            ctx.setLineDash([5 * px, 4 * px]);
            ctx.beginPath();
            ctx.moveTo(x, y + h);
            ctx.lineTo(x, bb.top + bb.height);
            ctx.stroke();
            ctx.setLineDash([]);
            // The tag starts at the line; near the right edge it ends there instead.
            var lx = x;
            if (lx + w > bb.left + bb.width) lx = Math.max(bb.left, x - w);
            ctx.fillStyle = '#fff';
            ctx.fillRect(lx, y, w, h);
            ctx.strokeStyle = m.color;
            ctx.lineWidth = 1 * px;
            ctx.strokeRect(lx, y, w, h);
            ctx.fillStyle = m.color;
            ctx.fillText(text, lx + 4 * px, y + h / 2);
            drawn.push(m.id);
          });
          ctx.restore();
          u.root.setAttribute('data-markers', drawn.join(' '));
        }],
      },
    };
  }

  /** Points for values that have no neighbour (a line cannot show them). */
  function isolatedPoints(u, si, show) {
    if (show) return null;
    var d = u.data[si], out = [];
    for (var i = 0; i < d.length; i++) {
      if (d[i] !== null && (i === 0 || d[i - 1] === null) && (i === d.length - 1 || d[i + 1] === null)) out.push(i);
    }
    return out.length ? out : null;
  }
  /**
   * Legend markers drawn as a sample of each series' line: its width (up to 8 px) and solid or
   * dashed, so a wide band and a dashed line in one colour family read apart in the legend too.
   */
  function lineMarkers(u) {
    var rows = u.root.querySelectorAll('.u-legend .u-series');
    for (var i = 1; i < u.series.length && i < rows.length; i++) {
      var s = u.series[i], m = rows[i].querySelector('.u-marker');
      if (!m) continue;
      var stroke = typeof s.stroke === 'function' ? s.stroke(u, i) : s.stroke;
      var w = Math.max(2, Math.min(8, s.width || 2));
      m.style.border = 'none';
      m.style.background = 'none';
      m.style.width = '22px';
      m.style.height = '0';
      m.style.verticalAlign = 'middle';
      m.style.borderTop = w + 'px ' + (s.dash && s.dash.length ? 'dashed' : 'solid') + ' ' + stroke;
    }
  }
  /** Keeps the charts as wide as their container when the window is resized. */
  function followWindowWidth(charts, width, height) {
    var resizeTimer = null;
    window.addEventListener('resize', function () {
      clearTimeout(resizeTimer);
      resizeTimer = setTimeout(function () {
        var w = width();
        charts.forEach(function (u) { u.setSize({ width: w, height: height }); });
      }, 100);
    });
  }
`;
