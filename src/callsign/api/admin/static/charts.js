// The health pages' charts: each <figure class="chart" data-chart="{spec}"> is drawn with
// uPlot (uPlot.iife.min.js, loaded before this file). The spec comes from the server
// (api/admin/charts.py): x is days (or categories) by index, labelled as the server says.
// No inline script or style: the data travel in the attribute; uPlot styles by the DOM.
(function () {
  const figures = document.querySelectorAll("figure.chart[data-chart]");
  if (!figures.length || typeof uPlot === "undefined") return;
  const HEIGHT = 200;
  const suffix = {"%": "%", n: "", state: ""};

  function ticks(labels) {
    const step = Math.max(1, Math.ceil(labels.length / 10));
    const found = [];
    for (let i = labels.length - 1; i >= 0; i -= step) found.unshift(i);
    return found;
  }

  function scaleOf(key, spec) {
    if (key === "%") return {range: [0, 100]};
    if (key === "state") return {range: [-0.5, spec.levels.length - 0.5]};
    return {range: (u, min, max) => [0, Math.max(max || 0, 1) * 1.1]};
  }

  function pathsOf(style) {
    if (style === "bars") return uPlot.paths.bars({size: [0.6, 48], align: 0});
    if (style === "steps") return uPlot.paths.stepped({align: 1});
    return undefined;  // uPlot's own lines
  }

  function seriesOf(s, index) {
    const bars = s.style === "bars";
    return {
      label: s.label, scale: s.scale, stroke: s.color, width: bars ? 0 : 2,
      fill: bars ? s.color + (index === 0 ? "99" : "") : undefined,
      paths: pathsOf(s.style), spanGaps: false,
      points: {show: s.style === "line", size: 5, fill: s.color},
      value: (u, v) => v == null ? "–" : v + (suffix[s.scale] || ""),
    };
  }

  function axesOf(spec) {
    const labels = spec.labels;
    const scales = [...new Set(spec.series.map((s) => s.scale))];
    const long = labels.some((label) => label.length > 6);  // rule names: slanted
    const axes = [{
      splits: () => spec.kind === "categories" ? labels.map((_, i) => i) : ticks(labels),
      values: (u, splits) => splits.map((v) => labels[v] || ""),
      grid: {show: false},
      rotate: long ? -30 : 0, size: long ? 110 : 30,
    }];
    scales.forEach((key, i) => axes.push({
      scale: key, side: i === 0 ? 3 : 1, grid: {show: i === 0},
      splits: key === "state" ? () => spec.levels.map((_, level) => level) : undefined,
      values: key === "state" ? (u, splits) => splits.map((level) => spec.levels[level] || "")
        : (u, splits) => splits.map((v) => v + suffix[key]),
      size: key === "state" ? 70 : 50,
    }));
    return {axes, scales};
  }

  function draw(figure) {
    const spec = JSON.parse(figure.dataset.chart);
    const target = figure.querySelector(".plot");
    const {axes, scales} = axesOf(spec);
    // Steps run from day starts (0 to n); bars and points sit on their day (-0.5 to n - 0.5).
    const span = spec.kind === "states" ? [0, spec.labels.length]
      : [-0.5, spec.labels.length - 0.5];
    const scaleOptions = {x: {time: false, range: span}};
    for (const key of scales) scaleOptions[key] = scaleOf(key, spec);
    const slanted = spec.labels.some((label) => label.length > 6);
    const height = slanted ? HEIGHT + 90 : HEIGHT;
    const options = {
      width: Math.max(target.clientWidth, 300), height,
      padding: [12, slanted ? 48 : 12, null, null],
      scales: scaleOptions, axes,
      series: [{label: spec.x_label || "Day",
                value: (u, v) => v == null ? "–" : (spec.labels[Math.floor(v)] || "")},
               ...spec.series.map(seriesOf)],
      cursor: {drag: {x: false, y: false}},
    };
    const data = [spec.x, ...spec.series.map((s) => s.values)];
    const plot = new uPlot(options, data, target);
    figure.dataset.drawn = String(plot.series.length - 1);
    return {plot, target, height};
  }

  const started = performance.now();
  const drawn = [...figures].map(draw);
  document.body.dataset.chartsMs = (performance.now() - started).toFixed(1);
  let pending = null;
  window.addEventListener("resize", () => {
    clearTimeout(pending);
    pending = setTimeout(() => {
      for (const {plot, target, height} of drawn) {
        plot.setSize({width: Math.max(target.clientWidth, 300), height});
      }
    }, 100);
  });
})();
