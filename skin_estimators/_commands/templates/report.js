// Filter the photos by flag and class and order them by probability, on the page itself.
(function () {
  "use strict";
  var filters = Array.prototype.slice.call(document.querySelectorAll("select.filter"));
  var sort = document.getElementById("sort");
  var total = document.querySelector(".shown-total");
  function apply() {
    var wanted = filters.map(function (s) { return [s.getAttribute("data-key"), s.value]; });
    var order = sort ? sort.value : "";
    var filtering = wanted.some(function (w) { return w[1] !== ""; });
    var shownAll = 0;
    document.querySelectorAll("section.group").forEach(function (section) {
      var list = section.querySelector(".photos");
      var cards = Array.prototype.slice.call(list.querySelectorAll("article.photo"));
      cards.sort(function (a, b) {
        var d = parseFloat(a.getAttribute("data-proba")) - parseFloat(b.getAttribute("data-proba"));
        if (order === "desc") { return -d; }
        if (order === "asc") { return d; }
        return parseInt(a.getAttribute("data-index"), 10) - parseInt(b.getAttribute("data-index"), 10);
      });
      var shown = 0;
      cards.forEach(function (card) {
        list.appendChild(card);
        var ok = wanted.every(function (w) {
          return w[1] === "" || card.getAttribute("data-" + w[0]) === w[1];
        });
        card.hidden = !ok;
        if (ok) { shown += 1; }
      });
      shownAll += shown;
      section.hidden = filtering && shown === 0;
      var counter = section.querySelector(".shown");
      if (counter) { counter.textContent = String(shown); }
    });
    if (total) { total.textContent = filtering ? shownAll + " photos shown" : ""; }
  }
  // A link can carry a filter: report.html#flag=uncertain&class=acne&order=desc.
  function fromHash() {
    var hash = window.location.hash.replace(/^#/, "");
    if (hash.indexOf("=") < 0) { return; }
    hash.split("&").forEach(function (pair) {
      var kv = pair.split("="), key = decodeURIComponent(kv[0]), value = decodeURIComponent(kv[1] || "");
      var select = key === "order" ? sort : document.querySelector('select.filter[data-key="' + key.replace(/[^a-z]/g, "") + '"]');
      if (select && Array.prototype.some.call(select.options, function (o) { return o.value === value; })) {
        select.value = value;
      }
    });
    apply();
  }
  filters.concat(sort ? [sort] : []).forEach(function (s) { s.addEventListener("change", apply); });
  window.addEventListener("hashchange", fromHash);
  fromHash();
  document.documentElement.setAttribute("data-script", "ready");  // the page's script ran
})();
