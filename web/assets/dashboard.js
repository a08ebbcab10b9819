/*
 * The dashboard's progressive enhancement (no build step; served as is):
 * draws the family timeline with vis-timeline from the JSON the page
 * carries, redraws it after a live update (htmx swaps #live when the
 * server-sent event "changed" arrives), keeps the zoom the user chose, and
 * tells screen readers the page was updated. Item texts are set as text,
 * never as HTML.
 */
(function () {
  'use strict';
  var timeline;
  var keptWindow;

  function textNode(text) {
    var span = document.createElement('span');
    span.textContent = text;
    return span;
  }

  function drawTimeline() {
    var el = document.getElementById('timeline-chart');
    var dataEl = document.getElementById('timeline-data');
    if (!el || !dataEl || !window.vis) return;
    var data = JSON.parse(dataEl.textContent);
    var groups = new vis.DataSet(['planned', 'happened', 'handoffs'].map(function (id, order) {
      return { id: id, content: textNode(data.groups[id]), order: order };
    }));
    var items = new vis.DataSet(data.items.map(function (item) {
      var copy = { id: item.id, group: item.group, start: item.start, type: item.type, className: 'tl-' + item.className, content: textNode(item.content) };
      if (item.end) copy.end = item.end;
      return copy;
    }));
    timeline = new vis.Timeline(el, items, groups, {
      start: keptWindow ? keptWindow.start : data.window.start,
      end: keptWindow ? keptWindow.end : data.window.end,
      min: data.span.start,
      max: data.span.end,
      zoomMin: 14 * 86400000,
      stack: true,
      orientation: 'top',
      selectable: false,
      showCurrentTime: false,
      xss: { disabled: false },
    });
    timeline.addCustomTime(data.today, 'today');
  }

  document.addEventListener('DOMContentLoaded', drawTimeline);
  document.addEventListener('htmx:beforeSwap', function (event) {
    if (event.target && event.target.id === 'live' && timeline) {
      keptWindow = timeline.getWindow();
      timeline.destroy();
      timeline = undefined;
    }
  });
  document.addEventListener('htmx:afterSettle', function (event) {
    if (!event.target || event.target.id !== 'live') return;
    drawTimeline();
    var status = document.getElementById('live-status');
    if (status) status.textContent = document.documentElement.lang === 'nb' ? 'Siden ble oppdatert ' + new Date().toLocaleTimeString('nb-NO') : 'The page was updated at ' + new Date().toLocaleTimeString('en-GB');
    document.body.setAttribute('data-live-updates', String(Number(document.body.getAttribute('data-live-updates') || 0) + 1));
  });
})();
