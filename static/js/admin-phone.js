// Labels each cell of the admin's change lists and tabular inlines with its column's
// title, for the phone layout of static/css/admin-phone.css (a row becomes a card).
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("#result_list, .inline-group .tabular table").forEach(function (table) {
    var titles = [];
    table.querySelectorAll("thead th").forEach(function (th) {
      var span = parseInt(th.getAttribute("colspan") || "1", 10);
      var text = (th.querySelector(".text") || th).textContent.trim();
      for (var i = 0; i < span; i++) titles.push(text);
    });
    table.querySelectorAll("tbody tr").forEach(function (row) {
      var column = 0;
      Array.prototype.forEach.call(row.children, function (cell) {
        var title = titles[column];
        if (title && !cell.hasAttribute("data-label")) cell.setAttribute("data-label", title);
        column += parseInt(cell.getAttribute("colspan") || "1", 10);
      });
    });
  });
});
