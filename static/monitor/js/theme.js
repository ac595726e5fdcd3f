// Applies the saved theme before the page paints (loaded in <head>).
(function () {
  "use strict";
  try {
    var saved = localStorage.getItem("cw-theme");
    if (saved === "light" || saved === "dark") {
      document.documentElement.setAttribute("data-theme", saved);
    }
  } catch (e) { /* storage disabled: follow the system theme */ }
})();
