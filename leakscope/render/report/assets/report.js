/* leakscope report: draw the charts from the page's JSON data with Apache ECharts, and make
 * tables sortable. The data is made by leakscope.render.report.sections; every chart kind
 * ("lines", "bars", "treemap", "path") has one function below that turns it into ECharts
 * options. Text from the target reaches ECharts as plain text (labels) or escaped (tooltips). */
(function () {
  "use strict";

  var RED = "#b3261e";
  var UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];
  var esc = echarts.format.encodeHTML;

  function fmtBytes(n) {
    if (n === null || n === undefined) return "-";
    var v = Math.abs(n), i = 0;
    while (v >= 1024 && i < UNITS.length - 1) { v /= 1024; i++; }
    return (n < 0 ? "-" : "") + (i ? v.toFixed(1) : v.toFixed(0)) + " " + UNITS[i];
  }

  function fmtCount(n) {
    return n === null || n === undefined ? "-" : Number(n).toLocaleString("en-US");
  }

  function fmtObjects(n) {
    return n === null || n === undefined ? "-" : fmtCount(n) + (Math.abs(n) === 1 ? " object" : " objects");
  }

  function linesOption(spec) {
    var bytes = spec.unit === "bytes";
    var selected = {};
    var series = spec.series.map(function (s) {
      selected[s.name] = s.shown;
      return {
        name: s.name,
        type: "line",
        showSymbol: false,
        emphasis: { focus: "series" },
        data: spec.t.map(function (t, i) { return [t, s.data[i]]; })
      };
    });
    if (spec.compact) {
      return {
        animation: false,
        grid: { left: 4, right: 8, top: 8, bottom: 4, containLabel: true },
        tooltip: { trigger: "axis", valueFormatter: fmtObjects },
        xAxis: { type: "time", axisLabel: { show: false }, axisTick: { show: false } },
        yAxis: { type: "value", scale: true, splitNumber: 2, axisLabel: { formatter: fmtCount } },
        series: series.map(function (s) {
          s.color = RED; s.areaStyle = { opacity: 0.12 }; return s;
        })
      };
    }
    return {
      animation: false,
      legend: {
        type: "scroll", top: 0, left: 0, right: 0, selected: selected,
        selector: [{ type: "all", title: "all" }, { type: "inverse", title: "invert" }]
      },
      grid: { left: 12, right: 24, top: 56, bottom: 48, containLabel: true },
      tooltip: { trigger: "axis", order: "valueDesc", valueFormatter: bytes ? fmtBytes : fmtObjects },
      xAxis: { type: "time" },
      yAxis: {
        type: "value", name: bytes ? "bytes" : "live objects", scale: !bytes,
        axisLabel: { formatter: bytes ? fmtBytes : fmtCount }
      },
      dataZoom: [{ type: "inside" }, { type: "slider", height: 16, bottom: 6 }],
      series: series
    };
  }

  function barsOption(spec) {
    var bytes = spec.unit === "bytes";
    var fmt = bytes ? fmtBytes : fmtObjects;
    return {
      animation: false,
      grid: { left: 8, right: 90, top: 8, bottom: 28, containLabel: true },
      tooltip: {
        trigger: "item",
        formatter: function (p) {
          var row = spec.rows[p.dataIndex];
          return esc(row.name) + "<br>" + esc(fmt(row.value)) + ", " + esc(fmtObjects(row.count));
        }
      },
      xAxis: {
        type: "value", name: bytes ? "" : "objects", nameLocation: "middle", nameGap: 24,
        axisLabel: { formatter: bytes ? fmtBytes : fmtCount }
      },
      yAxis: {
        type: "category", inverse: true,
        data: spec.rows.map(function (r) { return r.name; }),
        axisLabel: { width: 300, overflow: "truncate" }
      },
      series: [{
        type: "bar", color: "#2f5fb3",
        data: spec.rows.map(function (r) { return r.value; }),
        label: { show: true, position: "right", formatter: function (p) { return fmt(p.value); } }
      }]
    };
  }

  function treemapOption(spec) {
    return {
      animation: false,
      tooltip: {
        formatter: function (info) {
          var d = info.data || {};
          return esc(d.name) + " at " + esc(d.id) + "<br>retains " + esc(fmtBytes(d.value)) +
            " in " + esc(fmtObjects(d.count));
        }
      },
      series: [{
        type: "treemap", name: "retained by the top objects", roam: false, nodeClick: "zoomToNode",
        data: spec.tree, leafDepth: 2, top: 28, bottom: 8, left: 4, right: 4,
        breadcrumb: { show: true, top: 0 },
        label: {
          fontSize: 12, lineHeight: 16,
          formatter: function (p) { return p.name + "\n" + fmtBytes(p.value); }
        },
        upperLabel: {
          show: true, height: 20,
          formatter: function (p) { return p.name + "  " + fmtBytes(p.value); }
        },
        levels: [
          { itemStyle: { borderWidth: 0, gapWidth: 3 } },
          { itemStyle: { gapWidth: 1 } },
          { colorSaturation: [0.35, 0.5], itemStyle: { gapWidth: 1, borderColorSaturation: 0.6 } }
        ]
      }]
    };
  }

  function pathOption(spec) {
    // A retention path is a chain: the root, then one node per reference; the tree layout
    // draws it top to bottom, the reference that leads to each node in its label.
    var root = null, parent = null;
    spec.nodes.forEach(function (n, i) {
      var last = i === spec.nodes.length - 1;
      var text = n.via === null ? "root: " + n.name : n.via + (n.weak ? " (weak)" : "") + "  →  " + n.name;
      var item = { name: text + (last ? "   ← holder" : ""), children: [] };
      if (last) item.itemStyle = { color: RED, borderColor: RED };
      if (root === null) root = item; else parent.children.push(item);
      parent = item;
    });
    return {
      animation: false,
      series: [{
        type: "tree", data: [root], orient: "TB", expandAndCollapse: false,
        top: 20, bottom: 24, left: 32, right: "90%", symbolSize: 11,
        lineStyle: { width: 2, color: "#8a96a6" },
        label: { position: "right", verticalAlign: "middle", align: "left", distance: 10,
          fontFamily: "monospace", fontSize: 13 },
        leaves: { label: { position: "right", verticalAlign: "middle", align: "left" } }
      }]
    };
  }

  var OPTIONS = { lines: linesOption, bars: barsOption, treemap: treemapOption, path: pathOption };
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var drawn = [];

  document.querySelectorAll("[data-chart]").forEach(function (el) {
    var spec = data.charts[el.getAttribute("data-chart")];
    try {
      var chart = echarts.init(el, null, { renderer: "svg" });
      chart.setOption(OPTIONS[spec.kind](spec));
      drawn.push(chart);
      el.setAttribute("data-drawn", "yes");
    } catch (err) {
      el.textContent = "This chart could not be drawn: " + err;
      console.error("leakscope report: chart " + el.id + ": " + err);
    }
  });

  window.addEventListener("resize", function () {
    drawn.forEach(function (chart) { chart.resize(); });
  });

  // Sortable tables: numbers biggest first, text A to Z; a second click reverses.
  function sortValue(td, numeric) {
    var v = td.getAttribute("data-v");
    if (!numeric) return v;
    var n = parseFloat(v);
    return isNaN(n) ? -Infinity : n;
  }

  function sortBy(th) {
    var row = th.parentNode;
    var index = Array.prototype.indexOf.call(row.children, th);
    var numeric = th.getAttribute("data-type") === "num";
    var now = th.getAttribute("aria-sort");
    var dir = now ? (now === "ascending" ? "descending" : "ascending") : (numeric ? "descending" : "ascending");
    var tbody = th.closest("table").tBodies[0];
    var rows = Array.prototype.slice.call(tbody.rows);
    rows.sort(function (a, b) {
      var x = sortValue(a.cells[index], numeric), y = sortValue(b.cells[index], numeric);
      var c = numeric ? (x < y ? -1 : x > y ? 1 : 0) : String(x).localeCompare(String(y));
      return dir === "ascending" ? c : -c;
    });
    rows.forEach(function (r) { tbody.appendChild(r); });
    Array.prototype.forEach.call(row.children, function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", dir);
  }

  document.querySelectorAll("table.sortable thead th").forEach(function (th) {
    th.addEventListener("click", function () { sortBy(th); });
    th.addEventListener("keydown", function (e) {
      if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sortBy(th); }
    });
  });
})();
